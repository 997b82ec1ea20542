"""Changing a grant's filters in place (issue 11): the same grant, other filters, at once; owners
of the asset's project only; filters of the asset and of the right kind; serialised with
revocation; audited with the filters before and after. On SQLite and PostgreSQL."""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lakehold.cli.main import app
from lakehold.config import Settings
from lakehold.errors import Conflict, Forbidden, Invalid, NotFound
from lakehold.governance.grants import KEEP
from lakehold.governance.subscriptions import ItemDecision
from lakehold.store.models import Grant
from tests.governance.conftest import World
from tests.governance.test_concurrency import kinds, race
from tests.sharing import add_member, client_for

COUNT = "select count(*) as n from retail.store_sales"


def _filters(world: World) -> None:
    filters, owner = world.runtime.filters, world.owner
    filters.create_filter(
        owner, "retail", "store_sales", "p1", kind="row", expression="prod_id = 1"
    )
    filters.create_filter(
        owner, "retail", "store_sales", "p2", kind="row", expression="prod_id = 2"
    )
    filters.create_filter(
        owner, "retail", "store_sales", "ids", kind="column", columns=["sale_id", "prod_id"]
    )
    filters.create_filter(
        owner, "retail", "customer", "cust_rows", kind="row", expression="cust_id > 0"
    )


def _granted(world: World, row_filter: str | None = "p1") -> str:
    """Approve a request for store_sales with ``row_filter``; the grant's id."""
    _filters(world)
    decision = ItemDecision(world.listings["store_sales"].id, row_filter=row_filter)
    approved = world.runtime.subscriptions.approve(
        world.owner, world.request("store_sales").id, items=[decision]
    )
    grant_id = approved.items[0].grant_id
    assert grant_id is not None
    return grant_id


def _columns(world: World) -> list[str]:
    return world.query("select * from retail.store_sales limit 1").column_names


def test_the_analysts_result_changes_at_once_and_the_grant_stays(world: World) -> None:
    rt = world.runtime
    grant_id = _granted(world)
    assert world.query(COUNT).to_pylist() == [{"n": 7}]
    assert len(_columns(world)) == 6

    changed = rt.grants.change_filters(world.owner, grant_id, row_filter="p2", column_filter="ids")
    assert (changed.id, changed.status) == (grant_id, "active")
    assert (changed.row_filter, changed.column_filter) == ("p2", "ids")
    assert changed.columns == ["sale_id", "prod_id"]
    assert world.query(COUNT).to_pylist() == [{"n": 6}]
    assert _columns(world) == ["sale_id", "prod_id"]
    assert {
        r["prod_id"] for r in world.query("select prod_id from retail.store_sales").to_pylist()
    } == {2}

    # KEEP leaves a filter as it is; None removes it.
    changed = rt.grants.change_filters(world.owner, grant_id, row_filter=None, column_filter=KEEP)
    assert (changed.row_filter, changed.column_filter) == (None, "ids")
    assert world.query(COUNT).to_pylist() == [{"n": 20}]
    assert _columns(world) == ["sale_id", "prod_id"]
    changed = rt.grants.change_filters(world.owner, grant_id, column_filter=None)
    assert (changed.row_filter, changed.column_filter) == (None, None)
    assert len(_columns(world)) == 6

    # Still one grant, one active, with the same id; the request keeps its decision.
    grants = rt.grants.list_grants(world.owner, include_revoked=True)
    assert [(g.id, g.status) for g in grants] == [(grant_id, "active")]
    with rt.store.session() as session:
        assert len(session.scalars(select(Grant)).all()) == 1
    request = rt.subscriptions.list_requests(world.owner)[0]
    assert request.items[0].row_filter == "p1"
    # A filter a grant now uses is in use; the one it left is free to delete.
    rt.grants.change_filters(world.owner, grant_id, row_filter="p2")
    with pytest.raises(Conflict):
        rt.filters.delete_filter(world.owner, "retail", "store_sales", "p2")
    rt.filters.delete_filter(world.owner, "retail", "store_sales", "p1")


