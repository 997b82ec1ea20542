"""Read a source's technical metadata through DuckDB: server version, tables and columns.

Server kinds and SQLite are attached read-only (:func:`lakehold.sources.attach.attach`) in a
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

from lakehold.errors import SourceUnavailable
from lakehold.sources import files
from lakehold.sources.attach import ConnectionSpec, attach, redact

ALIAS = "src"
NO_DOWNLOADS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
CONFIG = {"allow_unsigned_extensions": True, **NO_DOWNLOADS}
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
        version = connection.execute(_VERSION_SQL[spec.kind]).fetchone()[0]
        count = connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name NOT IN (SELECT unnest(?))",
            [ALIAS, sorted(SYSTEM_SCHEMAS)],
        ).fetchone()[0]
        return str(version), int(count)


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
                rows = connection.execute(
                    f"DESCRIBE SELECT * FROM {files.scan_sql(root, entry.fmt, entry.relative)}"
                ).fetchall()
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
