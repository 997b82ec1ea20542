"""Shared fixtures of federated-source tests: real source databases and a folder of files,
each created fresh for a test and dropped after it, and a project with an owner.

Sources are reached as a non-administrator would (ADR 0014): the network allow-list of the
test settings covers the local servers, PostgreSQL sources live in their own database
``lakehold_sources`` (database ``test`` holds the metadata schemas, which no connection may
reach) and both servers are read as ``lakehold_reader``, a role that may only read tables."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
import pytest
from psycopg import errors as pg_errors
from psycopg.conninfo import make_conninfo

from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.conftest import POSTGRES
from tests.sharing import new_user


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return source_settings(tmp_path, database_url)


def source_settings(tmp_path: Path, database_url: str, **more: Any) -> Settings:
    """Settings whose file and SQLite connections may point under the test's folder."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        statement_timeout_seconds=30,
        source_roots=[tmp_path],
        network_allow=NETWORK_ALLOW,
        **more,
    )


MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
#: the test servers, and closed ports that tests use as sources that are down
NETWORK_ALLOW = ["127.0.0.1:5432", "127.0.0.1:3306", "127.0.0.1:1", "127.0.0.1:5433"]
SOURCES_DB = "lakehold_sources"
READER = "lakehold_reader"
SOURCES_PG = make_conninfo(POSTGRES, dbname=SOURCES_DB)


def ensure_sources_database() -> None:
    """The PostgreSQL database of test sources and the read-only role (made once, kept;
    another test process may make them at the same time)."""
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SOURCES_DB])
        if not found.fetchone():
            with suppress(pg_errors.DuplicateDatabase, pg_errors.UniqueViolation):
                conn.execute(f"CREATE DATABASE {SOURCES_DB}")
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER]).fetchone():
            with suppress(pg_errors.DuplicateObject, pg_errors.UniqueViolation):
                conn.execute(f"CREATE ROLE {READER} LOGIN")


def ensure_mariadb_reader(execute: Callable[[str], None]) -> None:
    """The MariaDB read-only user, from 127.0.0.1 and anywhere (made once, kept)."""
    for host in ("127.0.0.1", "%"):
        execute(f"CREATE USER IF NOT EXISTS '{READER}'@'{host}'")


@dataclass
class SourceDb:
    """A source database made for one test: connection params (no secret), the schema its
    tables are in, and ``execute`` to change it (ALTER, DROP, INSERT ...)."""

    kind: str
    params: dict[str, Any]
    schema: str
    execute: Callable[[str], None] = field(repr=False)


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextmanager
def _pg_schema(prefix: str, *statements: str) -> Iterator[SourceDb]:
    """A fresh PostgreSQL schema (``{schema}`` in ``statements``), dropped afterwards."""
    schema = _unique(prefix)
    ensure_sources_database()
    with psycopg.connect(SOURCES_PG, autocommit=True) as conn:

        def execute(sql: str) -> None:
            conn.execute(sql.replace("{schema}", schema))

        execute("CREATE SCHEMA {schema}")
        execute(f"GRANT USAGE ON SCHEMA {{schema}} TO {READER}")
        execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {{schema}} GRANT SELECT ON TABLES TO {READER}")
        for statement in statements:
            execute(statement)
        params = {"host": "127.0.0.1", "port": 5432, "database": SOURCES_DB, "user": READER}
        try:
            yield SourceDb("postgresql", params, schema, execute)
        finally:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def pg_source() -> Iterator[SourceDb]:
    """A PostgreSQL schema with tables orders, customers, tmp_scratch and a view big_orders."""
    with _pg_schema(
        "lh_src",
        "CREATE TABLE {schema}.orders (id integer PRIMARY KEY, customer text NOT NULL, "
        "amount numeric(10,2), ordered_at timestamptz)",
        "CREATE TABLE {schema}.customers (id integer, name varchar(100))",
        "CREATE TABLE {schema}.tmp_scratch (x integer)",
        "CREATE VIEW {schema}.big_orders AS SELECT * FROM {schema}.orders WHERE amount > 100",
        "INSERT INTO {schema}.orders VALUES (1, 'ada', 150.50, now()), (2, 'bob', 20, now())",
    ) as source:
        yield source


