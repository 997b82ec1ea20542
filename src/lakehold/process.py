"""This process's identity as recorded on work it owns, and whether another owner still lives.

A runner id is ``host/boot/pid/start``: the host name, the machine's boot id, the process id and
the process's start time (clock ticks since boot, from ``/proc``). Records that a process owns
(running statements, table intents) carry it, so a later process can tell a dead owner from a
live one: on the same host and boot, a dead owner is a pid that no longer runs or now belongs to
another process; on another host (or without ``/proc``) only age can tell.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class RunnerId:
    host: str
    boot: str
    pid: int
    start: str

    def __str__(self) -> str:
        return f"{self.host}/{self.boot}/{self.pid}/{self.start}"

    @classmethod
    def parse(cls, text: str | None) -> RunnerId | None:
        parts = (text or "").rsplit("/", 3)
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id")[:8] or "-"


def _start_of(pid: int) -> str:
    """The start time of process ``pid`` (field 22 of ``/proc/<pid>/stat``); '' if unknown."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


@cache
def _host() -> str:
    return socket.gethostname().replace("/", "_") or "-"


def current() -> RunnerId:
    """The id of this process (computed per call: a forked child is a new runner)."""
    pid = os.getpid()
    return RunnerId(_host(), _boot_id(), pid, _start_of(pid) or "-")


def alive(runner: str | None) -> bool | None:
    """True if the process that recorded ``runner`` still runs, False if it is gone, None when
    this host cannot tell (another host, or an unreadable id)."""
    parsed = RunnerId.parse(runner)
    if parsed is None or parsed.host != _host():
        return None
    me = current()
    if parsed.boot != me.boot:
        return False  # the machine restarted since
    if parsed.pid == me.pid:
        return parsed.start == me.start
    try:
        os.kill(parsed.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    start = _start_of(parsed.pid)
    if start and parsed.start != "-" and start != parsed.start:
        return False  # the pid now belongs to another process
    return not _zombie(parsed.pid)


def _zombie(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rsplit(")", 1)[-1].split()
    return bool(fields) and fields[0] in ("Z", "X")


def gone(runner: str | None, age_seconds: float, stale_after_seconds: float) -> bool:
    """Whether work recorded by ``runner`` ``age_seconds`` ago has lost its process: the
    process is known dead, or this host cannot tell and the work is older than
    ``stale_after_seconds``."""
    state = alive(runner)
    if state is None:
        return age_seconds > stale_after_seconds
    return not state
