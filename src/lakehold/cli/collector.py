"""The garbage collector of a ``lakehold`` process (ADR 26): tuned for a short command.

A command creates a few hundred thousand long-lived objects while it imports its modules and
builds its application (SQLAlchemy's models, FastAPI's routes, sqlglot's dialects). CPython's
collector, tuned for long-running programs, traverses them again and again as they accumulate,
then once more while the interpreter exits: about 0.7 s of CPU of ``lakehold sql "select 1"``
in process. So a command makes full collections rare (young cycles are still collected), and
what exists when the command has run is frozen (:func:`gc.freeze`): the collections of the
interpreter's exit skip it. Freed memory and finalizers are unchanged but for garbage in cycles
at exit, which the operating system reclaims. A serving command (``serve``, ``demo``) takes
the default thresholds back before it serves.
"""

from __future__ import annotations

import gc

COMMAND_THRESHOLDS = (700, 10, 1000)
"""The young and middle generations collected as by default; a full collection once in 1,000
collections of the middle one (default 10): it is the one that traverses every object."""

_DEFAULT_THRESHOLDS = gc.get_threshold()


def for_a_command() -> None:
    """Collect as suits a command that ends in seconds."""
    gc.set_threshold(*COMMAND_THRESHOLDS)


def for_a_server() -> None:
    """Collect as CPython does by default: this process keeps serving."""
    gc.set_threshold(*_DEFAULT_THRESHOLDS)


def at_the_end() -> None:
    """The command has run: leave what exists out of the exit's collections."""
    gc.freeze()
