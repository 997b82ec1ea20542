"""Fresh in-memory DuckDB databases, one per statement, started ahead of time.

Starting a DuckDB database costs ~10-15 ms of CPU (it registers every built-in function)
and closing one ~2 ms, far more than the rest of a statement's overhead. Background threads
keep a few never-used databases ready and close used ones, so a statement takes a database
no other statement has touched -- exactly as if it had connected itself -- without waiting
for it. When none is ready, :func:`take` launches one that is started but not yet launched,
or else starts one in the caller's thread.

Two threads share the work:

- the *starter* runs at a lower CPU priority (Linux: per-thread nice), so that starting and
  closing databases uses idle cores rather than slowing down running statements; it starts
  each database with a single thread;
- the *launcher* runs at normal priority and gives each started database its worker
  threads (``SET threads``), which therefore do not inherit the lower priority, and runs a
  first ``SELECT 1`` (DuckDB's first statement is slower).

Databases start with extension auto-install/auto-load off, replacement scans of Python
variables off, the time zone set to UTC and a temporary directory of their own (for
spilling, removed by DuckDB on close); the executor applies the per-statement lockdown.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import tempfile
import threading
import time
import uuid
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

SPARES = 2
TEMP_ROOT = Path(tempfile.gettempdir()) / "lakehold-duckdb"
_NICE = 10

Setting = str | bool | int | float | list[str]
"""A DuckDB configuration value (``duckdb.connect(config=...)``)."""

_CONFIG: dict[str, Setting] = {
    "threads": 1,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "python_enable_replacements": False,
}

Connection = duckdb.DuckDBPyConnection


def default_threads() -> int:
    """The threads a statement gets when none are asked for: the usable cores."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _start(**settings: Setting) -> Connection:
    TEMP_ROOT.mkdir(parents=True, exist_ok=True)
    config = {**_CONFIG, **settings, "temp_directory": str(TEMP_ROOT / uuid.uuid4().hex)}
    connection = duckdb.connect(":memory:", config=config)
    connection.execute("SET GLOBAL TimeZone='UTC'")  # also for cursors made from it
    return connection


def _launch(connection: Connection) -> Connection:
    connection.execute(f"SET threads={default_threads()}")
    connection.execute("SELECT 1").fetchall()
    return connection


class _Spares:
    def __init__(self, size: int) -> None:
        self._size = size
        self._started: queue.SimpleQueue[Connection | None] = queue.SimpleQueue()
        self._ready: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._used: queue.SimpleQueue[Connection | None] = queue.SimpleQueue()
        self._pending = 0  # started or ready, not yet taken
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        atexit.register(self.stop)

    def take(self) -> Connection:
        self._ensure_threads()
        try:
            connection = self._ready.get_nowait()
        except queue.Empty:
            connection = self._take_started()
        else:
            with self._lock:
                self._pending -= 1
        self._used.put(None)  # wake the starter to replace it
        return connection

    def _take_started(self) -> Connection:
        """No spare is ready: launch one the starter already started (its start is the
        costly part), or start one here."""
        try:
            started = self._started.get_nowait()
        except queue.Empty:
            return _launch(_start())
        if started is None:  # the stop signal, meant for the launcher
            self._started.put(None)
            return _launch(_start())
        with self._lock:
            self._pending -= 1
        return _launch(started)

    def discard(self, connection: Connection) -> None:
        if self._ensure_threads():
            self._used.put(connection)
        else:
            with contextlib.suppress(duckdb.Error):
                connection.close()

    def stop(self) -> None:
        """Stop the threads and close the spares (at exit, DuckDB must not be torn down
        while a thread is starting a database)."""
        with self._lock:
            self._stopping = True
            threads = list(self._threads)
        self._used.put(None)
        self._started.put(None)
        for thread in threads:
            thread.join(timeout=10)
        for spares in (self._started, self._ready):
            while True:
                try:
                    connection = spares.get_nowait()
                except queue.Empty:
                    break
                if connection is not None:
                    connection.close()

    def _ensure_threads(self) -> bool:
        if self._threads and all(t.is_alive() for t in self._threads):
            return True
        with self._lock:
            if self._stopping:
                return False
            if not self._threads or not all(t.is_alive() for t in self._threads):
                # Started from a statement's thread: the launcher keeps normal priority.
                self._threads = [
                    threading.Thread(target=target, name=name, daemon=True)
                    for target, name in (
                        (self._run_starter, "lakehold-duckdb-starter"),
                        (self._run_launcher, "lakehold-duckdb-launcher"),
                    )
                ]
                for thread in self._threads:
                    thread.start()
            return True

    def _run_starter(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)
        while not self._stopping:
            try:
                while not self._stopping:
                    with self._lock:
                        if self._pending >= self._size:
                            break
                        self._pending += 1
                    try:
                        self._started.put(_start())
                    except BaseException:
                        with self._lock:
                            self._pending -= 1
                        raise
            except duckdb.Error:  # pragma: no cover - take() starts one and reports the error
                log.exception("could not start a spare DuckDB database")
                time.sleep(1.0)
            connection = self._used.get()
            if connection is not None:
                with contextlib.suppress(duckdb.Error):
                    connection.close()

    def _run_launcher(self) -> None:
        while True:
            connection = self._started.get()
            if connection is None or self._stopping:
                if connection is not None:
                    connection.close()
                return
            try:
                self._ready.put(_launch(connection))
            except duckdb.Error:  # pragma: no cover
                log.exception("could not launch a spare DuckDB database")
                with self._lock:
                    self._pending -= 1
                with contextlib.suppress(duckdb.Error):
                    connection.close()


_spares = _Spares(SPARES)


def take() -> Connection:
    """A database no statement has used; the caller owns it until :func:`discard`."""
    return _spares.take()


def take_federated() -> Connection:
    """A new database that may load the scanner extensions (whose signatures
    :mod:`lakehold.connectors.extensions` verified once); started in the caller's thread."""
    return _launch(_start(allow_unsigned_extensions=True))


def discard(connection: Connection) -> None:
    """Close a used database (in the background)."""
    _spares.discard(connection)
