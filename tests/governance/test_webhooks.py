"""Webhooks: events of subscription state changes reach a real HTTP endpoint, signed, with
retries and backoff (time driven through ``deliver_due(now)``), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lakehold.errors import Conflict, Forbidden, Invalid, NotFound
from lakehold.governance.events import emit
from lakehold.governance.subscriptions import ItemDecision
from lakehold.store.models import OutboxEvent, WebhookDelivery, utcnow
from tests.sharing import add_member
from tests.webhook_receiver import receiver

SECRET = "s3cret-for-hmac-signing"


@pytest.fixture(autouse=True)
def local_receivers(runtime, admin) -> None:
    """The test receivers listen on 127.0.0.1, a loopback address: an administrator allows it
    on the network allow-list (ADR 0014)."""
    runtime.network.allow(admin, "127.0.0.1:*", description="test webhook receivers")


@pytest.fixture
def hook(world):
    """A receiver and a webhook of project retail (its owner) pointing at it."""
    with receiver() as endpoint:
        created = world.runtime.webhooks.create(world.owner, endpoint.url, SECRET, project="retail")
        yield endpoint, created


def later(seconds: float = 0):
    return utcnow() + timedelta(seconds=seconds)


def outbox_count(runtime) -> tuple[int, int]:
    with runtime.store.session() as session:
        return (
            session.scalar(select(func.count()).select_from(OutboxEvent)),
            session.scalar(select(func.count()).select_from(WebhookDelivery)),
        )


def test_each_state_change_reaches_the_endpoint_signed(world, hook) -> None:
    endpoint, created = hook
    rt = world.runtime
    rt.filters.create_filter(
        world.owner, "retail", "store_sales", "widget_a", kind="row", expression="prod_id = 1"
    )
    rt.filters.create_filter(
        world.owner, "retail", "customer", "no_email", kind="column", columns=["cust_id"]
    )
    request = world.request("store_sales", "customer")
    assert endpoint.events() == []  # nothing is sent by the request itself
    assert rt.webhooks.deliver_due(later()) == 1

    requested = endpoint.events("subscription.requested")
    assert len(requested) == 1 and requested[0].signed_with(SECRET)
    assert not requested[0].signed_with("another-secret-entirely")
    body = requested[0].json
    assert body["type"] == "subscription.requested" and body["delivery"]
    assert requested[0].headers["x-lakehold-delivery"] == body["delivery"]
    data = body["data"]
    assert data["request_id"] == request.id and data["status"] == "requested"
    assert data["project"] == "analysts" and data["owning_project"] == "retail"
    assert data["assets"] == ["retail.customer", "retail.store_sales"]
    assert data["requester"] == "analyst" and data["reason"] == "need this data for analysis"
    assert data["decided_by"] is None and data["created_at"]

    rt.subscriptions.approve(
        world.owner,
        request.id,
        items=[
            ItemDecision(world.listings["store_sales"].id, row_filter="widget_a"),
            ItemDecision(world.listings["customer"].id, column_filter="no_email"),
        ],
        comment="ok for churn work",
    )
    rt.webhooks.deliver_due(later())
    (approved,) = endpoint.events("subscription.approved")
    assert approved.signed_with(SECRET)
    data = approved.json["data"]
    assert data["status"] == "approved" and data["decided_by"] == "owner"
    assert data["comment"] == "ok for churn work" and data["decided_at"]
    items = {i["asset"]: i for i in data["items"]}
    assert items["retail.store_sales"]["row_filter"] == "widget_a"
    assert items["retail.store_sales"]["row_filter_expression"] == '"prod_id" = 1'
    assert items["retail.customer"]["columns"] == ["cust_id"]
    assert all(i["grant_id"] for i in items.values())

    other = world.request("inventory")
    rt.subscriptions.reject(world.owner, other.id, comment="not for you")
    rt.webhooks.deliver_due(later())
    (rejected,) = endpoint.events("subscription.rejected")
    data = rejected.json["data"]
    assert data["request_id"] == other.id and data["status"] == "rejected"
    assert data["comment"] == "not for you" and data["assets"] == ["retail.inventory"]

    rt.grants.revoke(world.owner, items["retail.store_sales"]["grant_id"])
    rt.grants.unsubscribe(world.analyst, items["retail.customer"]["grant_id"])
    rt.webhooks.deliver_due(later())
    revoked = {
        r.json["data"]["asset"]: r.json["data"] for r in endpoint.events("subscription.revoked")
    }
    assert revoked["retail.store_sales"]["action"] == "revoke"
    assert revoked["retail.store_sales"]["revoked_by"] == "owner"
    assert revoked["retail.store_sales"]["row_filter"] == "widget_a"
    assert revoked["retail.customer"]["action"] == "unsubscribe"
    assert revoked["retail.customer"]["revoked_by"] == "analyst"
    assert revoked["retail.customer"]["request_id"] == request.id
    assert {r["project"] for r in revoked.values()} == {"analysts"}
    assert all(r.signed_with(SECRET) for r in endpoint.events())

    views = rt.webhooks.deliveries(world.owner, created.id)
    assert len(views) == 6 and {d.status for d in views} == {"delivered"}
    assert all(d.attempts == 1 and d.last_status_code == 204 for d in views)
    assert rt.webhooks.deliver_due(later()) == 0  # nothing is sent twice


def test_retries_with_backoff_then_fails_and_redelivers(world, hook) -> None:
    endpoint, created = hook
    rt = world.runtime
    dispatcher = rt.webhooks.dispatcher
    base, attempts = dispatcher.retry_base_seconds, dispatcher.max_attempts
    assert attempts == 6
    endpoint.fail(100)
    world.request("customer")
    now = later()
    waits = []
    for attempt in range(1, attempts + 1):
        assert rt.webhooks.deliver_due(now) == 1
        (delivery,) = rt.webhooks.deliveries(world.owner, created.id)
        assert delivery.attempts == attempt and delivery.last_status_code == 500
        assert delivery.last_error == "HTTP 500"
        if attempt == attempts:
            break
        assert delivery.status == "pending"
        wait = delivery.next_attempt_at - now
        waits.append(wait.total_seconds())
        assert rt.webhooks.deliver_due(now + wait - timedelta(seconds=1)) == 0  # not yet due
        now += wait
    assert waits == [base * 2**i for i in range(attempts - 1)]
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert rt.webhooks.deliver_due(now + timedelta(days=1)) == 0
    assert len(endpoint.events()) == attempts
    assert [d.id for d in rt.webhooks.deliveries(world.owner, created.id, status="failed")] == [
        delivery.id
    ]

    endpoint.fail(0)
    with pytest.raises(NotFound):
        rt.webhooks.redeliver(world.owner, created.id, "nope")
    again = rt.webhooks.redeliver(world.owner, created.id, delivery.id)
    assert again.status == "pending" and again.attempts == 0
    with pytest.raises(Conflict):  # only failed deliveries
        rt.webhooks.redeliver(world.owner, created.id, delivery.id)
    assert rt.webhooks.deliver_due(later(1)) == 1
    (done,) = rt.webhooks.deliveries(world.owner, created.id)
    assert done.status == "delivered" and done.attempts == 1 and done.delivered_at is not None
    bodies = [r.body for r in endpoint.events()]
    assert len(set(bodies)) == 1  # every attempt carries the same signed body


def test_a_retry_succeeds_after_failures(world, hook) -> None:
    endpoint, created = hook
    rt = world.runtime
    endpoint.fail(2, status=503)
    world.request("customer")
    now = later()
    rt.webhooks.deliver_due(now)
    rt.webhooks.deliver_due(now + timedelta(seconds=10))
    rt.webhooks.deliver_due(now + timedelta(seconds=30))
    (delivery,) = rt.webhooks.deliveries(world.owner, created.id)
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert delivery.last_error is None and delivery.last_status_code == 204
    assert [r.headers["x-lakehold-delivery"] for r in endpoint.events()] == [delivery.id] * 3


def test_no_event_without_a_committed_state_change(world, hook) -> None:
    endpoint, _created = hook
    rt = world.runtime
    listing = world.listings["customer"].id
    with pytest.raises(NotFound):
        rt.subscriptions.request(world.outsider, "analysts", [listing], "why not")
    with pytest.raises(Invalid):
        rt.subscriptions.request(world.analyst, "analysts", [listing], "")
    assert outbox_count(rt) == (0, 0)

    request = world.request("customer")
    add_member(rt, "retail", world.outsider, "contributor")
    with pytest.raises(Forbidden):
        rt.subscriptions.approve(world.outsider, request.id)
    with pytest.raises(Invalid):  # a bad filter name: the approval rolls back
        rt.subscriptions.approve(
            world.owner, request.id, items=[ItemDecision(listing, row_filter="nope")]
        )
    rt.subscriptions.approve(world.owner, request.id)
    with pytest.raises(Conflict):
        rt.subscriptions.reject(world.owner, request.id)
    (grant,) = rt.grants.list_grants(world.owner)
    with pytest.raises(Forbidden):
        rt.grants.revoke(world.analyst, grant.id)
    assert outbox_count(rt) == (2, 2)

    # An emit whose transaction rolls back leaves neither the event nor a delivery.
    with pytest.raises(RuntimeError), rt.store.session() as session:
        emit(session, "subscription.requested", {"project": "analysts", "owning_project": "retail"})
        raise RuntimeError("the state change failed after the event was written")
    assert outbox_count(rt) == (2, 2)
    rt.webhooks.deliver_due(later())
    # sent in parallel: the order of arrival is not guaranteed
    assert sorted(r.event for r in endpoint.events()) == [
        "subscription.approved",
        "subscription.requested",
    ]


def test_which_webhooks_receive_an_event(world) -> None:
    rt = world.runtime
    with receiver() as a, receiver() as b, receiver() as c, receiver() as d, receiver() as e:
        rt.webhooks.create(world.admin, a.url, SECRET)  # global
        rt.webhooks.create(world.outsider, b.url, SECRET, project="elsewhere")  # unrelated
        rt.webhooks.create(world.analyst, c.url, SECRET, project="analysts")  # subscriber
        rt.webhooks.create(
            world.owner, d.url, SECRET, project="retail", event_types=["subscription.revoked"]
        )
        rt.webhooks.create(world.owner, e.url, SECRET, project="retail", active=False)
        world.request("customer")
        rt.webhooks.deliver_due(later())
        assert [len(r.events()) for r in (a, b, c, d, e)] == [1, 0, 1, 0, 0]


def test_an_unreachable_endpoint_is_recorded_without_the_secret(world) -> None:
    rt = world.runtime
    with receiver() as gone:
        url = gone.url
    created = rt.webhooks.create(world.owner, url, SECRET, project="retail")
    world.request("customer")  # returns without contacting the endpoint
    assert rt.webhooks.deliver_due(later()) == 1
    (delivery,) = rt.webhooks.deliveries(world.owner, created.id)
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "could not reach" in (delivery.last_error or "")
    assert SECRET not in repr(delivery) and SECRET not in repr(
        rt.webhooks.get(world.owner, created.id)
    )


def test_management_rights_and_validation(world) -> None:
    rt = world.runtime
    with pytest.raises(NotFound):  # not a member of retail
        rt.webhooks.create(world.analyst, "https://example.com/h", SECRET, project="retail")
    add_member(rt, "retail", world.analyst, "contributor")
    with pytest.raises(Forbidden):  # a member below owner
        rt.webhooks.create(world.analyst, "https://example.com/h", SECRET, project="retail")
    with pytest.raises(Forbidden):  # global webhooks are for administrators
        rt.webhooks.create(world.owner, "https://example.com/h", SECRET)
    for url in ("", "ftp://example.com/x", "not a url", "http://", "https://u:p@example.com/"):
        with pytest.raises(Invalid) as caught:
            rt.webhooks.create(world.owner, url, SECRET, project="retail")
        assert caught.value.details["field"] == "url"
    with pytest.raises(Invalid) as caught:
        rt.webhooks.create(world.owner, "https://example.com/h", "short", project="retail")
    assert caught.value.details["field"] == "secret"
    assert SECRET not in caught.value.message
    with pytest.raises(Invalid) as caught:
        rt.webhooks.create(
            world.owner, "https://example.com/h", SECRET, project="retail", event_types=["x"]
        )
    assert caught.value.details["field"] == "event_types"

    created = rt.webhooks.create(world.owner, "https://example.com/h", SECRET, project="retail")
    with pytest.raises(Forbidden):
        rt.webhooks.get(world.analyst, created.id)
    with pytest.raises(NotFound):
        rt.webhooks.get(world.outsider, created.id)
    with pytest.raises(NotFound):
        rt.webhooks.delete(world.outsider, created.id)
    assert [h.id for h in rt.webhooks.list_webhooks(world.owner)] == [created.id]
    assert rt.webhooks.list_webhooks(world.outsider) == []
    assert [h.id for h in rt.webhooks.list_webhooks(world.admin)] == [created.id]
    rt.webhooks.delete(world.owner, created.id)
    with pytest.raises(NotFound):
        rt.webhooks.get(world.owner, created.id)
    actions = {e.action for e in rt.audit.events(world.admin) if e.action.startswith("webhook.")}
    assert actions == {"webhook.create", "webhook.delete"}
    (deleted,) = rt.audit.events(world.admin, action="webhook.delete", allowed=True)
    assert (deleted.project, deleted.resource) == ("retail", "project:retail")
    assert deleted.details == {"webhook": created.id}
    (hidden,) = rt.audit.events(world.admin, action="webhook.delete", allowed=False)
    assert hidden.details == {"webhook": created.id, "error": "not_found"}


def test_background_dispatcher_delivers(world, hook) -> None:
    endpoint, _created = hook
    rt = world.runtime
    rt.webhooks.start()
    try:
        world.request("customer")
        deadline = time.monotonic() + 20
        while not endpoint.events() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        rt.webhooks.stop()
    assert [r.event for r in endpoint.events()] == ["subscription.requested"]
    assert not rt.webhooks.dispatcher.running


def test_the_migration_matches_the_models(runtime) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lakehold.store.models import Base

    ours = {"webhooks", "outbox_events", "webhook_deliveries"}
    with runtime.store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    def table_of(diff) -> str | None:
        first = diff[0] if isinstance(diff, list) else diff
        for part in first[1:]:
            name = getattr(part, "name", None) if not isinstance(part, str) else None
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None):
                return table.name
            if name:
                return name
        return first[2] if len(first) > 2 and isinstance(first[2], str) else None

    assert [d for d in diffs if table_of(d) in ours] == []


def test_disable_enable_rotate_and_validate(world, hook) -> None:
    endpoint, created = hook
    rt = world.runtime
    disabled = rt.webhooks.update(world.owner, created.id, active=False)
    assert not disabled.active
    world.request("customer")
    assert rt.webhooks.deliver_due(later()) == 0  # a disabled webhook gets no delivery
    rotated = "a-brand-new-secret-123"
    enabled = rt.webhooks.update(
        world.owner,
        created.id,
        active=True,
        secret=rotated,
        event_types=["subscription.requested"],
        description="ops",
    )
    assert enabled.active and enabled.event_types == ["subscription.requested"]
    assert enabled.description == "ops" and not hasattr(enabled, "secret")
    world.request("store_sales")
    assert rt.webhooks.deliver_due(later()) == 1
    (sent,) = endpoint.events("subscription.requested")
    assert sent.signed_with(rotated) and not sent.signed_with(SECRET)

    add_member(rt, "retail", world.analyst, "contributor")
    with pytest.raises(Forbidden):
        rt.webhooks.update(world.analyst, created.id, active=False)
    with pytest.raises(NotFound):
        rt.webhooks.update(world.outsider, created.id, active=False)
    for change, field in (
        ({"url": "ftp://x"}, "url"),
        ({"event_types": ["nope"]}, "event_types"),
        ({"secret": "short"}, "secret"),
    ):
        with pytest.raises(Invalid) as caught:
            rt.webhooks.update(world.owner, created.id, active=False, **change)
        assert caught.value.details["field"] == field
    assert rt.webhooks.get(world.owner, created.id).active  # nothing written after an error
    updates = rt.audit.events(world.admin, action="webhook.update", allowed=True)
    assert updates[0].details["secret_rotated"] is True
    assert all(rotated not in str(e.details) for e in updates)


def test_purge_removes_finished_deliveries_and_their_events(world, hook) -> None:
    endpoint, created = hook
    rt = world.runtime
    world.request("customer")
    assert rt.webhooks.deliver_due(later()) == 1  # delivered
    endpoint.fail(100)
    world.request("store_sales")  # pending, failing
    assert rt.webhooks.deliver_due(later()) == 1
    assert outbox_count(rt) == (2, 2)

    with pytest.raises(Forbidden):
        rt.webhooks.purge(world.owner, 30)
    for days in (0, -1, "x"):
        with pytest.raises(Invalid) as caught:
            rt.webhooks.purge(world.admin, days)
        assert caught.value.details["field"] == "older_than_days"
    assert rt.webhooks.purge(world.admin, 30).deliveries == 0
    purged = rt.webhooks.purge(world.admin, 30, now=later(31 * 86400))
    assert (purged.deliveries, purged.events) == (1, 1)
    (left,) = rt.webhooks.deliveries(world.owner, created.id)
    assert left.status == "pending" and outbox_count(rt) == (1, 1)
    done = rt.audit.events(world.admin, action="webhook.purge", allowed=True)
    assert done[0].details["deliveries"] == 1
    assert rt.audit.events(world.admin, action="webhook.purge", allowed=False)
    with rt.store.session() as session:  # failed for good: purged as well
        session.get(WebhookDelivery, left.id).status = "failed"
    purged = rt.webhooks.purge(world.admin, 30, now=later(31 * 86400))
    assert (purged.deliveries, purged.events) == (1, 1) and outbox_count(rt) == (0, 0)
