"""Subscription requests and grants: request, approve with filters, reject, revoke, unsubscribe."""

from __future__ import annotations

import pytest

from lakehold.catalog.tables import DataSource
from lakehold.errors import Conflict, Forbidden, Invalid, NotFound
from lakehold.governance.subscriptions import ItemDecision
from tests.conftest import SCENARIOS
from tests.sharing import add_member


def test_request_needs_a_reason_and_a_contributor(world) -> None:
    rt = world.runtime
    for reason in ("", "   "):
        with pytest.raises(Invalid) as caught:
            world.request("customer", reason=reason)
        assert caught.value.details["field"] == "reason"
    listing = world.listings["customer"].id
    with pytest.raises(NotFound):  # not a member of the subscribing project
        rt.subscriptions.request(world.outsider, "analysts", [listing], "why not")
    add_member(rt, "analysts", world.outsider, "viewer")
    with pytest.raises(Forbidden):
        rt.subscriptions.request(world.outsider, "analysts", [listing], "why not")
    with pytest.raises(Invalid) as caught:
        rt.subscriptions.request(world.analyst, "analysts", [], "reason")
    assert caught.value.details["field"] == "listings"
    with pytest.raises(NotFound):
        rt.subscriptions.request(world.analyst, "analysts", ["nope"], "reason")
    assert rt.subscriptions.list_requests(world.analyst) == []
    denied = rt.audit.events(world.admin, action="subscription.request", allowed=False)
    assert len(denied) == 6


def test_cannot_request_own_projects_asset(world) -> None:
    with pytest.raises(Invalid) as caught:
        world.runtime.subscriptions.request(
            world.owner, "retail", [world.listings["customer"].id], "mine"
        )
    assert caught.value.details["field"] == "listings"


def test_incoming_and_outgoing_views(world) -> None:
    rt = world.runtime
    request = rt.subscriptions.request(
        world.analyst,
        "analysts",
        [world.listings["customer"].id],
        "need this data for analysis",
        form_values={"use_case": "churn"},
    )
    assert request.status == "requested" and request.requester == "analyst"
    assert request.owning_project == "retail" and request.form_values == {"use_case": "churn"}
    incoming = rt.subscriptions.list_requests(world.owner, direction="incoming")
    assert [r.id for r in incoming] == [request.id]
    assert incoming[0].reason == "need this data for analysis"
    assert rt.subscriptions.list_requests(world.owner, direction="outgoing") == []
    assert [r.id for r in rt.subscriptions.list_requests(world.analyst, direction="outgoing")] == [
        request.id
    ]
    assert rt.subscriptions.list_requests(world.analyst, direction="incoming") == []
    assert rt.subscriptions.list_requests(world.outsider) == []
    with pytest.raises(NotFound):
        rt.subscriptions.get_request(world.outsider, request.id)
    # A contributor of the owning project does not see incoming requests.
    add_member(rt, "retail", world.outsider, "contributor")
    assert rt.subscriptions.list_requests(world.outsider, direction="incoming") == []


def test_only_owners_of_the_assets_project_decide(world) -> None:
    rt = world.runtime
    request = world.request("customer")
    with pytest.raises(NotFound):  # unrelated
        rt.subscriptions.approve(world.outsider, request.id)
    with pytest.raises(Forbidden):  # the requester cannot approve its own request
        rt.subscriptions.approve(world.analyst, request.id)
    add_member(rt, "retail", world.outsider, "contributor")
    with pytest.raises(Forbidden):
        rt.subscriptions.reject(world.outsider, request.id)
    # An owner of another project cannot approve a request for retail's asset.
    other = rt.subscriptions.request(
        world.analyst, "analysts", [rt.listings.publish(world.owner, "retail", "inventory").id], "x"
    )
    with pytest.raises(NotFound):
        rt.subscriptions.approve(world.admin.in_project(None), "missing")
    assert rt.subscriptions.get_request(world.owner, other.id).status == "requested"
    approved = rt.subscriptions.approve(world.owner, request.id, comment="ok")
    assert approved.status == "approved" and approved.decided_by == "owner"
    assert approved.decision_comment == "ok" and approved.items[0].grant_id
    with pytest.raises(Conflict):
        rt.subscriptions.approve(world.owner, request.id)
    with pytest.raises(Conflict):
        rt.subscriptions.reject(world.owner, request.id)
    denied = rt.audit.events(world.admin, action="subscription.approve", allowed=False)
    assert len(denied) == 4


def test_approving_another_projects_request_is_refused(world) -> None:
    rt = world.runtime
    # elsewhere (outsider's project) publishes a table; analysts request it; retail's owner
    # cannot decide on it.
    rt.table_service.create_table(
        world.outsider, "elsewhere", "things", DataSource(SCENARIOS / "retail_inventory.csv")
    )
    listing = rt.listings.publish(world.outsider, "elsewhere", "things")
    request = rt.subscriptions.request(world.analyst, "analysts", [listing.id], "reason")
    with pytest.raises(NotFound):
        rt.subscriptions.approve(world.owner, request.id)
    add_member(rt, "analysts", world.owner, "owner")
    with pytest.raises(Forbidden):
        rt.subscriptions.approve(world.owner, request.id)
    assert rt.subscriptions.approve(world.outsider, request.id).status == "approved"