def test_only_owners_of_the_assets_project_change_filters(world: World) -> None:
    rt = world.runtime
    grant_id = _granted(world)
    change = partial(rt.grants.change_filters, grant_id=grant_id, row_filter="p2")
    with pytest.raises(NotFound):  # unrelated
        change(world.outsider)
    with pytest.raises(NotFound):
        rt.grants.change_filters(world.owner, "missing", row_filter="p2")
    with pytest.raises(Forbidden):  # the subscriber (an owner of analysts) cannot
        change(world.analyst)
    add_member(rt, "retail", world.outsider, "contributor")
    with pytest.raises(Forbidden):  # a contributor of the asset's project cannot either
        change(world.outsider)
    assert world.query(COUNT).to_pylist() == [{"n": 7}]
    assert change(world.admin.in_project(None)).row_filter == "p2"  # administrators count
    denied = rt.audit.events(world.admin, action="grant.change_filters", allowed=False)
    assert len(denied) == 4


def test_filters_must_be_the_assets_and_of_the_right_kind(world: World) -> None:
    rt = world.runtime
    grant_id = _granted(world)
    for options, field in (
        ({"row_filter": "ids"}, "row_filter"),  # a column filter
        ({"column_filter": "p2"}, "column_filter"),  # a row filter
        ({"row_filter": "cust_rows"}, "row_filter"),  # another asset's filter
        ({"row_filter": "missing"}, "row_filter"),
        ({"column_filter": "missing"}, "column_filter"),
        ({"row_filter": "p2", "column_filter": "p1"}, "column_filter"),  # nothing half-done
    ):
        with pytest.raises(Invalid) as caught:
            rt.grants.change_filters(world.owner, grant_id, **options)
        assert caught.value.details["field"] == field
    assert rt.grants.get_grant(world.owner, grant_id).row_filter == "p1"
    assert world.query(COUNT).to_pylist() == [{"n": 7}]


def test_a_revoked_grant_cannot_change(world: World) -> None:
    rt = world.runtime
    grant_id = _granted(world)
    rt.grants.revoke(world.owner, grant_id)
    with pytest.raises(Conflict):
        rt.grants.change_filters(world.owner, grant_id, row_filter="p2")
    assert rt.grants.get_grant(world.owner, grant_id).row_filter == "p1"


def test_the_change_is_audited_with_filters_before_and_after(world: World) -> None:
    rt = world.runtime
    grant_id = _granted(world)
    rt.grants.change_filters(world.owner, grant_id, row_filter="p2", column_filter="ids")
    [event] = rt.audit.events(world.admin, action="grant.change_filters", allowed=True)
    assert event.username == "owner" and event.project == "retail"
    assert event.assets == ["retail.store_sales"]
    assert event.details["grant"] == grant_id and event.details["subscriber"] == "analysts"
    assert event.details["before"] == {"row_filter": "p1", "column_filter": None}
    assert event.details["after"] == {"row_filter": "p2", "column_filter": "ids"}


def test_the_change_is_a_governance_event_for_webhooks(world: World) -> None:
    from sqlalchemy import select

    from lakehold.store.models import OutboxEvent

    grant_id = _granted(world)
    world.runtime.grants.change_filters(world.owner, grant_id, row_filter="p2")
    with world.runtime.store.session() as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.event_type == "subscription.filters_changed")
        ).all()
        payloads = [row.payload for row in rows]
    [payload] = payloads
    assert payload["grant_id"] == grant_id and payload["action"] == "change_filters"
    assert payload["project"] == "analysts" and payload["owning_project"] == "retail"
    assert payload["before"] == {"row_filter": "p1", "column_filter": None}


def test_a_concurrent_change_and_revoke_end_consistent(world: World) -> None:
    rt = world.runtime
    _filters(world)
    decision = ItemDecision(world.listings["store_sales"].id, row_filter="p1")
    for _ in range(3):
        approved = rt.subscriptions.approve(
            world.owner, world.request("store_sales").id, items=[decision]
        )
        grant_id = approved.items[0].grant_id
        assert grant_id is not None
        change, revoke = race(
            [
                partial(rt.grants.change_filters, world.owner, grant_id, row_filter="p2"),
                partial(rt.grants.revoke, world.owner, grant_id),
            ]
        )
        assert not isinstance(revoke, Exception), revoke
        # Either the change ran first (then the revocation) or it found the grant revoked.
        assert kinds([change]) in ({"ok": 1}, {"conflict": 1}), change
        grant = rt.grants.get_grant(world.owner, grant_id)
        assert grant.status == "revoked"
        assert grant.row_filter == ("p1" if isinstance(change, Exception) else "p2")
        with pytest.raises(NotFound):
            world.query(COUNT)
        with rt.store.session() as session:
            assert session.scalars(select(Grant).where(Grant.revoked_at.is_(None))).all() == []


