"""Sandboxes: locked-down DuckDB databases that serve statement after statement.

Starting a DuckDB database costs 12-20 ms of CPU, several times the rest of a statement's
fixed cost; a sandbox is started once and reused. What makes reuse as safe as a database of
its own per statement:

- its default database is an empty DuckDB file opened **read-only**: no statement can create
  a table, view, macro, schema, sequence or type in it (a macro named like a built-in
  function would otherwise change what later statements compute);
- each statement runs on a **new cursor** (DuckDB client context), closed when it ends, so
  whatever lives in a context -- temporary objects, variables, prepared statements -- goes
  with it;
- it is locked before its first statement: ``allowed_directories`` holds one private
  directory (128 random bits, mode 0700) where the running statement's links to its data
  files are made (:mod:`lakehold.query.scan_files`) and removed before the sandbox serves
  again; external access off, extension auto-install/auto-load off, configuration locked
  (``threads``, ``memory_limit``, ``preserve_insertion_order`` are part of the sandbox's key);
- a statement interrupted (timeout, cancel) or failing in an unexpected way closes its
  sandbox instead of returning it.

In the background, a finished statement's links are removed and its sandbox returned to the
idle pool (a thread of normal priority), and a spare is started when a statement left none idle
(a thread of lower priority), so that neither costs the statement's caller; a statement that
finds none idle while one is being returned waits for it rather than starting a database.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lakehold.query import databases

log = logging.getLogger(__name__)

MAX_IDLE = 4
"""Idle sandboxes kept per key; more returned at once are closed."""
MAX_USES = 10_000
"""Statements a sandbox serves before it is closed (and its memory given back)."""
_NICE = 10
RETURN_WAIT_S = 0.05
"""How long a statement waits for a sandbox being returned before it starts one itself."""


@dataclass(frozen=True, slots=True)
class SandboxKey:
    """What a sandbox is locked with: statements share one only when these are equal."""

    root: Path
    """Where its private directory lives (the warehouse's scan root: hard links need it)."""
    threads: int
    memory_limit: str | None = None
    keep_order: bool = True


@dataclass(eq=False)
class Sandbox:
    """A locked database and the one directory it may read."""

    key: SandboxKey
    connection: duckdb.DuckDBPyConnection
    directory: Path
    file: Path
    uses: int = 0
    reusable: bool = field(default=False)
    """Set by the statement that used it when it ended cleanly."""

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.connection.close()
        with contextlib.suppress(OSError):
            self.file.unlink()
        shutil.rmtree(self.directory, ignore_errors=True)


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def open_sandbox(key: SandboxKey) -> Sandbox:
    """Start a sandbox for ``key`` (in the caller's thread)."""
    key.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = key.root / secrets.token_hex(16)  # unrelated to the file's name
    directory.mkdir(mode=0o700)
    file = key.root / f"sandbox-{secrets.token_hex(16)}.duckdb"
    shutil.copyfile(_template(key.root), file)
    file.chmod(0o600)
    settings: dict[str, databases.Setting] = {
        "threads": key.threads,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "python_enable_replacements": False,
        "temp_directory": str(databases.TEMP_ROOT / uuid.uuid4().hex),
    }
    try:
        databases.TEMP_ROOT.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(file), read_only=True, config=settings)
    except BaseException:
        file.unlink(missing_ok=True)
        directory.rmdir()
        raise
    setup = ["SET GLOBAL TimeZone='UTC'"]  # GLOBAL: each statement's cursor starts from it
    if key.memory_limit is not None:
        setup.append(f"SET memory_limit={_string(key.memory_limit)}")
    if not key.keep_order:
        setup.append("SET preserve_insertion_order=false")
    setup += [
        f"SET allowed_directories=[{_string(str(directory) + os.sep)}]",
        "SET enable_external_access=false",
        "SET lock_configuration=true",
    ]
    sandbox = Sandbox(key, connection, directory, file)
    try:
        connection.execute(";\n".join(setup))
        connection.execute("SELECT 1").fetchall()  # DuckDB's first statement is slower
    except BaseException:
        sandbox.close()
        raise
    return sandbox


_TEMPLATE_LOCK = threading.Lock()


def _template(root: Path) -> Path:
    """An empty DuckDB database file to copy (made once per scan root)."""
    template = root / "sandbox-template.duckdb"
    with _TEMPLATE_LOCK:
        if not template.exists():
            staging = root / f".template-{uuid.uuid4().hex}.duckdb"
            duckdb.connect(str(staging)).close()
            staging.chmod(0o600)
            staging.replace(template)
    return template


