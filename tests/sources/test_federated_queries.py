"""Governed queries over federated tables: read where the data sits, under the same grants,
row filters and column filters as lakehouse tables; sources that are down or slow."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lakehold.connectors.attach import attach
from lakehold.errors import Forbidden, Invalid, NotFound, SourceUnavailable, Timeout
from lakehold.governance.subscriptions import ItemDecision
from lakehold.query import databases
from lakehold.query import plan as plan_of
from lakehold.query.execute import statement_sql
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.sharing import new_user
from tests.sources.conftest import SourceDb, Team


def _import(runtime: Runtime, team: Team, source: SourceDb, *, password: str | None = None):
    runtime.connections.create(
        team.owner, "sales", "src", source.kind, dict(source.params), password=password
    )
    schemas = [source.schema] if source.kind not in ("sqlite", "files") else None
    runtime.data_sources.create(team.owner, "sales", "crawl", "src", schemas=schemas)
    run = runtime.data_sources.run(team.owner, "sales", "crawl")
    assert run.status == "succeeded", run


def _rows(runtime: Runtime, who: Principal, sql: str, project: str = "sales") -> list[tuple]:
    table = runtime.statements.execute(who, sql, project=project).table
    return sorted(tuple(row.values()) for row in table.to_pylist())


@pytest.mark.parametrize("source_name", ["pg_source", "mysql_source", "sqlite_source"])
def test_members_query_federated_tables_and_join_the_lakehouse(
    runtime: Runtime, team: Team, source_name: str, request: pytest.FixtureRequest
) -> None:
    source: SourceDb = request.getfixturevalue(source_name)
    _import(runtime, team, source)
    assert _rows(runtime, team.viewer, "select id, customer from sales.orders") == [
        (1, "ada"),
        (2, "bob"),
    ]
    runtime.statements.execute(
        team.owner, "create table sales.regions as select 'ada' as customer, 'north' as region"
    )
    joined = _rows(
        runtime,
        team.viewer,
        "select o.id, r.region from sales.orders o join sales.regions r using (customer) "
        "where o.amount > 100",
    )
    assert joined == [(1, "north")]
    # Time travel means nothing for a source without versions.
    with pytest.raises(Invalid, match="federated"):
        runtime.statements.execute(team.viewer, "select * from sales.orders version as of 1")


def test_folder_of_files_is_queried_in_place(
    runtime: Runtime, team: Team, files_source: Path
) -> None:
    runtime.connections.create(team.owner, "sales", "src", "files", {"path": str(files_source)})
    runtime.data_sources.create(team.owner, "sales", "crawl", "src")
    assert runtime.data_sources.run(team.owner, "sales", "crawl").status == "succeeded"
    assert _rows(runtime, team.viewer, "select id, customer from sales.orders") == [
        (1, "ada"),
        (2, "bob"),
    ]
    assert _rows(runtime, team.viewer, "select id from sales.clicks") == [(1,), (2,)]
    # The statement may open the folder's tables it reads, and nothing else.
    with pytest.raises(Forbidden):
        runtime.statements.execute(team.viewer, "select * from read_csv('/etc/passwd')")


def test_grants_and_filters_apply_to_federated_tables(
    runtime: Runtime, admin: Principal, team: Team, pg_source: SourceDb
) -> None:
    _import(runtime, team, pg_source)
    pg_source.execute("INSERT INTO {schema}.orders VALUES (3, 'cy', 300, now())")
    analyst, _ = new_user(runtime, admin, "analyst")
    runtime.catalog.create_project(analyst, "analysts", "Sales")
    sql = "select id, customer, amount from sales.orders"

    def refused() -> None:
        with pytest.raises(NotFound) as caught:
            runtime.statements.execute(analyst, sql, project="analysts")
        assert caught.value.message == "table 'sales.orders' not found"

    refused()
    listing = runtime.listings.publish(team.owner, "sales", "orders")
    request = runtime.subscriptions.request(
        analyst, "analysts", [listing.id], reason="need this data for analysis"
    )
    refused()
    runtime.filters.create_filter(
        team.owner, "sales", "orders", "big", kind="row", expression="amount > 100"
    )
    runtime.filters.create_filter(
        team.owner, "sales", "orders", "no_amount", kind="column", columns=["id", "customer"]
    )
    runtime.subscriptions.approve(
        team.owner,
        request.id,
        items=[ItemDecision(listing_id=listing.id, row_filter="big", column_filter="no_amount")],
    )
    with pytest.raises(Invalid):  # amount is not granted
        runtime.statements.execute(analyst, sql, project="analysts")
    star = _rows(runtime, analyst, "select * from sales.orders", "analysts")
    assert star == [(1, "ada"), (3, "cy")]
    # A user's predicate cannot see rows the row filter hides.
    assert _rows(runtime, analyst, "select id from sales.orders where id = 2", "analysts") == []

    # The row filter and the projection are pushed down to PostgreSQL.
    planned = runtime.statements._plan(analyst, "select * from sales.orders", "analysts", "duckdb")
    executable = plan_of(planned.prepared, planned.resolved)
    assert [a.alias for a in executable.attachments] == ["src_1"]
    assert "amount > 100" in executable.views[0].sql.replace('"', "")
    connection = databases.take_federated()
    try:
        attach(connection, executable.attachments[0].source, "src_1")
        explained = connection.execute("EXPLAIN " + statement_sql(executable)).fetchall()
    finally:
        databases.discard(connection)
    scan = explained[0][1]
    assert "POSTGRES_SCAN" in scan and "amount>100" in scan.replace(" ", "")

    (grant,) = runtime.grants.list_grants(team.owner, project="analysts")
    runtime.grants.revoke(team.owner, grant.id)
    refused()


def test_source_down_names_the_connection_without_secrets(
    runtime: Runtime, team: Team, pg_source: SourceDb
) -> None:
    _import(runtime, team, pg_source, password="s3cret-pw")
    runtime.connections.update(team.owner, "sales", "src", params={"port": 1})
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as caught:
        runtime.statements.execute(team.viewer, "select * from sales.orders")
    assert time.monotonic() - started < 10
    assert "'src'" in caught.value.message and "s3cret" not in caught.value.message
    assert caught.value.status_code == 502


def test_slow_source_stops_at_the_statement_timeout(
    runtime: Runtime, team: Team, pg_source: SourceDb
) -> None:
    pg_source.execute(
        "CREATE VIEW {schema}.slow AS SELECT x, pg_sleep(0.5)::text AS s "
        "FROM generate_series(1, 200) x"
    )
    _import(runtime, team, pg_source)
    started = time.monotonic()
    with pytest.raises(Timeout):
        runtime.statements.execute(
            team.viewer, "select count(*) from sales.slow", timeout_seconds=1
        )
    assert time.monotonic() - started < 1 + 2 + 1.5  # timeout + grace + margin


def test_attached_sources_are_not_reachable_by_name(
    runtime: Runtime, team: Team, pg_source: SourceDb
) -> None:
    _import(runtime, team, pg_source)
    attempts = [
        f"select * from src_1.{pg_source.schema}.orders",
        "select * from postgres_query('src_1', 'select 1')",
        "select * from postgres_scan('host=127.0.0.1 user=postgres dbname=test', 'public', 'x')",
        "select * from duckdb_databases()",
        "select * from sales.orders o, (select * from src_1.information_schema.tables) t",
    ]
    for sql in attempts:
        with pytest.raises((NotFound, Invalid, Forbidden)) as caught:
            runtime.statements.execute(team.viewer, sql)
        assert "postgres" not in caught.value.message.lower() or "postgres_" in sql


def test_a_folder_reads_only_files_inside_it(
    runtime: Runtime, team: Team, files_source: Path, tmp_path: Path
) -> None:
    """A symbolic link out of the connection's folder (into Lakehold's warehouse, say) is not a
    table of it, at crawl time or at query time; statements read the folder's files through
    private links, never by their own paths."""
    outside = tmp_path / "outside"
    (outside / "stolen").mkdir(parents=True)
    (outside / "secret.csv").write_text("id,secret\n1,TOPSECRET\n")
    (outside / "stolen" / "p.parquet").write_bytes(
        (files_source / "customers.parquet").read_bytes()
    )
    (files_source / "leak.csv").symlink_to(outside / "secret.csv")
    (files_source / "stolen").symlink_to(outside / "stolen", target_is_directory=True)
    runtime.connections.create(team.owner, "sales", "src", "files", {"path": str(files_source)})
    runtime.data_sources.create(team.owner, "sales", "crawl", "src")
    assert runtime.data_sources.run(team.owner, "sales", "crawl").status == "succeeded"
    for table in ("leak", "stolen"):
        with pytest.raises(NotFound):
            _rows(runtime, team.viewer, f"select * from sales.{table}")
    # A file crawled while real, later swapped for a link out of the folder, is not read.
    (files_source / "orders.csv").unlink()
    (files_source / "orders.csv").symlink_to(outside / "secret.csv")
    with pytest.raises(NotFound):
        _rows(runtime, team.viewer, "select * from sales.orders")
    # The statement may not open the folder's files by their own paths either.
    assert _rows(runtime, team.viewer, "select id from sales.clicks") == [(1,), (2,)]
    for path in (files_source / "clicks" / "p1.parquet", files_source / "events.jsonl"):
        with pytest.raises((Forbidden, NotFound)):
            runtime.statements.execute(
                team.viewer, f'select * from sales.clicks, "{path}"', project="sales"
            )