def test_a_concurrent_change_and_reapproval_keep_one_active_grant(world: World) -> None:
    rt = world.runtime
    grant_id = _granted(world)
    request = world.request("store_sales")
    outcomes = race(
        [
            partial(rt.grants.change_filters, world.owner, grant_id, row_filter="p2"),
            partial(rt.subscriptions.approve, world.owner, request.id),
        ]
    )
    change, approval = outcomes
    assert not isinstance(approval, Exception), approval
    assert kinds([change]) in ({"ok": 1}, {"conflict": 1}), change
    active = rt.grants.list_grants(world.owner)
    assert [g.id for g in active] == [approval.items[0].grant_id]
    assert active[0].row_filter is None  # the new approval's decision
    assert world.query(COUNT).to_pylist() == [{"n": 20}]


def test_patch_over_http(world: World) -> None:
    rt = world.runtime
    grant_id = _granted(world)
    owner_token = rt.security.create_token(world.admin, "http", username="owner").value
    analyst_token = rt.security.create_token(world.admin, "http", username="analyst").value
    outsider_token = rt.security.create_token(world.admin, "http", username="outsider").value
    assert owner_token and analyst_token and outsider_token
    path = f"/api/v1/grants/{grant_id}"
    with client_for(rt, owner_token) as http:
        answer = http.patch(path, json={"column_filter": "ids"})  # row filter omitted: kept
        assert answer.status_code == 200, answer.text
        assert (answer.json()["row_filter"], answer.json()["column_filter"]) == ("p1", "ids")
        answer = http.patch(path, json={"row_filter": None})  # null removes it
        assert (answer.json()["row_filter"], answer.json()["column_filter"]) == (None, "ids")
        assert answer.json()["id"] == grant_id
        for body, field in (
            ({"row_filter": "ids"}, "row_filter"),
            ({"column_filter": "nope"}, "column_filter"),
        ):
            answer = http.patch(path, json=body)
            assert answer.status_code == 400 and answer.json()["field"] == field, answer.text
        answer = http.patch(path, json={"row_filter": "p2", "expires": "never"})
        assert answer.status_code == 400 and "expires" in answer.text
        assert http.patch("/api/v1/grants/missing", json={}).status_code == 404
    with client_for(rt, analyst_token) as http:  # the subscriber's owner: forbidden
        assert http.patch(path, json={"row_filter": None}).status_code == 403
    with client_for(rt, outsider_token) as http:
        assert http.patch(path, json={"row_filter": None}).status_code == 404
    assert world.query(COUNT).to_pylist() == [{"n": 20}]
    assert _columns(world) == ["sale_id", "prod_id"]


def test_cli_grant_update(world: World, settings: Settings) -> None:
    rt = world.runtime
    grant_id = _granted(world)
    token = rt.security.create_token(world.admin, "cli", username="owner").value
    assert token
    env = {
        "LAKEHOLD_HOME": str(settings.home),
        "LAKEHOLD_DATABASE_URL": settings.database_url,
        "LAKEHOLD_TOKEN": token,
        "COLUMNS": "200",
    }
    runner = CliRunner()

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["grant", "update", *args], env=env)
        assert result.exit_code == code, result.output
        return result.output

    assert "Example: lakehold grant update" in cli("--help")
    out = cli(grant_id, "--row-filter", "p2", "--column-filter", "ids")
    assert "with p2, ids" in out
    assert world.query(COUNT).to_pylist() == [{"n": 6}]
    assert "with ids" in cli(grant_id, "--no-row-filter")
    assert world.query(COUNT).to_pylist() == [{"n": 20}]
    assert "no filters" in cli(grant_id, "--no-column-filter")
    assert len(_columns(world)) == 6
    assert "row_filter" in cli(grant_id, "--row-filter", "ids", code=2)
    assert "nothing to change" in cli(grant_id, code=2)
    assert "not both" in cli(grant_id, "--row-filter", "p1", "--no-row-filter", code=2)
