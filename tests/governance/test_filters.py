"""Asset filters: validation on save, ownership, updates that follow into grants, deletion."""

from __future__ import annotations

import pytest

from lakehold.errors import Conflict, Forbidden, Invalid, NotFound
from lakehold.governance.subscriptions import ItemDecision
from tests.sharing import add_member


@pytest.mark.parametrize(
    "expression",
    [
        "prod_id = 1",
        "prod_id IN (1, 2) AND NOT sale_amount < 100",
        "sale_date BETWEEN DATE '2023-01-01' AND CAST('2023-06-30' AS DATE)",
        "cust_id IS NOT NULL OR (sale_amount >= -1.5 AND prod_id <> 3)",
        "last_purchase_date IS NULL",
        "'x' ILIKE 'X' AND prod_id != 4",
        "PROD_ID = 1",
    ],
)
def test_valid_row_filters_are_saved(world, expression) -> None:
    saved = world.runtime.filters.create_filter(
        world.owner, "retail", "store_sales", "f", kind="row", expression=expression
    )
    assert saved.kind == "row" and saved.expression and saved.columns is None


@pytest.mark.parametrize(
    ("expression", "construct", "column"),
    [
        ("prod_id = (SELECT 1)", "subquery", None),
        ("prod_id IN (SELECT prod_id FROM retail.inventory)", "subquery", None),
        ("upper(cust_name) = 'X'", "function upper", None),
        ("read_csv('/etc/passwd') IS NULL", None, None),
        ("nope = 1", None, "nope"),
        ("store_sales.prod_id = 1", "qualified column", "prod_id"),
        ("inventory.active = 'Y'", "qualified column", "active"),
        ("CAST(sale_amount AS VARCHAR) = '1'", "cast of a non-literal", None),
        ("prod_id + 1 = 2", "ADD", None),
        ("prod_id = 1; DROP TABLE x", None, None),
        ("prod_id = 1 UNION SELECT 1", None, None),
        ("sale_amount", None, None),
        ("", None, None),
        ("EXISTS (SELECT 1)", None, None),
    ],
)
def test_invalid_row_filters_name_the_field_and_construct(
    world, expression, construct, column
) -> None:
    with pytest.raises(Invalid) as caught:
        world.runtime.filters.create_filter(
            world.owner, "retail", "store_sales", "bad", kind="row", expression=expression
        )
    assert caught.value.details["field"] == "expression"
    if construct:
        assert caught.value.details["construct"] == construct
    if column:
        assert caught.value.details["column"] == column
    assert world.runtime.filters.list_filters(world.owner, "retail", "store_sales") == []


@pytest.mark.parametrize(
    ("table", "expression", "column"),
    [
        ("store_sales", "prod_id = 'abc'", "prod_id"),
        ("store_sales", "'abc' <> prod_id", "prod_id"),
        ("store_sales", "prod_id IN (1, 'two')", "prod_id"),
        ("store_sales", "sale_amount > '100'", "sale_amount"),
        ("store_sales", "sale_date = 'yesterday'", "sale_date"),
        ("store_sales", "sale_date BETWEEN '2023-01-01' AND 'soon'", "sale_date"),
        ("store_sales", "sale_date = 20230115", "sale_date"),
        ("customer", "cust_name = 5", "cust_name"),
        ("customer", "cust_country IN ('Greece', -1)", "cust_country"),
        ("inventory", "prod_name = 1.5 OR prod_id = 1", "prod_name"),
    ],
)
def test_row_filter_literals_must_match_their_column_type(world, table, expression, column) -> None:
    # Issue 11: prod_id = 'abc' on a BIGINT column was saved and failed only at query time.
    filters = world.runtime.filters
    with pytest.raises(Invalid) as caught:
        filters.create_filter(
            world.owner, "retail", table, "bad", kind="row", expression=expression
        )
    error = caught.value
    assert (error.details["field"], error.details["column"]) == ("expression", column)
    assert repr(expression) in error.message and repr(column) in error.message
    assert filters.list_filters(world.owner, "retail", table) == []


