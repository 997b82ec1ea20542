"""Scenario 3 (retail data shared across teams) through the SDK against a real server:
filters, publishing, a request and its approval with filters, a grant's filters changed in
place, revocation, and a webhook of the owning project that receives every step.

Only the data loading is plain HTTP (a multipart upload of the scenario's files)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from lakehold.client import models as m
from lakehold.errors import Conflict, Forbidden, Invalid, NotFound
from tests.conftest import SCENARIOS
from tests.webhook_receiver import receiver

SCENARIO = (
    "select * from retail.store_sales sales left join retail.customer customer "
    "on sales.cust_id = customer.cust_id inner join retail.inventory inventory "
    "on sales.prod_id = inventory.prod_id where inventory.active = 'Y'"
)
TABLES = ("customer", "inventory", "store_sales")
SECRET = "sdk-webhook-secret-0123456789"


def _load(server, token: str, table: str, project: str = "retail") -> None:
    """``<project>.<table>`` from the scenario's retail CSV file (a multipart upload)."""
    response = httpx.post(
        f"{server.url}/api/v1/projects/{project}/tables",
        data={"name": table},
        files={"file": (f"{table}.csv", (SCENARIOS / f"retail_{table}.csv").read_bytes())},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text


def _sales(client, sql: str = SCENARIO) -> tuple[int, Decimal, set[int]]:
    """The scenario's row count, total sale amount and products, as the analysts read them."""
    rows = client.sql(sql, project="analysts").to_pylist()
    total = sum((Decimal(str(r["sale_amount"])) for r in rows), Decimal("0"))
    return len(rows), total, {r["prod_id"] for r in rows}


def _deliveries(client, webhook_id: str, count: int) -> list[m.DeliveryView]:
    """The webhook's deliveries once ``count`` of them are delivered (the server's dispatcher
    sends them in the background)."""
    deadline = time.monotonic() + 30
    while True:
        found = client.webhooks.deliveries(webhook_id, status="delivered")
        if len(found) >= count or time.monotonic() > deadline:
            return client.webhooks.deliveries(webhook_id)
        time.sleep(0.2)


def test_retail_sharing_through_the_sdk(server, sdk) -> None:
    admin = sdk()
    steward_token = server.new_user("steward")
    steward, analyst = sdk(steward_token), sdk(server.new_user("analyst"))
    admin.domains.create("Retail")
    admin.network_rules.allow("127.0.0.1:*", "the test's webhook receiver")
    steward.projects.create("retail", "Retail")
    analyst.projects.create("analysts", "Retail")
    for table in TABLES:
        _load(server, steward_token, table)

    with receiver() as endpoint:
        hook = steward.webhooks.create(endpoint.url, SECRET, project="retail")
        assert hook.project == "retail" and "subscription.approved" in hook.event_types
        assert [h.id for h in steward.webhooks.list(project="retail")] == [hook.id]
        with pytest.raises(NotFound):  # another team's private project
            analyst.webhooks.create(endpoint.url, SECRET, project="retail")

        # The steward's filters: Widget A's sales only; customers without their email.
        steward.filters.create("retail", "store_sales", "widget_a", "row", expression="prod_id = 1")
        steward.filters.create("retail", "store_sales", "gadget_b", "row", expression="prod_id = 2")
        steward.filters.create(
            "retail",
            "customer",
            "no_email",
            "column",
            columns=["cust_id", "cust_name", "cust_country"],
        )
        with pytest.raises(Invalid) as bad:
            steward.filters.create(
                "retail", "store_sales", "bad", "row", expression="prod_id in (select 1)"
            )
        assert bad.value.details["field"] == "expression"
        assert {f.name for f in steward.filters.list("retail", "store_sales")} == {
            "gadget_b",
            "widget_a",
        }
        assert steward.filters.get("retail", "customer", "no_email").columns == [
            "cust_id",
            "cust_name",
            "cust_country",
        ]

        # Publishing; the analysts discover the listings but cannot read the tables yet.
        listings = {t: steward.listings.publish("retail", t) for t in TABLES}
        assert {listing.revision for listing in listings.values()} == {1}
        found = analyst.listings.list(project="retail")
        assert {f.asset for f in found} == set(TABLES)
        customer = analyst.listings.get(listings["customer"].id)
        assert "cust_email" in [c.name for c in customer.columns or []]
        with pytest.raises(NotFound):
            analyst.sql(SCENARIO, project="analysts")

        # The request, with its justification; the steward approves with the filters.
        with pytest.raises(Invalid) as missing:
            analyst.subscriptions.request(
                "analysts", [listing.id for listing in listings.values()], " "
            )
        assert missing.value.details["field"] == "reason"
        request = analyst.subscriptions.request(
            "analysts",
            [listing.id for listing in listings.values()],
            "need this data for analysis",
        )
        assert request.status == "requested"
        incoming = steward.subscriptions.list(direction="incoming", status="requested")
        assert [(r.id, r.requester, r.reason) for r in incoming] == [
            (request.id, "analyst", "need this data for analysis")
        ]
        with pytest.raises(Forbidden):
            analyst.subscriptions.approve(request.id)
        approved = steward.subscriptions.approve(
            request.id,
            [
                m.ItemIn(listings["store_sales"].id, row_filter="widget_a"),
                m.ItemIn(listings["customer"].id, column_filter="no_email"),
            ],
            comment="filtered",
        )
        assert approved.status == "approved" and approved.decision_comment == "filtered"
        with pytest.raises(Conflict):
            steward.subscriptions.reject(request.id)

        # The analysts read exactly the filtered rows: Widget A's 7 sales, 1500.00 in all,
        # and no email address.
        assert _sales(analyst) == (7, Decimal("1500.00"), {1})
        customers = analyst.sql("select * from retail.customer", project="analysts")
        assert customers.num_rows == 6
        assert customers.to_arrow().column_names == ["cust_id", "cust_name", "cust_country"]
        with pytest.raises(Invalid):
            analyst.sql("select cust_email from retail.customer", project="analysts")

        # The grants, seen from both sides; the steward switches the sales grant to Gadget B
        # (6 sales) and lifts the customer grant's column filter.
        grants = {g.asset: g for g in steward.grants.list(project="retail")}
        assert {a: (g.row_filter, g.column_filter) for a, g in grants.items()} == {
            "retail.store_sales": ("widget_a", None),
            "retail.customer": (None, "no_email"),
            "retail.inventory": (None, None),
        }
        assert {g.id for g in analyst.grants.list()} == {g.id for g in grants.values()}
        sales = grants["retail.store_sales"]
        with pytest.raises(Forbidden):
            analyst.grants.update(sales.id, row_filter="gadget_b")
        changed = steward.grants.update(sales.id, row_filter="gadget_b")
        assert (changed.row_filter, changed.row_filter_expression) == ("gadget_b", '"prod_id" = 2')
        count, _, products = _sales(analyst)
        assert (count, products) == (6, {2})
        opened = steward.grants.update(grants["retail.customer"].id, column_filter=None)
        assert opened.column_filter is None and opened.row_filter is None
        emails = analyst.sql("select cust_email from retail.customer", project="analysts")
        assert emails.num_rows == 6

        # Revoked: the sales table is "not found" again; the others stay readable.
        revoked = steward.grants.revoke(sales.id)
        assert revoked.status == "revoked" and revoked.revoked_by == "steward"
        with pytest.raises(NotFound):
            analyst.sql(SCENARIO, project="analysts")
        assert analyst.sql("select * from retail.customer", project="analysts").num_rows == 6
        assert steward.grants.get(sales.id).status == "revoked"

        # Every step reached the webhook, signed; its deliveries list them.
        expected = [
            "subscription.requested",
            "subscription.approved",
            "subscription.filters_changed",
            "subscription.filters_changed",
            "subscription.revoked",
        ]
        deliveries = _deliveries(steward, hook.id, len(expected))
        assert sorted(d.event_type for d in deliveries) == sorted(expected)
        assert {(d.status, d.last_status_code) for d in deliveries} == {("delivered", 204)}
        assert sorted(r.event for r in endpoint.events()) == sorted(expected)
        assert all(r.signed_with(SECRET) for r in endpoint.events())
        with pytest.raises(NotFound):
            analyst.webhooks.deliveries(hook.id)


def test_listing_filter_and_webhook_management(server, sdk) -> None:
    admin = sdk()
    owner_token = server.new_user("shop_owner")
    owner = sdk(owner_token)
    admin.domains.create("Shop")
    owner.projects.create("shop", "Shop")
    _load(server, owner_token, "inventory", project="shop")

    first = owner.listings.publish("shop", "inventory", asset_version=0)
    with pytest.raises(Conflict):
        owner.listings.publish("shop", "inventory", asset_version=7)
    second = owner.listings.publish("shop", "inventory")
    assert (first.revision, second.revision) == (1, 2)
    assert [entry.id for entry in owner.listings.list(project="shop", name="invent")] == [second.id]
    withdrawn = owner.listings.unpublish("shop", "inventory")
    assert withdrawn.id == second.id and withdrawn.withdrawn_at is not None
    assert owner.listings.list(project="shop") == []

    owner.filters.create("shop", "inventory", "active", "row", expression="active = 'Y'")
    renamed = owner.filters.update("shop", "inventory", "active", new_name="live")
    assert (renamed.name, renamed.expression) == ("live", "\"active\" = 'Y'")
    owner.filters.delete("shop", "inventory", "live")
    with pytest.raises(NotFound):
        owner.filters.get("shop", "inventory", "live")

    hook = owner.webhooks.create(
        "https://example.com/hook",
        SECRET,
        project="shop",
        event_types=["subscription.revoked"],
        description="ops",
    )
    assert owner.webhooks.get(hook.id).description == "ops"
    disabled = owner.webhooks.update(hook.id, enabled=False, description="")
    assert disabled.active is False and disabled.description in (None, "")
    rotated = owner.webhooks.update(hook.id, secret="another-secret-0123456789")
    assert rotated.event_types == ["subscription.revoked"]
    with pytest.raises(Invalid) as bad:
        owner.webhooks.update(hook.id, url="ftp://example.com")
    assert bad.value.details["field"] == "url"
    assert owner.webhooks.deliveries(hook.id) == []
    with pytest.raises(Forbidden):
        owner.webhooks.purge(older_than_days=30)
    assert admin.webhooks.purge(older_than_days=30).deliveries == 0
    owner.webhooks.delete(hook.id)
    with pytest.raises(NotFound):
        owner.webhooks.get(hook.id)


def test_sharing_commands_against_the_server(server, sdk, remote_cli) -> None:
    sdk().domains.create("Stock")
    token = server.new_user("stock_owner")
    sdk(token).projects.create("stock", "Stock")
    _load(server, token, "inventory", project="stock")
    assert "revision 1" in remote_cli("publish", "stock.inventory", token=token)
    listed = json.loads(remote_cli("listing", "list", "--project", "stock", "--json", token=token))
    assert [(entry["asset"], entry["revision"]) for entry in listed] == [("inventory", 1)]
    remote_cli("filter", "create", "stock.inventory", "ids", "-c", "prod_id", token=token)
    assert "ids" in remote_cli("filter", "list", "stock.inventory", token=token)
    out = remote_cli(
        "filter", "create", "stock.inventory", "bad", "--row", "nope(", code=2, token=token
    )
    assert "expression" in out
    assert "withdrew listing" in remote_cli("unpublish", "stock.inventory", token=token)
    assert "not found" in remote_cli("grant", "revoke", "no-such-grant", code=4, token=token)
    assert "webhook" in remote_cli("webhook", "list", token=token)