def test_one_request_names_listings_of_one_project(world) -> None:
    rt = world.runtime
    rt.table_service.create_table(
        world.outsider, "elsewhere", "things", DataSource(SCENARIOS / "retail_inventory.csv")
    )
    other = rt.listings.publish(world.outsider, "elsewhere", "things")
    with pytest.raises(Invalid) as caught:
        rt.subscriptions.request(
            world.analyst, "analysts", [world.listings["customer"].id, other.id], "both"
        )
    assert caught.value.details["field"] == "listings"


def test_reject_grants_nothing(world) -> None:
    rt = world.runtime
    request = world.request("customer")
    rejected = rt.subscriptions.reject(world.owner, request.id, comment="not for you")
    assert rejected.status == "rejected" and rejected.decision_comment == "not for you"
    assert rt.grants.list_grants(world.analyst) == []
    with pytest.raises(NotFound):
        world.query("select * from retail.customer")


def test_approval_filters_must_belong_to_the_asset_and_kind(world) -> None:
    rt = world.runtime
    rt.filters.create_filter(
        world.owner, "retail", "customer", "cols", kind="column", columns=["cust_id"]
    )
    rt.filters.create_filter(
        world.owner, "retail", "store_sales", "rows", kind="row", expression="prod_id = 1"
    )
    request = world.request("customer")
    listing = world.listings["customer"].id
    for decision, field in (
        (ItemDecision(listing, row_filter="cols"), "row_filter"),
        (ItemDecision(listing, row_filter="rows"), "row_filter"),  # another asset's filter
        (ItemDecision(listing, column_filter="missing"), "column_filter"),
        (ItemDecision(world.listings["store_sales"].id), "items"),
    ):
        with pytest.raises(Invalid) as caught:
            rt.subscriptions.approve(world.owner, request.id, items=[decision])
        assert caught.value.details["field"] == field
    assert rt.subscriptions.get_request(world.owner, request.id).status == "requested"
    assert rt.grants.list_grants(world.owner) == []


def test_reapproval_replaces_the_grant(world) -> None:
    rt = world.runtime
    rt.filters.create_filter(
        world.owner, "retail", "store_sales", "p1", kind="row", expression="prod_id = 1"
    )
    listing = world.listings["store_sales"].id
    first = rt.subscriptions.approve(world.owner, world.request("store_sales").id)
    assert world.query("select count(*) as n from retail.store_sales").to_pylist() == [{"n": 20}]
    second = rt.subscriptions.approve(
        world.owner, world.request("store_sales").id, items=[ItemDecision(listing, row_filter="p1")]
    )
    assert world.query("select count(*) as n from retail.store_sales").to_pylist() == [{"n": 7}]
    grants = rt.grants.list_grants(world.owner, include_revoked=True)
    by_id = {g.id: g for g in grants}
    assert by_id[first.items[0].grant_id].status == "revoked"
    assert by_id[second.items[0].grant_id].status == "active"
    assert by_id[second.items[0].grant_id].row_filter == "p1"
    assert [g.id for g in rt.grants.list_grants(world.analyst)] == [second.items[0].grant_id]


def test_revoke_and_unsubscribe_take_effect_at_once(world) -> None:
    rt = world.runtime
    approved = rt.subscriptions.approve(world.owner, world.request("customer", "inventory").id)
    grants = {i.asset: i.grant_id for i in approved.items}
    assert world.query("select count(*) as n from retail.customer").to_pylist() == [{"n": 6}]
    with pytest.raises(Forbidden):  # the subscriber cannot revoke
        rt.grants.revoke(world.analyst, grants["retail.customer"])
    with pytest.raises(Forbidden):  # the owner of the asset does not unsubscribe for others
        rt.grants.unsubscribe(world.owner, grants["retail.customer"])
    with pytest.raises(NotFound):
        rt.grants.revoke(world.outsider, grants["retail.customer"])
    rt.grants.revoke(world.owner, grants["retail.customer"])
    with pytest.raises(NotFound) as caught:
        world.query("select count(*) as n from retail.customer")
    assert caught.value.message == "table 'retail.customer' not found"
    with pytest.raises(Conflict):
        rt.grants.revoke(world.owner, grants["retail.customer"])
    rt.grants.unsubscribe(world.analyst, grants["retail.inventory"])
    with pytest.raises(NotFound):
        world.query("select * from retail.inventory")
    actions = [e.action for e in rt.audit.events(world.admin, allowed=True)]
    assert "grant.revoke" in actions and "grant.unsubscribe" in actions
