"""Aggregates over federated tables give the source database's own answers -- for members,
and for a subscriber whose grant has a row filter and a column filter -- and an engine's
internal error never reaches a user. Databases with attached sources are reused by later
statements (``lakehold.query.federated``) without carrying anything of one statement to the
next."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import duckdb
import psycopg
import pymysql
import pytest

from lakehold.connectors.attach import ConnectionSpec, attach
from lakehold.errors import LakeholdError, SourceUnavailable
from lakehold.governance.subscriptions import ItemDecision
from lakehold.query import databases, federated
from lakehold.query.messages import INTERNAL_MESSAGE, translate
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.sharing import new_user
from tests.sources.conftest import MARIADB, SOURCES_PG, SourceDb, Team

ROWS = [
    (3, "ada", "300.25"),
    (4, "cy", "99.99"),
    (5, "cy", "1000.00"),
    (6, "dee", None),
    (7, "ada", "100.00"),
    (8, "eve", "250.50"),
]

AGGREGATES = [
    "select count(*) from {t}",
    "select count(amount), sum(amount), min(amount), max(amount) from {t}",
    "select avg(amount) from {t}",
    "select count(distinct customer) from {t}",
    "select customer, count(*), sum(amount) from {t} group by customer order by customer",
    "select customer, avg(amount) from {t} group by customer order by customer",
    "select customer, count(*) from {t} group by customer having count(*) > 1 order by customer",
]

ROW_FILTER = "amount > 100"


@pytest.fixture(autouse=True)
def empty_pool() -> Iterator[None]:
    federated.clear()
    yield
    federated.clear()


@pytest.fixture(params=["pg_source", "mysql_source"])
def source(request: pytest.FixtureRequest) -> SourceDb:
    source: SourceDb = request.getfixturevalue(request.param)
    for id_, customer, amount in ROWS:
        value = "NULL" if amount is None else amount
        source.execute(
            f"INSERT INTO {{schema}}.orders VALUES ({id_}, '{customer}', {value}"
            + (", now())" if source.kind == "postgresql" else ")")
        )
    return source


def _source_answer(source: SourceDb, sql: str) -> list[tuple]:
    """``sql`` answered by the source database itself (as its administrator)."""
    table = f"{source.schema}.orders"
    if source.kind == "postgresql":
        with psycopg.connect(SOURCES_PG) as conn:
            return [tuple(row) for row in conn.execute(sql.format(t=table)).fetchall()]
    conn = pymysql.connect(**MARIADB)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.format(t=table))
            return [tuple(row) for row in cursor.fetchall()]
    finally:
        conn.close()


def _same(ours: list[tuple], theirs: list[tuple]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float | Decimal) or isinstance(y, float | Decimal):
                assert float(x) == pytest.approx(float(y), rel=1e-6)  # MariaDB rounds avg
            else:
                assert x == y


def _answer(runtime: Runtime, who: Principal, sql: str, project: str) -> list[tuple]:
    table = runtime.statements.execute(who, sql, project=project).table
    return [tuple(row.values()) for row in table.to_pylist()]


def _import(runtime: Runtime, team: Team, source: SourceDb) -> None:
    runtime.connections.create(team.owner, "sales", "src", source.kind, dict(source.params))
    runtime.data_sources.create(team.owner, "sales", "crawl", "src", schemas=[source.schema])
    assert runtime.data_sources.run(team.owner, "sales", "crawl").status == "succeeded"


def _subscriber(runtime: Runtime, admin: Principal, team: Team) -> Principal:
    """An analyst of project ``analysts`` granted ``sales.orders`` with the row filter
    ``amount > 100`` and the columns customer and amount."""
    analyst, _ = new_user(runtime, admin, "analyst")
    runtime.catalog.create_project(analyst, "analysts", "Sales")
    listing = runtime.listings.publish(team.owner, "sales", "orders")
    request = runtime.subscriptions.request(
        analyst, "analysts", [listing.id], reason="need this data for analysis"
    )
    runtime.filters.create_filter(
        team.owner, "sales", "orders", "big", kind="row", expression=ROW_FILTER
    )
    runtime.filters.create_filter(
        team.owner, "sales", "orders", "some", kind="column", columns=["customer", "amount"]
    )
    runtime.subscriptions.approve(
        team.owner,
        request.id,
        items=[ItemDecision(listing_id=listing.id, row_filter="big", column_filter="some")],
    )
    return analyst


def test_aggregates_match_the_source_for_members_and_filtered_subscribers(
    runtime: Runtime, admin: Principal, team: Team, source: SourceDb
) -> None:
    _import(runtime, team, source)
    analyst = _subscriber(runtime, admin, team)
    filtered = f"(select * from {{t}} where {ROW_FILTER}) as granted"
    for sql in AGGREGATES:
        ours = _answer(runtime, team.viewer, sql.format(t="sales.orders"), "sales")
        _same(ours, _source_answer(source, sql))
        ours = _answer(runtime, analyst, sql.format(t="sales.orders"), "analysts")
        _same(ours, _source_answer(source, sql.replace("{t}", filtered)))
    # The id column is not granted to the subscriber.
    with pytest.raises(LakeholdError):
        runtime.statements.execute(analyst, "select sum(id) from sales.orders", project="analysts")


def test_an_internal_error_of_the_engine_reaches_no_user(mysql_source: SourceDb) -> None:
    """A real internal error (the MySQL scanner's aggregate pushdown over a subquery, which
    Lakehold turns off) becomes one fixed message: no stack trace, no engine internals."""
    params = {**mysql_source.params, "user": MARIADB["user"]}
    connection = databases.take_federated()
    try:
        attach(connection, ConnectionSpec("src", "mysql", params), "src_1")
        connection.execute("SET mysql_aggregate_pushdown_enabled=true")
        with pytest.raises(duckdb.Error) as caught:
            connection.execute(
                f"select count(*) from (select id from src_1.{mysql_source.schema}.orders)"
            ).fetchall()
    finally:
        databases.discard(connection)
    assert "Stack Trace" in str(caught.value)
    error = translate(caught.value, {})
    assert error.message == INTERNAL_MESSAGE
    for internal in ("Stack", "INTERNAL", ".so", "bind", "count_star", "src_1"):
        assert internal not in error.message


def test_a_pooled_database_carries_nothing_between_principals(
    runtime: Runtime, admin: Principal, team: Team, source: SourceDb
) -> None:
    _import(runtime, team, source)
    analyst = _subscriber(runtime, admin, team)
    sql = "select count(*), sum(amount) from sales.orders"
    everything = _source_answer(source, "select count(*), sum(amount) from {t}")
    granted = _source_answer(source, f"select count(*), sum(amount) from {{t}} where {ROW_FILTER}")
    for _ in range(2):
        _same(_answer(runtime, team.owner, sql, "sales"), everything)
        _same(_answer(runtime, analyst, sql, "analysts"), granted)
        _same(_answer(runtime, team.viewer, sql, "sales"), everything)
    # One database served all six statements; it holds no view, table or macro of theirs.
    (pooled,) = federated.idle()
    for objects in ("duckdb_views()", "duckdb_tables()", "duckdb_functions()"):
        found = pooled.execute(
            f"select count(*) from {objects} where not internal and database_name = 'memory'"
        ).fetchone()
        assert found == (0,)


def test_a_changed_connection_or_source_is_not_served_from_the_pool(
    runtime: Runtime, team: Team, source: SourceDb
) -> None:
    _import(runtime, team, source)
    assert _answer(runtime, team.viewer, "select count(*) from sales.orders", "sales") == [(8,)]
    assert len(federated.idle()) == 1
    # A column added at the source and crawled is read, although the pooled database
    # attached the source before it existed.
    source.execute("ALTER TABLE {schema}.orders ADD COLUMN note VARCHAR(20)")
    source.execute("UPDATE {schema}.orders SET note = 'n' WHERE id = 1")
    assert runtime.data_sources.run(team.owner, "sales", "crawl").status == "succeeded"
    notes = "select count(note) from sales.orders"
    assert _answer(runtime, team.viewer, notes, "sales") == [(1,)]
    # An updated connection is never served by a database of its old settings.
    runtime.connections.update(team.owner, "sales", "src", params={"port": 1})
    with pytest.raises(SourceUnavailable):
        runtime.statements.execute(team.viewer, "select count(*) from sales.orders")
