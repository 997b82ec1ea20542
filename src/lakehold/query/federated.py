"""Databases with federated sources attached, kept for the next statement over the same sources.

Attaching sources costs a database start, the scanner's ``LOAD`` and the ``ATTACH`` itself
(connecting and reading the source's catalog): 20-45 ms per statement, far more than the rest
of a statement. A plan that reads federated sources and no data file (its ``allowed_paths``
are empty) therefore runs on a database that attached exactly the same sources, with exactly
the same options, and was locked down exactly as the statement's own would be.

The key of a database is a digest of everything its setup used: each attachment's alias,
kind, attach target (every parameter, the vetted address and the secret: a connection that is
updated or whose secret is rotated gives another key, so its old databases are never taken
again), schema, the timeouts, and the setup statements (threads, memory limit, lockdown). A
deleted connection binds no table any more. Databases idle for :data:`IDLE_S` are closed, as
are the oldest beyond :data:`MAX_IDLE`.

A database keeps nothing of a statement: the views (the grant's columns and row filter) are
CTEs of the statement itself, the sandbox admits reads only, and the configuration (no
external access, no file, locked) was set before its first statement. Only the attached
catalogs and the scanners' connections to the sources stay. :mod:`lakehold.query.execute`
gives a database back only after a statement that succeeded, read its whole result and was
not interrupted; any other database is closed.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import threading
import time
from collections.abc import Iterable

import duckdb

from lakehold.query import databases
from lakehold.query.model import Attachment

IDLE_S = 30.0
MAX_IDLE = 8

Connection = duckdb.DuckDBPyConnection


def key(
    attachments: Iterable[Attachment],
    connect_timeout_s: int,
    statement_timeout_s: float,
    setup: str,
) -> str:
    """The key of a database attached and set up with these arguments."""
    digest = hashlib.sha256(setup.encode())
    digest.update(f"\0{connect_timeout_s}\0{statement_timeout_s}".encode())
    for attachment in attachments:
        target = attachment.source.attach_target(connect_timeout_s, statement_timeout_s)
        parts = (attachment.alias, attachment.source.kind, target, attachment.schema or "")
        digest.update(("\0" + "\0".join(parts)).encode())
    return digest.hexdigest()


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tuple[float, str, Connection]] = []  # (given back at, key, database)
        self._reaper: threading.Thread | None = None
        atexit.register(self.clear)

    def take(self, key: str) -> Connection | None:
        with self._lock:
            for i in range(len(self._idle) - 1, -1, -1):  # the most recently used first
                if self._idle[i][1] == key:
                    return self._idle.pop(i)[2]
        return None

    def give(self, key: str, connection: Connection) -> None:
        with self._lock:
            self._idle.append((time.monotonic(), key, connection))
            evicted = self._idle[:-MAX_IDLE] if len(self._idle) > MAX_IDLE else []
            del self._idle[: len(evicted)]
            if self._reaper is None or not self._reaper.is_alive():
                self._reaper = threading.Thread(
                    target=self._reap, name="lakehold-federated-pool", daemon=True
                )
                self._reaper.start()
        for _, _, old in evicted:
            databases.discard(old)

    def clear(self) -> None:
        """Close every idle database."""
        with self._lock:
            idle, self._idle = self._idle, []
        for _, _, connection in idle:
            with contextlib.suppress(duckdb.Error):
                connection.close()

    def _reap(self) -> None:
        while True:
            time.sleep(IDLE_S / 2)
            deadline = time.monotonic() - IDLE_S
            with self._lock:
                expired = [entry for entry in self._idle if entry[0] < deadline]
                self._idle = [entry for entry in self._idle if entry[0] >= deadline]
                done = not self._idle
                if done:
                    self._reaper = None
            for _, _, connection in expired:
                databases.discard(connection)
            if done:
                return


_pool = _Pool()


def take(key: str) -> Connection | None:
    """An idle database set up under ``key``, now the caller's; None if there is none."""
    return _pool.take(key)


def give(key: str, connection: Connection) -> None:
    """Keep ``connection`` (set up under ``key``) for a later statement."""
    _pool.give(key, connection)


def clear() -> None:
    """Close every idle database (tests, shutdown)."""
    _pool.clear()


def idle() -> list[Connection]:
    """The idle databases, most recently used last (for inspection; they stay in the pool)."""
    with _pool._lock:
        return [connection for _, _, connection in _pool._idle]
