"""Read a source's technical metadata through DuckDB: server version, tables and columns.

Server kinds and SQLite are attached read-only (:func:`lakehold.connectors.attach.attach`) in a
private in-memory DuckDB database and read from ``duckdb_columns()``; a folder of files is
described file by file. Every failure to reach the source is a SourceUnavailable naming the
connection, its secret redacted.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg

from lakehold.connectors import files
from lakehold.connectors.attach import ConnectionSpec, attach, redact
from lakehold.errors import SourceUnavailable

ALIAS = "src"
DuckDBConfig = dict[str, str | bool | int | float | list[str]]
"""A DuckDB configuration (``duckdb.connect(config=...)``)."""
NO_DOWNLOADS: DuckDBConfig = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
CONFIG: DuckDBConfig = {"allow_unsigned_extensions": True, **NO_DOWNLOADS}
SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)
_VERSION_SQL = {
    "postgresql": f"SELECT * FROM postgres_query('{ALIAS}', 'SELECT version()')",
    "mysql": f"SELECT * FROM mysql_query('{ALIAS}', 'SELECT version()')",
    "sqlite": "SELECT 'SQLite (DuckDB sqlite scanner)'",
}


@dataclass(frozen=True)
class SourceColumn:
    name: str
    data_type: str
    nullable: bool = True


@dataclass(frozen=True)
class SourceTable:
    """A table or view of a source; for files, ``schema`` is the format and ``relative`` the
    path inside the folder."""

    schema: str
    name: str
    kind: str = "table"
    columns: tuple[SourceColumn, ...] = ()
    relative: str | None = None

    @property
    def source_table(self) -> str:
        return self.relative or self.name


@dataclass
class Discovery:
    """What a crawl found, and per-table errors (tables that could not be described)."""

    tables: list[SourceTable] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def default_schemas(spec: ConnectionSpec) -> list[str]:
    """Schemas crawled when a data source names none."""
    if spec.kind == "postgresql":
        return ["public"]
    if spec.kind == "mysql":
        return [str(spec.params.get("database"))]
    return ["*"]


def matches(name: str, patterns: Sequence[str]) -> bool:
    """True when ``name`` matches a glob pattern (case-insensitive)."""
    return any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in patterns)


@contextmanager
def opened(spec: ConnectionSpec, timeout_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private DuckDB database with ``spec`` attached as ``src``; statements that run past
    ``timeout_s`` are interrupted."""
    if spec.kind == "sqlite" and not Path(spec.params["path"]).is_file():
        raise SourceUnavailable(f"connection {spec.name!r} (sqlite): database file not found")
    connection = duckdb.connect(":memory:", config=CONFIG)
    timer = threading.Timer(timeout_s, connection.interrupt)
    timer.daemon = True
    timer.start()
    try:
        attach(connection, spec, ALIAS, connect_timeout_s=max(1, int(timeout_s)))
        yield connection
    except duckdb.Error as e:
        raise SourceUnavailable(
            f"connection {spec.name!r} ({spec.kind}) failed: {redact(str(e), spec)}"
        ) from None
    finally:
        timer.cancel()
        connection.close()


def server_version(spec: ConnectionSpec, timeout_s: float) -> tuple[str, int]:
    """The source's version string and how many tables it exposes (for a connection test)."""
    if spec.kind == "files":
        found = files.list_files(Path(spec.params["path"]), spec.name)
        return f"folder of files (DuckDB {duckdb.__version__})", len(found)
    with opened(spec, timeout_s) as connection:
        version = connection.execute(_VERSION_SQL[spec.kind]).fetchone()
        assert version is not None  # a one-row query
        count = connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name NOT IN (SELECT unnest(?))",
            [ALIAS, sorted(SYSTEM_SCHEMAS)],
        ).fetchone()
        assert count is not None  # an aggregate: one row
        return str(version[0]), int(count[0])


_PG_PRIVILEGES = (
    "SELECT r.rolsuper, "
    "pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'), "
    "pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'), "
    "pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') "
    "FROM pg_roles r WHERE r.rolname = current_user"
)
_PG_NAMES = (
    "superuser",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
)
_MYSQL_PRIVILEGES = ("SUPER", "FILE")
_MYSQL_LISTED = (
    "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = "
    "CONCAT(\"'\", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), \"'@'\", "
    "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), \"'\")"
)


