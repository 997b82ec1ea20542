"""Fresh metadata stores for tests, without migrating a database for every test.

Migrating an empty database runs every Alembic revision (seconds); a test needs the result,
not the run (tests/test_migrations.py runs the migrations themselves).

- SQLite: a store migrated once per test process is copied (a file copy).
- PostgreSQL: each test process keeps a few migrated schemas. A test takes one; afterwards
  every table is emptied (``DELETE``, the rows the migrations insert put back) and the schema
  waits for the next test. A schema that cannot be emptied at once (a transaction left open)
  is dropped instead. New schemas replay a ``pg_dump`` of a migrated one, or are migrated
  where ``pg_dump`` is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from lakehold.store.db import Store

_lock = threading.Lock()
_sqlite: Path | None = None


def sqlite_url(folder: Path, name: str = "metadata.db") -> str:
    """The URL of a migrated SQLite store at ``folder/name`` (a copy of the template)."""
    global _sqlite
    with _lock:
        if _sqlite is None or not _sqlite.exists():
            template = Path(tempfile.mkdtemp(prefix="lakehold-template-")) / "metadata.db"
            store = Store(f"sqlite:///{template}")
            with store.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            store.close()
            _sqlite = template
    target = folder / name
    shutil.copyfile(_sqlite, target)
    target.chmod(0o600)
    return f"sqlite:///{target}"


@dataclass
class PostgresSchemas:
    """Migrated schemas of one PostgreSQL database, reused from test to test.

    ``url_of(schema)`` is the SQLAlchemy URL of a schema of the database ``conninfo`` names."""

    conninfo: str
    url_of: Callable[[str], str]
    _free: list[str] = field(default_factory=list)
    _dump: tuple[str, str] | None = None
    _reset: str | None = None
    _made: bool = False

    def take(self) -> str:
        """A migrated schema, empty but for the rows the migrations insert."""
        with _lock:
            if self._free:
                return self._free.pop()
            self._prepare()
        schema = f"lh_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {schema}")
            if self._dump is not None:
                template, sql = self._dump
                connection.execute(sql.replace(template, schema).encode())
        if self._dump is None:
            Store(self.url_of(schema)).close()
        return schema

    def give_back(self, schema: str) -> None:
        """Empty ``schema`` for the next test, or drop it."""
        assert self._reset is not None
        try:
            with psycopg.connect(self.conninfo) as connection:
                connection.execute("SET LOCAL lock_timeout = '2s'")
                connection.execute(self._reset.replace("{schema}", schema).encode())
        except psycopg.Error:
            with psycopg.connect(self.conninfo, autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA {schema} CASCADE")
            return
        with _lock:
            self._free.append(schema)

    def close(self) -> None:
        """Drop every schema waiting for a test."""
        with _lock:
            free, self._free = self._free, []
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            for schema in free:
                connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    def _prepare(self) -> None:
        """Migrate a template schema once: its dump and the statement that empties a copy."""
        if self._made:
            return
        template = f"lh_template_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {template}")
        try:
            Store(self.url_of(template)).close()
            with psycopg.connect(self.conninfo) as connection:
                tables = [
                    row[0]
                    for row in connection.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = %s", (template,)
                    )
                ]
                sequences = [
                    row[0]
                    for row in connection.execute(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (template,)
                    )
                ]
            self._dump = _dump(self.conninfo, template)
        finally:
            with psycopg.connect(self.conninfo, autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA {template} CASCADE")
        # DELETE, not TRUNCATE: emptying a few rows costs far less than new files for every
        # table and index; foreign keys are not checked meanwhile (every row goes).
        statements = ["SET LOCAL session_replication_role = replica;"]
        statements += [
            f"DELETE FROM {{schema}}.{t};" for t in sorted(tables) if t != "alembic_version"
        ]
        statements += [f"ALTER SEQUENCE {{schema}}.{q} RESTART;" for q in sorted(sequences)]
        statements += [
            line.replace(template, "{schema}")
            for line in (self._dump[1] if self._dump else "").splitlines()
            if line.startswith("INSERT INTO") and ".alembic_version " not in line
        ]
        self._reset = "\n".join(statements)
        self._made = True


def _dump(conninfo: str, schema: str) -> tuple[str, str] | None:
    """``(schema, SQL that recreates it)`` without the CREATE SCHEMA, or None without pg_dump."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    params = dict(p.split("=", 1) for p in conninfo.split())
    done = subprocess.run(
        [
            pg_dump,
            f"--host={params.get('host', '127.0.0.1')}",
            f"--port={params.get('port', '5432')}",
            f"--username={params.get('user', 'postgres')}",
            f"--dbname={params.get('dbname', 'test')}",
            f"--schema={schema}",
            "--no-owner",
            "--no-privileges",
            "--inserts",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    lines = [
        line
        for line in done.stdout.splitlines()
        if not line.startswith(("--", "\\"))  # comments, psql meta-commands (\restrict)
        and not line.startswith(f"CREATE SCHEMA {schema}")
        and "set_config('search_path'" not in line
    ]
    return schema, "\n".join(lines)