@pytest.mark.parametrize(
    ("table", "expression"),
    [
        ("store_sales", "sale_date >= '2023-01-15' AND prod_id IN (1, 2)"),
        ("store_sales", "sale_amount BETWEEN -1 AND 100.5"),
        ("store_sales", "prod_id = CAST('5' AS BIGINT)"),
        ("customer", "cust_country = 'Greece' AND cust_id <> 13251813"),
        ("inventory", "active = 'Y'"),
    ],
)
def test_row_filter_literals_of_the_column_type_are_saved(world, table, expression) -> None:
    saved = world.runtime.filters.create_filter(
        world.owner, "retail", table, "ok", kind="row", expression=expression
    )
    assert saved.expression


def test_a_row_filter_update_checks_literal_types(world) -> None:
    filters = world.runtime.filters
    filters.create_filter(
        world.owner, "retail", "store_sales", "f", kind="row", expression="prod_id = 1"
    )
    with pytest.raises(Invalid) as caught:
        filters.update_filter(
            world.owner, "retail", "store_sales", "f", expression="prod_id = 'abc'"
        )
    assert caught.value.details["column"] == "prod_id"
    [kept] = filters.list_filters(world.owner, "retail", "store_sales")
    assert kept.expression == '"prod_id" = 1'


def test_column_filters_need_existing_columns(world) -> None:
    filters = world.runtime.filters
    saved = filters.create_filter(
        world.owner,
        "retail",
        "customer",
        "no_email",
        kind="column",
        columns=["CUST_NAME", "cust_id"],
    )
    assert saved.columns == ["cust_id", "cust_name"]  # the asset's order and spelling
    for columns, problem in (([], None), (["cust_id", "secret"], "secret")):
        with pytest.raises(Invalid) as caught:
            filters.create_filter(
                world.owner, "retail", "customer", "x", kind="column", columns=columns
            )
        assert caught.value.details["field"] == "columns"
        if problem:
            assert caught.value.details["column"] == problem
    with pytest.raises(Conflict):
        filters.create_filter(
            world.owner, "retail", "customer", "no_email", kind="column", columns=["cust_id"]
        )
    with pytest.raises(Invalid) as caught:
        filters.create_filter(world.owner, "retail", "customer", "y", kind="sideways")
    assert caught.value.details["field"] == "kind"


def test_only_owners_manage_filters(world) -> None:
    filters = world.runtime.filters
    add_member(world.runtime, "retail", world.analyst, "contributor")
    with pytest.raises(Forbidden):
        filters.create_filter(
            world.analyst, "retail", "customer", "f", kind="row", expression="cust_id = 1"
        )
    with pytest.raises(NotFound):
        filters.create_filter(
            world.outsider, "retail", "customer", "f", kind="row", expression="cust_id = 1"
        )
    with pytest.raises(NotFound):
        filters.list_filters(world.outsider, "retail", "customer")
    assert filters.list_filters(world.analyst, "retail", "customer") == []
    events = world.runtime.audit.events(world.admin, action="filter.create", allowed=False)
    assert {e.username for e in events} == {"analyst", "outsider"}


def test_filter_update_applies_to_existing_grants_and_delete_in_use_conflicts(world) -> None:
    rt = world.runtime
    rt.filters.create_filter(
        world.owner, "retail", "store_sales", "prod", kind="row", expression="prod_id = 1"
    )
    request = world.request("store_sales")
    rt.subscriptions.approve(
        world.owner,
        request.id,
        items=[ItemDecision(world.listings["store_sales"].id, row_filter="prod")],
    )
    assert world.query("select count(*) as n from retail.store_sales").to_pylist() == [{"n": 7}]
    rt.filters.update_filter(world.owner, "retail", "store_sales", "prod", expression="prod_id = 2")
    assert world.query("select count(*) as n from retail.store_sales").to_pylist() == [{"n": 6}]
    with pytest.raises(Invalid) as caught:
        rt.filters.update_filter(
            world.owner, "retail", "store_sales", "prod", expression="1 = (select 1)"
        )
    assert caught.value.details["field"] == "expression"
    with pytest.raises(Conflict):
        rt.filters.delete_filter(world.owner, "retail", "store_sales", "prod")
    grant = rt.grants.list_grants(world.owner, asset="retail.store_sales")[0]
    rt.grants.revoke(world.owner, grant.id)
    rt.filters.delete_filter(world.owner, "retail", "store_sales", "prod")
    assert rt.filters.list_filters(world.owner, "retail", "store_sales") == []
    actions = {e.action for e in rt.audit.events(world.admin, allowed=True)}
    assert {"filter.create", "filter.update", "filter.delete"} <= actions
