"""Engine and session factory for the metadata store; migrations run on open (Alembic is
imported only when the store is not at the heads of the migration scripts already).

Decisions (approve, reject, revoke, publish, unpublish, filter changes) run in an *immediate*
session: on SQLite it starts with ``BEGIN IMMEDIATE``, so it holds the database's write lock
from its first read and concurrent decisions run one after the other (a waiter waits up to the
busy timeout); on PostgreSQL it is an ordinary transaction and the decision locks its rows
with ``SELECT ... FOR UPDATE``. Either way the decision re-reads the state after it has the
lock. See ``docs/adr/0018-serialised-decisions.md``.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, insert, make_url, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lakehold.errors import Conflict
from lakehold.observability import pool

MIGRATIONS = Path(__file__).parent / "migrations"
IMMEDIATE = "lakehold_immediate"
"""Execution option of the connections of immediate sessions (SQLite: ``BEGIN IMMEDIATE``)."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across application crashes in WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # reads (search at 100k documents): 64 MB of page cache, the file memory-mapped
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Take SQLite's write lock at the start of an immediate session's transaction.

    pysqlite (in its default, legacy transaction mode) begins a deferred transaction itself,
    just before the first write; a ``BEGIN IMMEDIATE`` issued here comes first, and pysqlite
    then sees a transaction in progress and commits or rolls back that one."""
    if connection.get_execution_options().get(IMMEDIATE):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _private_file(database: str | None) -> None:
    """Create the SQLite file readable by its owner only (0600) before SQLite opens it, or
    narrow an existing one; SQLite gives its -wal and -shm files the database's mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite reports the missing folder itself
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _postgresql(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode and foreign keys."""
    url = _postgresql(url)
    if url.startswith("sqlite"):
        _private_file(make_url(url).database)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


def _append_engine(url: str) -> Engine:
    """PostgreSQL connections for :meth:`Store.append`: each statement its own transaction,
    committed without waiting for the WAL flush."""
    engine = create_engine(
        _postgresql(url), pool_size=5, max_overflow=20, isolation_level="AUTOCOMMIT"
    )

    def asynchronous_commits(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET synchronous_commit = off")
        cursor.close()
        dbapi_connection.commit()  # kept for the session, whatever mode it is in

    event.listen(engine, "connect", asynchronous_commits)
    _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 10.0
"""A pooled server connection idle this long is pinged before use (replaced if dead)."""


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection only when it sat idle: ``pool_pre_ping`` would add a round
    trip to every session (a statement takes three). A connection used within the last
    :data:`IDLE_PING_SECONDS` is trusted; if its server died meanwhile, that one use fails
    and SQLAlchemy invalidates the pool's older connections."""

    def connected(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_in(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool replaces the connection and tries again
            raise DisconnectionError(str(error)) from error

    event.listen(engine, "connect", connected)
    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


_ASSIGNMENT = re.compile(r"^(revision|down_revision|depends_on)\s*(?::[^=]*)?=\s*(.+)$", re.M)


@functools.cache
def script_heads() -> frozenset[str] | None:
    """The head revisions of the migration scripts, read from their ``revision`` and
    ``down_revision`` lines without Alembic; ``None`` when a script is not that plain (then
    Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        if path.name == "__init__.py":
            continue
        found: dict[str, list[object]] = {}
        for name, value in _ASSIGNMENT.findall(path.read_text()):
            try:
                found.setdefault(name, []).append(ast.literal_eval(value.strip()))
            except (ValueError, SyntaxError):
                return None
        revision, down = found.get("revision", []), found.get("down_revision", [])
        if len(revision) != 1 or len(down) != 1 or any(found.get("depends_on", [])):
            return None
        if not isinstance(revision[0], str):
            return None
        revisions.add(revision[0])
        parent = down[0]
        parents.update([parent] if isinstance(parent, str) else parent or ())  # type: ignore[arg-type]
    return frozenset(revisions - parents) if revisions else None


def applied_revisions(engine: Engine) -> frozenset[str] | None:
    """The revisions the store is at (``None`` before its first migration)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return frozenset(row[0] for row in rows)
    except DBAPIError:
        return None


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration up to the heads (branches end in a merge; until the
    merge revision of two parallel branches exists, both heads are applied). A store at the
    heads already is left alone without importing Alembic."""
    heads = script_heads()
    if heads is not None and applied_revisions(engine) == heads:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")


def _appending(*rows: tuple[type[Any], dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """One INSERT of ``rows`` and its parameters (see :func:`_insert_of`)."""
    statement = _insert_of(tuple((model, tuple(values)) for model, values in rows))
    params = {
        f"r{i}_{key}": value for i, (_, values) in enumerate(rows) for key, value in values.items()
    }
    return statement, params


@functools.lru_cache(maxsize=64)
def _insert_of(shape: tuple[tuple[type[Any], tuple[str, ...]], ...]) -> Any:
    """One INSERT for rows of these models and columns, built once: the rows but the last in
    data-modifying CTEs (PostgreSQL), values bound as ``r<row>_<column>`` (typed by their
    columns)."""

    def bound(index: int, model: type[Any], keys: tuple[str, ...]) -> Any:
        columns = model.__table__.c
        return insert(model).values(
            {key: bindparam(f"r{index}_{key}", type_=columns[key].type) for key in keys}
        )

    *first, (model, keys) = shape
    statement = bound(len(first), model, keys)
    for index, (earlier, earlier_keys) in enumerate(first):
        statement = statement.add_cte(bound(index, earlier, earlier_keys).cte(f"row_{index}"))
    return statement


class Store:
    """The metadata store: an engine and a session factory."""

    def __init__(self, url: str, *, run_migrations: bool = True) -> None:
        self.engine = make_engine(url)
        pool.watch(self.engine)  # lakehold_metadata_pool_connections (ADR 33)
        if run_migrations:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._immediate = sessionmaker(
            self.engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False
        )
        self._reads = sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        self._appender = self.engine
        if self.engine.dialect.name == "postgresql":
            self._appender = _append_engine(url)
            pool.watch(self._appender)

    @contextmanager
    def reads(self) -> Iterator[Session]:
        """A session for reads only: each statement its own transaction, without a BEGIN and
        a COMMIT around them (two round trips on PostgreSQL, where READ COMMITTED gives each
        statement of a transaction its own snapshot anyway)."""
        with self._reads() as session:
            yield session

    def append(self, *rows: tuple[type[Any], dict[str, Any]]) -> None:
        """Insert one row into each model's table, atomically, for records written on every
        statement (a statement record and the audit of its admission).

        On PostgreSQL in one round trip -- the rows but the last in data-modifying CTEs of the
        last one's INSERT, a transaction by itself -- committed without waiting for the WAL
        flush: a crash of the database server (not of Lakehold) may lose the last records
        (ADR 0022). Decisions never come this way."""
        if self._appender is self.engine:  # SQLite: no round trips to save
            with self.engine.begin() as connection:
                for row in rows:
                    connection.execute(*_appending(row))
            return
        with self._appender.connect() as connection:
            connection.execute(*_appending(*rows))

    @contextmanager
    def session(self, *, immediate: bool = False) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error.

        ``immediate`` serialises the transaction with every other writer from its start on
        SQLite (``BEGIN IMMEDIATE``); on PostgreSQL it changes nothing, and the caller locks
        the rows it decides on (``with_for_update``)."""
        factory = self._immediate if immediate else self._sessions
        with factory() as session, session.begin():
            yield session

    @contextmanager
    def decision(self, conflict: str) -> Iterator[Session]:
        """An immediate session for a decision. A constraint violation (a unique index that
        keeps one active grant or listing, a foreign key to a row deleted meanwhile) at flush
        or commit becomes ``Conflict(conflict)``: the database refused a duplicate that a
        concurrent decision would have made, which is never a server error."""
        try:
            with self.session(immediate=True) as session:
                yield session
        except IntegrityError:
            raise Conflict(conflict) from None
        except OperationalError as error:
            if "database is locked" not in str(error):  # SQLite: waited past the busy timeout
                raise
            raise Conflict(f"{conflict} (another decision is in progress; retry)") from None

    def close(self) -> None:
        self.engine.dispose()
        if self._appender is not self.engine:
            self._appender.dispose()
