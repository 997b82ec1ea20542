"""Data sources: crawl real PostgreSQL, MariaDB, SQLite and a folder of files; re-crawls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lakehold.errors import Forbidden, Invalid, NotFound, SourceUnavailable
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import Asset, Grant
from lakehold.store.search import SearchDocument
from lakehold.store.sources import AssetVersion, DataSource, FederatedTable
from tests.sources.conftest import SourceDb, Team


def _crawl_setup(runtime: Runtime, team: Team, source: SourceDb, **kw) -> None:
    runtime.connections.create(team.owner, "sales", "src", source.kind, source.params)
    schemas = [source.schema] if source.kind != "sqlite" else None
    runtime.data_sources.create(team.owner, "sales", "crawl", "src", schemas=schemas, **kw)


def _assets(runtime: Runtime) -> dict[str, Asset]:
    with runtime.store.session() as session:
        rows = session.scalars(select(Asset).where(Asset.asset_type == "federated_table"))
        return {a.name: a for a in rows}


def _federated(runtime: Runtime, asset_name: str) -> FederatedTable:
    with runtime.store.session() as session:
        asset = session.scalar(select(Asset).where(Asset.name == asset_name))
        return session.get(FederatedTable, asset.id)


def _columns(runtime: Runtime, name: str) -> dict[str, str]:
    with runtime.store.session() as session:
        asset = session.scalar(select(Asset).where(Asset.name == name))
        return {c.name: c.data_type for c in asset.columns}


@pytest.mark.parametrize("source_name", ["pg_source", "mysql_source", "sqlite_source"])
def test_crawl_imports_tables_with_patterns(
    runtime: Runtime, team: Team, source_name: str, request: pytest.FixtureRequest
) -> None:
    source: SourceDb = request.getfixturevalue(source_name)
    _crawl_setup(runtime, team, source, exclude=["tmp_*"])
    run = runtime.data_sources.run(team.owner, "sales", "crawl")
    assert run.status == "succeeded" and run.errors == []
    names = set(_assets(runtime))
    expected = {"orders", "customers"} | ({"big_orders"} if source.kind == "postgresql" else set())
    assert names == expected and run.tables_added == len(expected)
    orders = _assets(runtime)["orders"]
    assert orders.storage_path == f"{source.kind}://src/{source.schema}.orders"
    assert orders.current_version == 1
    columns = _columns(runtime, "orders")
    assert list(columns)[:3] == ["id", "customer", "amount"]
    assert columns["amount"].startswith("DECIMAL") or columns["amount"] == "DOUBLE"
    federated = _federated(runtime, "orders")
    assert (federated.source_schema, federated.source_table, federated.status) == (
        source.schema,
        "orders",
        "ok",
    )
    again = runtime.data_sources.run(team.owner, "sales", "crawl")
    assert (again.tables_added, again.tables_unchanged) == (0, len(expected))
    with runtime.store.session() as session:
        indexed = session.scalar(select(SearchDocument).where(SearchDocument.ref_id == orders.id))
        assert indexed is not None and indexed.asset_type == "federated_table"


def test_include_patterns(runtime: Runtime, team: Team, pg_source: SourceDb) -> None:
    _crawl_setup(runtime, team, pg_source, include=["ord*", "cust*"])
    runtime.data_sources.run(team.owner, "sales", "crawl")
    assert set(_assets(runtime)) == {"orders", "customers"}


def test_crawl_a_folder_of_files(runtime: Runtime, team: Team, files_source: Path) -> None:
    runtime.connections.create(team.owner, "sales", "lake", "files", {"path": str(files_source)})
    runtime.data_sources.create(team.owner, "sales", "crawl", "lake", exclude=["tmp_*"])
    run = runtime.data_sources.run(team.owner, "sales", "crawl")
    assert run.status == "succeeded"
    assert set(_assets(runtime)) == {"orders", "customers", "events", "clicks"}
    assert _assets(runtime)["clicks"].storage_path == "files://lake/clicks"
    assert _federated(runtime, "events").source_schema == "json"
    assert _columns(runtime, "customers") == {"id": "INTEGER", "name": "VARCHAR"}


def test_recrawl_detects_changes_and_keeps_granted_assets(
    runtime: Runtime, team: Team, admin: Principal, pg_source: SourceDb
) -> None:
    _crawl_setup(runtime, team, pg_source)
    runtime.data_sources.run(team.owner, "sales", "crawl")
    assets = _assets(runtime)
    with runtime.store.session() as session:  # a subscriber of customers
        session.add(
            Grant(
                asset_id=assets["customers"].id,
                project_id=assets["customers"].project_id,
                created_by=admin.user_id,
            )
        )
    pg_source.execute("DROP VIEW {schema}.big_orders")
    pg_source.execute("ALTER TABLE {schema}.orders ADD COLUMN channel text")
    pg_source.execute("ALTER TABLE {schema}.orders DROP COLUMN ordered_at")
    pg_source.execute("ALTER TABLE {schema}.orders ALTER COLUMN amount TYPE double precision")
    pg_source.execute("DROP TABLE {schema}.customers")
    pg_source.execute("CREATE TABLE {schema}.returns (id integer)")
    run = runtime.data_sources.run(team.owner, "sales", "crawl")
    assert (run.tables_added, run.tables_updated, run.tables_missing) == (1, 1, 2)
    after = _assets(runtime)
    assert after["orders"].current_version == 2
    with runtime.store.session() as session:
        version = session.scalar(
            select(AssetVersion).where(
                AssetVersion.asset_id == after["orders"].id, AssetVersion.version == 2
            )
        )
        assert version.changes["added"] == ["channel"]
        assert version.changes["removed"] == ["ordered_at"]
        assert version.changes["retyped"] == [
            {"name": "amount", "from": "DECIMAL(10,2)", "to": "DOUBLE"}
        ]
    assert "customers" in after and _federated(runtime, "customers").status == "missing"
    assert _columns(runtime, "orders")["amount"] == "DOUBLE"
    pg_source.execute("CREATE TABLE {schema}.customers (id integer, name varchar(100))")
    back = runtime.data_sources.run(team.owner, "sales", "crawl")
    assert back.tables_updated == 1 and _federated(runtime, "customers").status == "ok"


def test_unreachable_source_fails_the_run(runtime: Runtime, team: Team) -> None:
    params = {"host": "127.0.0.1", "port": 1, "database": "test", "user": "u"}
    runtime.connections.create(team.owner, "sales", "down", "postgresql", params, password="pw1")
    runtime.data_sources.create(team.owner, "sales", "crawl", "down")
    with pytest.raises(SourceUnavailable) as caught:
        runtime.data_sources.run(team.owner, "sales", "crawl")
    assert "'down'" in caught.value.message and "pw1" not in caught.value.message
    [run] = runtime.data_sources.runs(team.owner, "sales", "crawl")
    assert run.status == "failed" and "'down'" in run.errors[0]["message"]
    assert caught.value.details["run"] == run.id


def test_bad_cron_names_the_field(runtime: Runtime, team: Team, sqlite_source: SourceDb) -> None:
    runtime.connections.create(team.owner, "sales", "src", "sqlite", sqlite_source.params)
    with pytest.raises(Invalid) as caught:
        runtime.data_sources.create(team.owner, "sales", "crawl", "src", schedule="every day")
    assert caught.value.details["field"] == "schedule"


def test_connection_and_data_source_commands_are_audited(
    runtime: Runtime, team: Team, admin: Principal, sqlite_source: SourceDb
) -> None:
    _crawl_setup(runtime, team, sqlite_source)
    runtime.data_sources.run(team.owner, "sales", "crawl")
    with pytest.raises(Forbidden):
        runtime.data_sources.run(team.viewer, "sales", "crawl")
    with pytest.raises(NotFound):
        runtime.connections.delete(team.outsider, "sales", "src")
    runtime.data_sources.delete(team.owner, "sales", "crawl")
    runtime.connections.delete(team.owner, "sales", "src")

    def events(action: str, allowed: bool) -> list[tuple[str | None, dict, str | None]]:
        found = runtime.audit.events(admin, action=action, allowed=allowed)
        return [(e.username, e.details, e.resource) for e in found]

    src, crawl = {"connection": "src"}, {"data_source": "crawl", "connection": "src"}
    assert events("connection.create", True) == [
        ("owner", {**src, "kind": "sqlite"}, "project:sales")
    ]
    assert events("data_source.create", True) == [("owner", crawl, "project:sales")]
    assert events("data_source.run", True) == [("owner", {"data_source": "crawl"}, "project:sales")]
    assert events("data_source.run", False) == [
        ("viewer", {"data_source": "crawl", "error": "forbidden"}, "project:sales")
    ]
    assert events("data_source.delete", True) == [("owner", crawl, "project:sales")]
    assert events("connection.delete", False) == [("outsider", {**src, "error": "not_found"}, None)]
    assert events("connection.delete", True) == [
        (
            "owner",
            {**src, "assets_deleted": ["customers", "orders", "tmp_scratch"]},
            "project:sales",
        )
    ]


def test_run_due_runs_scheduled_sources_once(
    runtime: Runtime, team: Team, sqlite_source: SourceDb
) -> None:
    runtime.connections.create(team.owner, "sales", "src", "sqlite", sqlite_source.params)
    view = runtime.data_sources.create(team.owner, "sales", "crawl", "src", schedule="*/5 * * * *")
    runtime.data_sources.create(team.owner, "sales", "manual", "src")
    assert view.next_run_at is not None
    later = view.next_run_at + timedelta(seconds=1)
    assert runtime.data_sources.run_due(later) == 1
    assert runtime.data_sources.run_due(later) == 0
    [run] = runtime.data_sources.runs(team.owner, "sales", "crawl")
    assert run.trigger == "schedule" and run.status == "succeeded"
    with runtime.store.session() as session:
        source = session.scalar(select(DataSource).where(DataSource.name == "crawl"))
        assert source.next_run_at is not None and source.last_run_at is not None
    assert runtime.data_sources.run_due(datetime.now(UTC) - timedelta(days=1)) == 0


def test_scheduler_ticks_data_sources_and_sync_jobs() -> None:
    from types import SimpleNamespace

    from lakehold.sources.scheduler import Scheduler

    calls: list[str] = []

    def due(name: str):
        def run_due(now: datetime) -> int:
            calls.append(name)
            if name == "sync_jobs":
                raise RuntimeError("a failing service does not stop the scheduler")
            return 1

        return SimpleNamespace(run_due=run_due)

    runtime = SimpleNamespace(data_sources=due("data_sources"), sync_jobs=due("sync_jobs"))
    scheduler = Scheduler(runtime, tick_seconds=0.01)
    assert scheduler.tick(datetime.now(UTC)) == 1
    scheduler.start()
    scheduler.stop()
    assert calls[:2] == ["data_sources", "sync_jobs"] and len(calls) >= 4
