"""The access decision in governed statements: membership, grants in the acting project, audit,
time travel with filters, and CREATE TABLE ... AS SELECT."""

from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable

from lakehold.catalog.tables import DataSource
from lakehold.errors import Forbidden, NotFound
from lakehold.governance.statements import SOURCES_KEY
from lakehold.governance.subscriptions import ItemDecision
from tests.conftest import SCENARIOS
from tests.sharing import add_member

COUNT = "select count(*) as n from retail.store_sales"


def _grant(world, table: str, **filters: str) -> None:
    request = world.request(table)
    decision = ItemDecision(world.listings[table].id, **filters)
    world.runtime.subscriptions.approve(world.owner, request.id, items=[decision])


def test_members_read_everything_without_acting_project(world) -> None:
    add_member(world.runtime, "retail", world.outsider, "viewer")
    assert world.query(COUNT, who=world.outsider, project=None).to_pylist() == [{"n": 20}]


def test_a_grant_applies_only_when_acting_in_the_subscribing_project(world) -> None:
    _grant(world, "store_sales")
    assert world.query(COUNT).to_pylist() == [{"n": 20}]
    with pytest.raises(NotFound) as caught:
        world.query(COUNT, project=None)
    assert caught.value.message == "table 'retail.store_sales' not found"
    with pytest.raises(NotFound) as caught:  # acting in a project it is not a member of
        world.query(COUNT, project="elsewhere")
    assert caught.value.details["field"] == "project"
    with pytest.raises(NotFound):  # another user of no project with a grant
        world.query(COUNT, who=world.outsider, project="elsewhere")
    # Principal.project is the default acting project.
    acting = world.analyst.in_project("analysts")
    assert world.query(COUNT, who=acting, project=None).to_pylist() == [{"n": 20}]


def test_refusals_look_like_missing_tables_and_are_audited(world) -> None:
    rt = world.runtime
    messages = []
    for sql in (COUNT, "select count(*) from retail.no_such_table", "select 1 from nope.x"):
        with pytest.raises(NotFound) as caught:
            world.query(sql)
        messages.append(caught.value.to_dict())
    assert messages[0] == {"error": "not_found", "message": "table 'retail.store_sales' not found"}
    assert messages[1] == {
        "error": "not_found",
        "message": "table 'retail.no_such_table' not found",
    }
    denied = rt.audit.events(world.admin, action="statement", allowed=False)
    reasons = {e.sql: e.reason for e in denied}
    assert reasons[COUNT] == "no active grant to project 'analysts'"
    assert reasons["select count(*) from retail.no_such_table"] == "no such table"
    assert reasons["select 1 from nope.x"] == "no such project"
    assert all(e.username == "analyst" and e.project == "analysts" for e in denied)
    _grant(world, "store_sales", row_filter=None)
    world.query(COUNT)
    allowed = rt.audit.events(world.admin, action="statement", allowed=True)
    assert allowed[0].assets == ["retail.store_sales"] and allowed[0].sql == COUNT
    assert allowed[0].details["grants"]["retail.store_sales"]["grant"]


def test_time_travel_keeps_the_filters(world) -> None:
    rt = world.runtime
    rt.table_service.write(
        world.owner,
        "retail",
        "customer",
        DataSource(SCENARIOS / "retail_customer.csv"),
        mode="append",
    )
    rt.filters.create_filter(
        world.owner, "retail", "customer", "c", kind="column", columns=["cust_id", "cust_country"]
    )
    rt.filters.create_filter(
        world.owner, "retail", "customer", "r", kind="row", expression="cust_country = 'India'"
    )
    _grant(world, "customer", row_filter="r", column_filter="c")
    now = world.query("select * from retail.customer").to_pylist()
    before = world.query("select * from retail.customer version as of 0").to_pylist()
    assert now == [{"cust_id": 1581546, "cust_country": "India"}] * 2
    assert before == [{"cust_id": 1581546, "cust_country": "India"}]


def test_ctas_writes_into_a_contributors_project_and_records_sources(world) -> None:
    rt = world.runtime
    rt.filters.create_filter(
        world.owner, "retail", "store_sales", "p1", kind="row", expression="prod_id = 1"
    )
    _grant(world, "store_sales", row_filter="p1")
    sql = "create table analysts.top_sales as select sale_id, sale_amount from retail.store_sales"
    out = world.query(sql).to_pylist()
    assert out == [{"table": "analysts.top_sales", "created": True, "rows": 7, "version": 0}]
    assert world.query("select count(*) as n from analysts.top_sales").to_pylist() == [{"n": 7}]
    asset = rt.catalog.get_asset(world.analyst, "analysts", "top_sales")
    commit = DeltaTable(rt.tables.path_for("analysts", "top_sales")).history()[-1]
    assert json.loads(commit[SOURCES_KEY]) == ["retail.store_sales"]
    assert asset.row_count == 7
    event = rt.audit.events(world.admin, action="table.create_as_select")[0]
    assert event.details["sources"] == ["retail.store_sales"]
    assert event.details["table"] == "analysts.top_sales"
    # Into a project where the principal is not a contributor: Forbidden, nothing written.
    add_member(rt, "elsewhere", world.analyst, "viewer")
    for target in ("elsewhere.x", "retail.x", "nowhere.x"):
        with pytest.raises(Forbidden):
            world.query(f"create table {target} as select 1 as one")
    assert [a.name for a in rt.catalog.list_assets(world.outsider, "elsewhere")] == []
    # Reading through the same grants: an ungranted table stays not found.
    with pytest.raises(NotFound):
        world.query("create table analysts.copy as select * from retail.customer")
    assert [a.name for a in rt.catalog.list_assets(world.analyst, "analysts")] == ["top_sales"]
    done = world.query("create table if not exists analysts.top_sales as select 1 as x")
    assert done.to_pylist()[0]["created"] is False
