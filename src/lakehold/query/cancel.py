"""Stopping a running statement: by request (:meth:`CancelHandle.cancel`) or by timeout.

A statement's connection is interrupted with ``DuckDBPyConnection.interrupt()``. DuckDB
forgets an interrupt that arrives between two queries, so one watchdog thread (shared by
all statements) repeats the interrupt every 50 ms until the statement lets go of its
connection; it also fires timeouts.
"""

from __future__ import annotations

import contextlib
import threading
import time

import duckdb

from lakehold.errors import Cancelled, LakeholdError, Timeout

CANCELLED = "cancelled"
TIMED_OUT = "timeout"
TIMED_OUT_MESSAGE = "the statement ran longer than its timeout"
"""How a timed-out statement's error begins (its record keeps the message, not the code)."""
_REPEAT_S = 0.05


class CancelHandle:
    """Cancels one statement. Thread-safe; :meth:`cancel` may come before the statement runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._reason: str | None = None
        self._deadline: float | None = None
        self._timeout_s: float | None = None

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._reason == CANCELLED

    @property
    def reason(self) -> str | None:
        """``"cancelled"``, ``"timeout"`` or None while the statement may go on."""
        return self._reason

    def cancel(self) -> bool:
        """Ask the statement to stop; False if it had already been stopped."""
        if not self._stop(CANCELLED):
            return False
        _watchdog.wake()
        return True

    def attach(self, connection: duckdb.DuckDBPyConnection, timeout_s: float | None) -> None:
        """The statement runs on ``connection`` from now on, for at most ``timeout_s``."""
        with self._lock:
            self._connection = connection
            self._timeout_s = timeout_s
            self._deadline = time.monotonic() + timeout_s if timeout_s else None
            deadline = self._deadline
        _watchdog.add(self, deadline)

    def detach(self) -> None:
        """The statement no longer uses its connection (call before closing it)."""
        _watchdog.remove(self)
        with self._lock:
            self._connection = None

    def check(self) -> None:
        """Raise Cancelled or Timeout if the statement was stopped."""
        if self._reason is not None:
            raise self.error()

    def error(self) -> LakeholdError:
        """The error that reports why the statement stopped."""
        if self._reason == TIMED_OUT:
            return Timeout(f"{TIMED_OUT_MESSAGE} of {self._timeout_s:g} s")
        return Cancelled("the statement was cancelled")

    def _stop(self, reason: str) -> bool:
        with self._lock:
            if self._reason is not None:
                return False
            self._reason = reason
            self._interrupt_locked()
            return True

    def _tick(self, now: float) -> float | None:
        """Fire the timeout or repeat the interrupt; when to tick next (None: nothing to do)."""
        with self._lock:
            if self._connection is None:
                return None
            if self._reason is None and self._deadline is not None and now >= self._deadline:
                self._reason = TIMED_OUT
            if self._reason is not None:
                self._interrupt_locked()
                return now + _REPEAT_S
            return self._deadline

    def _interrupt_locked(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(duckdb.Error):
                self._connection.interrupt()


class _Watchdog:
    """One daemon thread that ticks every attached handle when it is due.

    It is woken only when it has to act sooner than it planned: a statement attached with a
    deadline after the thread's next tick (the usual case) costs no wake-up."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._handles: set[CancelHandle] = set()
        self._thread: threading.Thread | None = None
        self._dirty = False
        self._next: float | None = None
        """When the thread ticks next, if nothing wakes it (None: only when woken)."""

    def add(self, handle: CancelHandle, deadline: float | None) -> None:
        with self._cond:
            self._handles.add(handle)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lakehold-watchdog")
                self._thread.daemon = True
                self._thread.start()
            elif deadline is None or (self._next is not None and self._next <= deadline):
                return  # the planned tick comes first (or there is no deadline to watch)
            self._dirty = True
            self._cond.notify()

    def remove(self, handle: CancelHandle) -> None:
        with self._cond:
            self._handles.discard(handle)

    def wake(self) -> None:
        with self._cond:
            self._dirty = True
            self._cond.notify()

    def _run(self) -> None:
        wait: float | None = None
        while True:
            with self._cond:
                if not self._dirty:
                    self._next = time.monotonic() + wait if wait is not None else None
                    self._cond.wait(timeout=wait)
                self._dirty = False
                self._next = None  # ticking now: an attach meanwhile wakes it again
                handles = list(self._handles)
            now = time.monotonic()
            due = [t for t in (h._tick(now) for h in handles) if t is not None]
            wait = max(min(due) - time.monotonic(), 0.001) if due else None


_watchdog = _Watchdog()
