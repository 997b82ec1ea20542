"""When the record of a synchronous statement is written: once, at its end, unless it runs long.

A statement record and the audit of its admission cost a metadata commit, and its final state
another. A synchronous statement that ends within :data:`RECORD_AFTER_S` is recorded once, in
its final state, together with the audit of the decision, before its rows reach the caller: no
row leaves without an audit event, and one commit is saved. One that runs longer is recorded
STARTED by a timer (so that it can be listed and cancelled from elsewhere, and the reconciler
ends it if the process dies), then updated at its end, as an asynchronous statement is.

A process that dies within :data:`RECORD_AFTER_S` of a statement's start leaves no record of a
statement that returned nothing.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

RECORD_AFTER_S = 0.5
"""How long a synchronous statement runs before its record is written ahead of its end."""


class DeferredRecord:
    """Writes a running statement's record (``write``) if it is still running after
    ``after_s``; :meth:`finish` tells the caller whether it did."""

    def __init__(self, write: Callable[[], object], after_s: float = RECORD_AFTER_S) -> None:
        context = contextvars.copy_context()  # the request's id, for the audit event
        self._write = lambda: context.run(write)
        self._lock = threading.Lock()
        self._written = False
        self._finished = False
        self._timer = _timers.schedule(time.monotonic() + after_s, self._early)

    def _early(self) -> None:
        with self._lock:  # finish() waits for a write in progress
            if self._finished:
                return
            try:
                self._write()
            except Exception:  # the statement's end writes the whole record instead
                log.exception("could not record a running statement")
            else:
                self._written = True

    def finish(self) -> bool:
        """True if the record was written (the caller updates it), False if not (the caller
        writes it whole, in its final state); the timer, if still pending, then does nothing."""
        with self._lock:
            self._finished = True
            written = self._written
        _timers.cancel(self._timer)
        return written


_Timer = list[Any]
"""``[when, sequence, function]`` in the heap of :class:`_Timers`; ``function`` None: cancelled."""


class _Timers:
    """One daemon thread that calls each scheduled function at its time (a thread per
    statement would cost more than the rest of its record). A cancelled timer does not wake
    the thread: it sleeps until the earliest timer still pending (one wake-up per statement
    would take the interpreter's lock from the requests being served, 200 times a second)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: list[_Timer] = []
        self._count = itertools.count()
        self._thread: threading.Thread | None = None
        self._wake_at: float | None = None
        """When the thread wakes up next (None: when notified)."""

    def schedule(self, at: float, function: Callable[[], None]) -> _Timer:
        timer: _Timer = [at, next(self._count), function]
        with self._cond:
            heapq.heappush(self._due, timer)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="lakehold-statement-records", daemon=True
                )
                self._thread.start()
            elif self._wake_at is None or at < self._wake_at:  # earlier than it sleeps
                self._cond.notify()
        return timer

    def cancel(self, timer: _Timer) -> None:
        """Do not call ``timer``'s function (if it has not been called yet)."""
        with self._cond:
            timer[2] = None
            self._drop_cancelled()

    def _drop_cancelled(self) -> None:
        while self._due and self._due[0][2] is None:
            heapq.heappop(self._due)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    self._drop_cancelled()
                    if self._due and self._due[0][0] <= time.monotonic():
                        break
                    self._wake_at = self._due[0][0] if self._due else None
                    self._cond.wait(
                        None if self._wake_at is None else self._wake_at - time.monotonic()
                    )
                _, _, function = heapq.heappop(self._due)
            function()


_timers = _Timers()