class _Worker:
    """One background thread running submitted jobs in order, at ``nice`` CPU priority."""

    def __init__(self, name: str, nice: int) -> None:
        self.name = name
        self.nice = nice
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job`` (the caller holds the pool's lock)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def _run(self) -> None:
        if self.nice:
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # pragma: no cover - a worker must keep going
                log.exception("sandbox %s job failed", self.name)

    def stop(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._jobs.put(None)
            thread.join(timeout=10)


class _Pool:
    """Idle sandboxes by key. Returns (a statement's links removed, microseconds) run on a
    thread of normal priority; spares (a new database, 12-20 ms) on one of lower priority.
    A statement that finds none idle while one is being returned waits for it (briefly)
    rather than starting a database inline: back-to-back statements reuse one sandbox even
    on a loaded machine, where the low-priority thread falls behind."""

    def __init__(self) -> None:
        self._idle: dict[SandboxKey, list[Sandbox]] = {}
        self._returning: dict[SandboxKey, int] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._returns = _Worker("lakehold-sandbox-returns", 0)
        self._spares = _Worker("lakehold-sandbox-spares", _NICE)
        self._stopping = False
        atexit.register(self.stop)

    def borrow(self, key: SandboxKey) -> Sandbox:
        with self._lock:
            if not self._idle.get(key) and self._returning.get(key):
                self._changed.wait_for(
                    lambda: bool(self._idle.get(key)) or not self._returning.get(key),
                    timeout=RETURN_WAIT_S,
                )
            idle = self._idle.get(key)
            sandbox = idle.pop() if idle else None
            if not idle and not self._stopping:
                self._spares.submit(lambda: self._spare(key))
        if sandbox is None:
            sandbox = open_sandbox(key)
        sandbox.uses += 1
        sandbox.reusable = False
        return sandbox

    def give_back(self, sandbox: Sandbox, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` (the statement's links), then keep or close ``sandbox``."""
        with self._lock:
            if not self._stopping:
                key = sandbox.key
                self._returning[key] = self._returning.get(key, 0) + 1
                self._returns.submit(lambda: self._return(sandbox, cleanup, returning=True))
                return
        cleanup()
        sandbox.close()

    def _return(self, sandbox: Sandbox, cleanup: Callable[[], None], *, returning: bool) -> None:
        try:
            cleanup()
        finally:
            keep = sandbox.reusable and sandbox.uses < MAX_USES
            with self._lock:
                if returning:
                    self._returning[sandbox.key] -= 1
                idle = self._idle.setdefault(sandbox.key, [])
                kept = keep and len(idle) < MAX_IDLE and not self._stopping
                if kept:  # a spare goes under the returned ones: the warmest serves first
                    idle.insert(len(idle) if returning else 0, sandbox)
                self._changed.notify_all()
            if not kept:
                sandbox.close()

    def _spare(self, key: SandboxKey) -> None:
        with self._lock:
            if self._idle.get(key) or self._stopping:
                return
        try:
            sandbox = open_sandbox(key)
        except (duckdb.Error, OSError):  # the next statement starts one and reports the error
            log.exception("could not start a spare sandbox")
            return
        sandbox.reusable = True
        self._return(sandbox, lambda: None, returning=False)

    def stop(self) -> None:
        """Finish pending returns, then close every idle sandbox (at exit)."""
        with self._lock:
            self._stopping = True
        self._returns.stop()
        self._spares.stop()
        with self._lock:
            idle = [s for pool in self._idle.values() for s in pool]
            self._idle.clear()
        for sandbox in idle:
            sandbox.close()

    def idle(self, key: SandboxKey) -> int:
        with self._lock:
            return len(self._idle.get(key, ()))

    def drain(self) -> None:
        """Wait until both threads have done what was submitted so far (tests)."""
        for worker in (self._returns, self._spares):
            done = threading.Event()
            with self._lock:
                if self._stopping:
                    return
                worker.submit(done.set)
            done.wait(timeout=30)


_pool = _Pool()


def borrow(key: SandboxKey) -> Sandbox:
    """A sandbox for ``key`` that no statement is using; give it back with :func:`give_back`."""
    return _pool.borrow(key)


def give_back(sandbox: Sandbox, cleanup: Callable[[], None]) -> None:
    """End a statement's use of ``sandbox``: ``cleanup`` removes what it left in the sandbox's
    directory, then the sandbox is kept for the next statement if it ended cleanly
    (``sandbox.reusable``), else closed -- in the background."""
    _pool.give_back(sandbox, cleanup)


def idle(key: SandboxKey) -> int:
    """Idle sandboxes of ``key`` (tests and benchmarks)."""
    return _pool.idle(key)


def drain() -> None:
    """Wait for the background returns and spares submitted so far (tests and benchmarks)."""
    _pool.drain()
