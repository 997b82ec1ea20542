"""Fresh in-memory DuckDB databases, one per statement, started ahead of time.

Starting a DuckDB database costs ~10-15 ms of CPU (it registers every built-in function)
and closing one ~2 ms, far more than the rest of a statement's overhead. A background
thread keeps a few never-used databases ready and closes used ones, so a statement takes a
database no other statement has touched -- exactly as if it had connected itself -- without
waiting for it. When none is ready, :func:`take` starts one in the caller's thread.

The background thread runs at a lower CPU priority (Linux: per-thread nice) so that it
uses idle cores rather than slowing down running statements. Spares start with one thread
(no DuckDB worker threads are created at low priority); the executor sets the statement's
thread count, which starts the workers in the statement's own thread. Spares also start
with extension auto-install/auto-load off, replacement scans of Python variables off and
the time zone set to UTC; the executor applies the per-statement lockdown.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time

import duckdb

log = logging.getLogger(__name__)

SPARES = 2
_NICE = 10

_CONFIG = {
    "threads": 1,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "python_enable_replacements": False,
}


def default_threads() -> int:
    """The thread count a statement gets when none is asked for: the usable cores."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _start() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:", config=dict(_CONFIG))
    connection.execute("SET TimeZone='UTC'")
    return connection


class _Spares:
    def __init__(self, size: int) -> None:
        self._size = size
        self._ready: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        self._used: queue.SimpleQueue[duckdb.DuckDBPyConnection | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        atexit.register(self.stop)

    def take(self) -> duckdb.DuckDBPyConnection:
        self._ensure_thread()
        try:
            connection = self._ready.get_nowait()
        except queue.Empty:
            connection = _start()
        self._used.put(None)  # wake the thread to start a replacement
        return connection

    def discard(self, connection: duckdb.DuckDBPyConnection) -> None:
        if self._ensure_thread():
            self._used.put(connection)
        else:
            with contextlib.suppress(duckdb.Error):
                connection.close()

    def stop(self) -> None:
        """Stop the thread and close the spares (at exit, DuckDB must not be torn down while
        the thread is starting a database)."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._used.put(None)
            thread.join(timeout=10)
        while True:
            try:
                self._ready.get_nowait().close()
            except queue.Empty:
                break

    def _ensure_thread(self) -> bool:
        if self._thread is not None and self._thread.is_alive():
            return True
        with self._lock:
            if self._stopping:
                return False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lakehold-duckdb-spares")
                self._thread.daemon = True
                self._thread.start()
            return True

    def _run(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)
        while not self._stopping:
            try:
                while self._ready.qsize() < self._size and not self._stopping:
                    self._ready.put(_start())
            except duckdb.Error:  # pragma: no cover - take() starts one and reports the error
                log.exception("could not start a spare DuckDB database")
                time.sleep(1.0)
            connection = self._used.get()
            if connection is not None:
                with contextlib.suppress(duckdb.Error):
                    connection.close()


_spares = _Spares(SPARES)


def take() -> duckdb.DuckDBPyConnection:
    """A database no statement has used; the caller owns it until :func:`discard`."""
    return _spares.take()


def discard(connection: duckdb.DuckDBPyConnection) -> None:
    """Close a used database (in the background)."""
    _spares.discard(connection)
