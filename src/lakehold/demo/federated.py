"""The demo's federated table: a small PostgreSQL table that the steward reads in place.

When a PostgreSQL server answers within :data:`TIMEOUT_S` (``LAKEHOLD_DEMO_SOURCE``, by
default the local one at 127.0.0.1:5432 with trust authentication), the demo creates there,
idempotently, schema ``lakehold_demo`` (``LAKEHOLD_DEMO_SOURCE_SCHEMA``) with table
``product_lines`` and a role that may only read it; the administrator allows the server on
the network allow-list, and the steward connects project ``retail`` to it and crawls it, so
``retail.product_lines`` is a federated table that joins the lakehouse's
``retail.store_sales``. Otherwise the demo goes on without it, saying why in one line. The
source's password is never shown: the reader role gets a new random one, stored encrypted
with the connection.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from lakehold.errors import Conflict, LakeholdError
from lakehold.names import check_sql_name
from lakehold.runtime import Runtime
from lakehold.security import network
from lakehold.security.principal import Principal

SOURCE_ENV = "LAKEHOLD_DEMO_SOURCE"
SCHEMA_ENV = "LAKEHOLD_DEMO_SOURCE_SCHEMA"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_SCHEMA = "lakehold_demo"
TIMEOUT_S = 2
READER = "lakehold_demo_reader"
TABLE = "product_lines"
CONNECTION = "crm"
DATA_SOURCE = "crm_tables"
ROWS = [
    (1, "Widgets", "Ada Byron"),
    (2, "Gadgets", "Grace Hopper"),
    (3, "Accessories", "Alan Turing"),
    (4, "Gadgets", "Grace Hopper"),
]


@dataclass(frozen=True)
class DemoSource:
    """Where the demo's federated table lives: a PostgreSQL DSN and a schema of its own."""

    dsn: str = field(repr=False)
    schema: str = DEFAULT_SCHEMA


@dataclass(frozen=True)
class Federated:
    """What became of the federated table: its name once it exists, and a line to print."""

    table: str | None
    note: str | None


@dataclass(frozen=True)
class _Server:
    """The source server as the steward's connection reaches it (no secret)."""

    host: str
    port: int
    database: str

    def shown(self, user: str) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{self.database}"


def source_from_env(environ: Mapping[str, str]) -> DemoSource | None:
    """The demo's source from the environment; None when ``LAKEHOLD_DEMO_SOURCE=off``."""
    dsn = environ.get(SOURCE_ENV, DEFAULT_DSN).strip()
    if dsn.lower() in ("", "off"):
        return None
    return DemoSource(dsn, environ.get(SCHEMA_ENV, DEFAULT_SCHEMA).strip())


def attach_source(
    runtime: Runtime, admin: Principal, steward: Principal, project: str, source: DemoSource | None
) -> Federated:
    """Give ``project`` its federated table from ``source``, once; on later starts only
    report it."""
    table = f"{project}.{TABLE}"
    if any(c.name == CONNECTION for c in runtime.connections.list(steward, project)):
        return Federated(table, None)
    if source is None:
        return Federated(None, f"federated table skipped ({SOURCE_ENV}=off)")
    try:
        check_sql_name(SCHEMA_ENV, source.schema)
        kind, _, _ = source.dsn.partition("://")
        if kind not in ("postgresql", "postgres") and "://" in source.dsn:
            return Federated(None, f"federated table skipped: {SOURCE_ENV} is not a PostgreSQL DSN")
        shown = _shown_dsn(source.dsn)
        try:
            connection = psycopg.connect(source.dsn, connect_timeout=TIMEOUT_S, autocommit=True)
        except psycopg.Error:
            return Federated(
                None,
                f"no PostgreSQL reachable at {shown} within {TIMEOUT_S} s: federated table "
                f"skipped (set {SOURCE_ENV}=postgresql://user@host:port/db)",
            )
        with connection:
            server = _server(connection)
            _vet(runtime, server)
            password = _prepare(connection, source.schema)
        _register(runtime, admin, steward, project, server, source.schema, password)
    except (LakeholdError, psycopg.Error) as e:
        reason = _first_line(e)
        return Federated(None, f"federated table skipped: {reason}")
    return Federated(
        table, f"{table} reads {server.shown(READER)} (schema {source.schema}) in place"
    )


def _shown_dsn(dsn: str) -> str:
    """The DSN fit to print: user, host, port and database only."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "<the DSN, not shown>"
    user = parts.get("user", "")
    host, port = parts.get("host", "127.0.0.1"), parts.get("port", 5432)
    return f"postgresql://{user}{'@' if user else ''}{host}:{port}/{parts.get('dbname', '')}"


def _server(connection: psycopg.Connection) -> _Server:
    info = connection.info
    host = info.host if info.host and not info.host.startswith("/") else "127.0.0.1"
    return _Server(host, int(info.port), info.dbname)


def _vet(runtime: Runtime, server: _Server) -> None:
    """Refuse Lakehold's own metadata database (before anything is created there)."""
    rule = network.parse_rule(f"{server.host}:{server.port}", field=SOURCE_ENV)
    network.check_target(
        server.host,
        server.port,
        [rule],
        public=True,
        metadata=network.metadata_endpoint(runtime.settings.resolved_database_url),
        database=server.database,
        field=SOURCE_ENV,
    )


def _prepare(connection: psycopg.Connection, schema: str) -> str:
    """The schema, its table and the reader role (idempotently); the reader's new password."""
    names = {"schema": sql.Identifier(schema), "table": sql.Identifier(TABLE)}
    reader = sql.Identifier(READER)
    connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema}").format(**names))
    connection.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.{table} (prod_id integer PRIMARY KEY, "
            "product_line text NOT NULL, manager text NOT NULL)"
        ).format(**names)
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql.SQL("INSERT INTO {schema}.{table} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING")
            .format(**names)
            .as_string(connection),
            ROWS,
        )
    exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER]).fetchone()
    if not exists:  # another demo may make it at the same time
        with suppress(pg_errors.DuplicateObject, pg_errors.UniqueViolation):
            connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(reader))
    password = secrets.token_urlsafe(24)
    connection.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(reader, sql.Literal(password)))
    connection.execute(sql.SQL("GRANT USAGE ON SCHEMA {schema} TO {}").format(reader, **names))
    connection.execute(sql.SQL("GRANT SELECT ON {schema}.{table} TO {}").format(reader, **names))
    return password


def _register(
    runtime: Runtime,
    admin: Principal,
    steward: Principal,
    project: str,
    server: _Server,
    schema: str,
    password: str,
) -> None:
    """Allow the server, and the steward's connection, data source and crawl (all or none)."""
    with suppress(Conflict):  # allowed already
        runtime.network.allow(
            admin, f"{server.host}:{server.port}", description="the demo's PostgreSQL source"
        )
    params = {"host": server.host, "port": server.port, "database": server.database}
    runtime.connections.create(
        steward,
        project,
        CONNECTION,
        "postgresql",
        {**params, "user": READER},
        password=password,
        description="The CRM's product lines, read in place",
    )
    try:
        runtime.data_sources.create(
            steward, project, DATA_SOURCE, CONNECTION, schemas=[schema], include=[TABLE]
        )
        run = runtime.data_sources.run(steward, project, DATA_SOURCE)
        if run.status != "succeeded" or run.tables_added != 1:
            raise LakeholdError(f"the crawl of {schema}.{TABLE} found no table ({run.status})")
    except BaseException:
        runtime.connections.delete(steward, project, CONNECTION)
        raise


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