def dangerous_privileges(spec: ConnectionSpec, timeout_s: float) -> list[str]:
    """What the connection's role may do beyond reading tables: PostgreSQL superuser or
    membership of the server-file and server-program roles; MySQL/MariaDB ``SUPER`` or
    ``FILE`` (``ALL PRIVILEGES`` on ``*.*`` includes both). Connects to the checked address
    (``spec.hostaddr``): PostgreSQL with psycopg's keyword parameters, MySQL through the
    scanner; SourceUnavailable when the source cannot be reached."""
    try:
        if spec.kind == "postgresql":
            return _pg_privileges(spec, timeout_s)
        if spec.kind == "mysql":
            return _mysql_privileges(spec, timeout_s)
    except (psycopg.Error, OSError) as e:
        raise SourceUnavailable(
            f"connection {spec.name!r} ({spec.kind}) is unavailable: {redact(str(e), spec)}"
        ) from None
    return []


def _pg_privileges(spec: ConnectionSpec, timeout_s: float) -> list[str]:
    keywords = dict(spec.keywords(connect_timeout_s=max(1, int(timeout_s))))
    with psycopg.connect(**keywords, autocommit=True) as connection:
        row = connection.execute(_PG_PRIVILEGES).fetchone()
    return [name for name, held in zip(_PG_NAMES, row or (), strict=False) if held]


def _mysql_privileges(spec: ConnectionSpec, timeout_s: float) -> list[str]:
    with opened(spec, timeout_s) as connection:  # the scanner: no client library needed

        def rows(sql: str) -> list[str]:
            quoted = sql.replace("'", "''")
            found = connection.execute(f"SELECT * FROM mysql_query('{ALIAS}', '{quoted}')")
            return [str(row[0]).upper() for row in found.fetchall()]

        grants = rows("SHOW GRANTS")
        listed = set(rows(_MYSQL_LISTED))
    on_all = [g.split(" ON *.* ", 1)[0] for g in grants if " ON *.* " in g]
    held = []
    for privilege in _MYSQL_PRIVILEGES:
        named = any(privilege in g.replace(",", " ").split() for g in on_all)
        if privilege in listed or named or any("ALL PRIVILEGES" in g for g in on_all):
            held.append(privilege)
    return held


def discover(
    spec: ConnectionSpec,
    schemas: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
    timeout_s: float,
) -> Discovery:
    """The tables and views of ``spec`` in schemas matching ``schemas`` (default: the
    source's own), named like ``include`` (default: all) and unlike ``exclude``."""
    schemas = list(schemas) or default_schemas(spec)
    found = _files(spec, timeout_s) if spec.kind == "files" else _database(spec, timeout_s)
    found.tables = [
        t
        for t in found.tables
        if (spec.kind == "files" or matches(t.schema, schemas))
        and (not include or matches(t.name, include))
        and not matches(t.name, exclude)
    ]
    return found


def _database(spec: ConnectionSpec, timeout_s: float) -> Discovery:
    with opened(spec, timeout_s) as connection:
        views = {
            (s, v)
            for s, v in connection.execute(
                "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ?",
                [ALIAS],
            ).fetchall()
        }
        rows = connection.execute(
            "SELECT schema_name, table_name, column_name, data_type, is_nullable "
            "FROM duckdb_columns() WHERE database_name = ? "
            "ORDER BY schema_name, table_name, column_index",
            [ALIAS],
        ).fetchall()
    grouped: dict[tuple[str, str], list[SourceColumn]] = {}
    for schema, table, column, data_type, nullable in rows:
        if schema.lower() in SYSTEM_SCHEMAS:
            continue
        grouped.setdefault((schema, table), []).append(
            SourceColumn(column, data_type, bool(nullable))
        )
    return Discovery(
        [
            SourceTable(s, t, "view" if (s, t) in views else "table", tuple(columns))
            for (s, t), columns in grouped.items()
        ]
    )


def _files(spec: ConnectionSpec, _timeout_s: float) -> Discovery:
    root = Path(spec.params["path"])
    found = Discovery()
    connection = duckdb.connect(":memory:", config=NO_DOWNLOADS)
    try:
        for entry in files.list_files(root, spec.name):
            try:
                scan = files.scan_sql(entry.fmt, files.table_files(root, entry.relative))
                rows = connection.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
            except duckdb.Error as e:
                message = " ".join(str(e).split())[:300]
                found.errors.append({"table": entry.relative, "message": message})
                continue
            columns = tuple(SourceColumn(r[0], r[1], True) for r in rows)
            found.tables.append(
                SourceTable(entry.fmt, entry.name, "file", columns, relative=entry.relative)
            )
    finally:
        connection.close()
    return found
