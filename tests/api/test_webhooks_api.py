"""Webhook endpoints: create/list/get/delete, deliveries, redeliver; the secret never leaves.

``api/app.py`` registers the webhooks router; until it does, these tests include it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from lakehold.api.app import create_app
from lakehold.governance.events import EVENT_TYPES
from lakehold.store.models import utcnow
from tests.scenarios.helpers import create_table, ok
from tests.sharing import add_member, client_for, new_user
from tests.webhook_receiver import receiver

SECRET = "api-secret-0123456789"
PATHS = (
    "/api/v1/webhooks",
    "/api/v1/webhooks/{webhook_id}",
    "/api/v1/webhooks/purge",
    "/api/v1/webhooks/{webhook_id}/deliveries",
    "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
)


@pytest.fixture(autouse=True)
def local_receivers(runtime, admin) -> None:
    """The test receivers listen on 127.0.0.1, a loopback address: an administrator allows it
    on the network allow-list (ADR 0014)."""
    runtime.network.allow(admin, "127.0.0.1:*", description="test webhook receivers")


@pytest.fixture
def sides(runtime, admin, admin_token):
    """owner (the admin) owns retail; analyst owns analysts; viewer is a retail viewer."""
    _analyst_user, analyst_token = new_user(runtime, admin, "analyst")
    viewer_user, viewer_token = new_user(runtime, admin, "viewer")
    with (
        client_for(runtime, admin_token) as owner,
        client_for(runtime, analyst_token) as analyst,
        client_for(runtime, viewer_token) as viewer,
    ):
        ok(owner.post("/api/v1/domains", json={"name": "Retail"}), 201)
        ok(owner.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"}), 201)
        create_table(owner, "retail", "customer", "retail_customer.csv")
        ok(analyst.post("/api/v1/projects", json={"name": "analysts", "domain": "Retail"}), 201)
        add_member(runtime, "retail", viewer_user, "viewer")
        yield owner, analyst, viewer


def test_openapi_lists_the_webhook_endpoints(runtime) -> None:
    paths = create_app(runtime).openapi()["paths"]
    for path in PATHS:
        assert path in paths, path


def test_webhook_lifecycle_over_http(runtime, sides) -> None:
    owner, analyst, _viewer = sides
    with receiver() as endpoint:
        created = ok(
            owner.post(
                "/api/v1/webhooks",
                json={"url": endpoint.url, "secret": SECRET, "project": "retail"},
            ),
            201,
        )
        assert "secret" not in created and SECRET not in str(created)
        assert created["project"] == "retail"
        assert set(created["event_types"]) == set(EVENT_TYPES)  # every type by default
        hook_id = created["id"]
        listed = owner.get("/api/v1/webhooks")
        got = owner.get(f"/api/v1/webhooks/{hook_id}")
        assert SECRET not in listed.text and SECRET not in got.text
        assert [h["id"] for h in ok(listed)] == [hook_id]

        listing = ok(owner.post("/api/v1/projects/retail/assets/customer/publish"), 201)
        endpoint.fail(100)
        ok(
            analyst.post(
                "/api/v1/subscription-requests",
                json={"project": "analysts", "listings": [listing["id"]], "reason": "churn"},
            ),
            201,
        )
        now = utcnow()
        for attempt in range(6):
            runtime.webhooks.deliver_due(now + timedelta(days=attempt))
        deliveries = owner.get(f"/api/v1/webhooks/{hook_id}/deliveries")
        assert SECRET not in deliveries.text
        (delivery,) = ok(deliveries)
        assert delivery["status"] == "failed" and delivery["attempts"] == 6
        assert delivery["event_type"] == "subscription.requested"
        assert delivery["last_status_code"] == 500

        endpoint.fail(0)
        again = ok(owner.post(f"/api/v1/webhooks/{hook_id}/deliveries/{delivery['id']}/redeliver"))
        assert again["status"] == "pending"
        conflict = owner.post(f"/api/v1/webhooks/{hook_id}/deliveries/{delivery['id']}/redeliver")
        assert conflict.status_code == 409
        runtime.webhooks.deliver_due(utcnow() + timedelta(seconds=1))
        (done,) = ok(owner.get(f"/api/v1/webhooks/{hook_id}/deliveries?status=delivered"))
        assert done["id"] == delivery["id"]
        assert endpoint.events()[-1].signed_with(SECRET)

        assert owner.delete(f"/api/v1/webhooks/{hook_id}").status_code == 204
        assert owner.get(f"/api/v1/webhooks/{hook_id}").status_code == 404


def test_only_owners_manage_a_projects_webhooks(sides) -> None:
    owner, analyst, viewer = sides
    body = {"url": "https://example.com/hook", "secret": SECRET, "project": "retail"}
    assert analyst.post("/api/v1/webhooks", json=body).status_code == 404  # not a member
    assert viewer.post("/api/v1/webhooks", json=body).status_code == 403  # below owner
    glob = analyst.post("/api/v1/webhooks", json={**body, "project": None})
    assert glob.status_code == 403  # global webhooks: administrators
    hook_id = ok(owner.post("/api/v1/webhooks", json=body), 201)["id"]
    assert analyst.get(f"/api/v1/webhooks/{hook_id}").status_code == 404
    assert viewer.get(f"/api/v1/webhooks/{hook_id}").status_code == 403
    assert analyst.delete(f"/api/v1/webhooks/{hook_id}").status_code == 404
    assert viewer.delete(f"/api/v1/webhooks/{hook_id}").status_code == 403
    assert analyst.get(f"/api/v1/webhooks/{hook_id}/deliveries").status_code == 404
    assert viewer.get("/api/v1/webhooks", params={"project": "retail"}).status_code == 403
    assert ok(analyst.get("/api/v1/webhooks")) == []
    assert ok(owner.get(f"/api/v1/webhooks/{hook_id}"))["id"] == hook_id


def test_bad_input_is_400_naming_the_field(sides) -> None:
    owner, _analyst, _viewer = sides
    for url in ("not a url", "ftp://example.com/", "http://", ""):
        bad = owner.post(
            "/api/v1/webhooks", json={"url": url, "secret": SECRET, "project": "retail"}
        )
        assert bad.status_code == 400 and bad.json()["field"] == "url", bad.text
    missing = owner.post("/api/v1/webhooks", json={"secret": SECRET})
    assert missing.status_code == 400 and missing.json()["field"] == "url"
    short = owner.post("/api/v1/webhooks", json={"url": "https://example.com/h", "secret": "x"})
    assert short.status_code == 400 and short.json()["field"] == "secret"
    types = owner.post(
        "/api/v1/webhooks",
        json={"url": "https://example.com/h", "secret": SECRET, "event_types": ["nope"]},
    )
    assert types.status_code == 400 and types.json()["field"] == "event_types"
    assert owner.get("/api/v1/webhooks/nope").status_code == 404
    assert owner.get("/api/v1/webhooks/nope/deliveries").status_code == 404


def test_enable_disable_and_purge_over_http(runtime, sides) -> None:
    owner, analyst, viewer = sides
    created = ok(
        owner.post(
            "/api/v1/webhooks",
            json={"url": "https://example.com/h", "secret": SECRET, "project": "retail"},
        ),
        201,
    )
    url = f"/api/v1/webhooks/{created['id']}"
    assert ok(owner.patch(url, json={"enabled": False}))["active"] is False
    rotated = ok(owner.patch(url, json={"enabled": True, "secret": "another-secret-0123"}))
    assert rotated["active"] is True and "secret" not in rotated
    assert viewer.patch(url, json={"enabled": False}).status_code == 403
    assert analyst.patch(url, json={"enabled": False}).status_code == 404
    for change, field in (
        ({"url": "ftp://x"}, "url"),
        ({"secret": "short"}, "secret"),
        ({"enabled": "maybe"}, "enabled"),
    ):
        answer = owner.patch(url, json=change)
        assert answer.status_code == 400 and answer.json()["field"] == field, change
        assert SECRET not in answer.text

    purged = ok(owner.post("/api/v1/webhooks/purge", params={"older_than_days": 30}))
    assert purged["deliveries"] == 0 and purged["events"] == 0
    assert analyst.post("/api/v1/webhooks/purge").status_code == 403
    answer = owner.post("/api/v1/webhooks/purge", params={"older_than_days": 0})
    assert answer.status_code == 400 and answer.json()["field"] == "older_than_days"