@pytest.fixture
def mysql_source() -> Iterator[SourceDb]:
    """A MariaDB database with tables orders, customers and tmp_scratch."""
    database = _unique("lh_src")
    conn = pymysql.connect(**MARIADB, autocommit=True)

    def execute(sql: str) -> None:
        with conn.cursor() as cursor:
            cursor.execute(sql.replace("{schema}", database))

    try:
        execute("CREATE DATABASE {schema}")
        ensure_mariadb_reader(execute)
        for host in ("127.0.0.1", "%"):
            execute(f"GRANT SELECT, SHOW VIEW ON {{schema}}.* TO '{READER}'@'{host}'")
        execute(
            "CREATE TABLE {schema}.orders (id INT PRIMARY KEY, customer VARCHAR(50) NOT NULL, "
            "amount DECIMAL(10,2))"
        )
        execute("CREATE TABLE {schema}.customers (id INT, name VARCHAR(100))")
        execute("CREATE TABLE {schema}.tmp_scratch (x INT)")
        execute("INSERT INTO {schema}.orders VALUES (1, 'ada', 150.50), (2, 'bob', 20)")
        params = {"host": "127.0.0.1", "port": 3306, "database": database, "user": READER}
        yield SourceDb("mysql", params, database, execute)
    finally:
        execute("DROP DATABASE IF EXISTS {schema}")
        conn.close()


@pytest.fixture
def sqlite_source(tmp_path: Path) -> Iterator[SourceDb]:
    """A SQLite file with tables orders, customers and tmp_scratch."""
    path = tmp_path / "source.sqlite"

    def execute(sql: str) -> None:
        with sqlite3.connect(path) as conn:
            conn.executescript(sql.replace("{schema}.", ""))

    execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount REAL);"
        "CREATE TABLE customers (id INTEGER, name TEXT);"
        "CREATE TABLE tmp_scratch (x INTEGER);"
        "INSERT INTO orders VALUES (1, 'ada', 150.5), (2, 'bob', 20);"
    )
    yield SourceDb("sqlite", {"path": str(path)}, "main", execute)


@pytest.fixture
def files_source(tmp_path: Path) -> Path:
    """A folder: orders.csv, customers.parquet, events.jsonl, a folder of Parquet files
    (clicks/), tmp_scratch.csv, and files that are not tables (notes.txt, .hidden.csv)."""
    folder = tmp_path / "files"
    (folder / "clicks").mkdir(parents=True)
    (folder / "orders.csv").write_text("id,customer,amount\n1,ada,150.5\n2,bob,20\n")
    (folder / "tmp_scratch.csv").write_text("x\n1\n")
    (folder / "events.jsonl").write_text('{"id": 1, "kind": "view"}\n{"id": 2, "kind": "buy"}\n')
    (folder / "notes.txt").write_text("not a table\n")
    (folder / ".hidden.csv").write_text("a\n1\n")
    with duckdb.connect() as conn:
        conn.execute(f"COPY (SELECT 1 AS id, 'ada' AS name) TO '{folder / 'customers.parquet'}'")
        for part in (1, 2):
            target = folder / "clicks" / f"p{part}.parquet"
            conn.execute(f"COPY (SELECT {part} AS id, 'page' AS url) TO '{target}'")
    return folder


@dataclass
class Team:
    """A project ``sales`` owned by ``owner``, with a viewer and an outsider (not a member)."""

    owner: Principal
    owner_token: str
    viewer: Principal
    viewer_token: str
    outsider: Principal
    outsider_token: str
    project: str = "sales"


@pytest.fixture
def team(runtime: Runtime, admin: Principal) -> Team:
    from tests.sharing import add_member

    owner, owner_token = new_user(runtime, admin, "owner")
    viewer, viewer_token = new_user(runtime, admin, "viewer")
    outsider, outsider_token = new_user(runtime, admin, "outsider")
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(owner, "sales", "Sales")
    add_member(runtime, "sales", viewer, "viewer")
    return Team(owner, owner_token, viewer, viewer_token, outsider, outsider_token)


# -- sync jobs ---------------------------------------------------------------------------------


@pytest.fixture
def accounts() -> Iterator[SourceDb]:
    """A PostgreSQL schema with an empty CRM table ``account`` (modelled on Salesforce's)."""
    with _pg_schema(
        "lh_sync",
        "CREATE TABLE {schema}.account (id int, name text, industry text, "
        "annual_revenue numeric(12,2), is_deleted boolean, last_modified timestamptz)",
    ) as source:
        yield source


@pytest.fixture
def crm(runtime: Runtime, team: Team, accounts: SourceDb) -> SourceDb:
    """``accounts`` registered as connection ``crm`` of project ``sales``."""
    runtime.connections.create(team.owner, "sales", "crm", "postgresql", dict(accounts.params))
    return accounts
