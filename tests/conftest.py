"""Shared fixtures: every metadata test runs on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests import store_templates

# The CLI's rich consoles take their width when first made: wide enough for every table, in
# every test process, whichever test imports the CLI first.
os.environ["COLUMNS"] = "200"
# Commands run by tests (in process, or as subprocesses inheriting this environment) neither use
# nor start a home's warm process (ADR 42); tests/cli/test_daemon.py turns it on for its own.
os.environ["LAKEHOLD_DAEMON"] = "off"

POSTGRES = os.environ.get(
    "LAKEHOLD_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres"
)
SCENARIOS = Path(__file__).resolve().parents[1] / "src" / "lakehold" / "demo" / "data"


@pytest.fixture(scope="session")
def postgres_schemas() -> Iterator[store_templates.PostgresSchemas]:
    """Migrated PostgreSQL schemas, reused from test to test (emptied in between)."""
    schemas = store_templates.PostgresSchemas(POSTGRES, postgres_url)
    yield schemas
    schemas.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated metadata database: a SQLite file, or a PostgreSQL schema of its own
    (tests/store_templates.py: copies and reused schemas, not a migration per test)."""
    if request.param == "sqlite":
        yield store_templates.sqlite_url(tmp_path)
        return
    schemas: store_templates.PostgresSchemas = request.getfixturevalue("postgres_schemas")
    schema = schemas.take()
    yield postgres_url(schema)
    schemas.give_back(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty metadata database, not migrated (for tests that migrate it step by step)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"lh_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield postgres_url(schema)
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def postgres_url(schema: str) -> str:
    """The SQLAlchemy URL of a schema of the test PostgreSQL database."""
    params = dict(p.split("=", 1) for p in POSTGRES.split())
    return (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host')}:"
        f"{params.get('port', '5432')}/{params.get('dbname')}?options=-csearch_path%3D{schema}"
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, statement_timeout_seconds=30)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def admin_token(runtime: Runtime) -> str:
    created = runtime.security.bootstrap()
    assert created is not None
    return created[1]


@pytest.fixture
def admin(runtime: Runtime, admin_token: str) -> Principal:
    return runtime.security.authenticate(admin_token)


@pytest.fixture
def client(runtime: Runtime, admin_token: str) -> Iterator[TestClient]:
    """An HTTP client authenticated as the admin."""
    with TestClient(create_app(runtime)) as http:
        http.headers["Authorization"] = f"Bearer {admin_token}"
        yield http


@pytest.fixture
def anonymous(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as http:
        yield http


def upload(path: Path) -> dict:
    """A multipart ``files`` argument for a data file."""
    return {"file": (path.name, path.read_bytes())}
