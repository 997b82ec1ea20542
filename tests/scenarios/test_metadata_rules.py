"""Scenario 4: metadata enforcement on publish and subscribe (through the HTTP API).

Domain unit Marketing has a rule: publishing an asset of its projects needs ``publish_form``
(Model Year number, Region text, Compliance Status one of compliant/pending/non-compliant, all
required). A second rule needs ``subscribe_form`` (Use Case, required) on subscription
requests. A project outside the unit is not affected.
"""

from __future__ import annotations

import pytest

from tests.scenarios.helpers import ok
from tests.sharing import client_for, new_user

CAMPAIGNS = (
    b"campaign_id,name,channel,budget\n1,Spring launch,email,12000\n2,Summer sale,social,8000\n"
)
PUBLISH_FORM = [
    {"name": "Model Year", "type": "number", "required": True, "searchable": True},
    {"name": "Region", "type": "text", "required": True, "searchable": True},
    {
        "name": "Compliance Status",
        "type": "one_of",
        "required": True,
        "allowed_values": ["compliant", "pending", "non-compliant"],
    },
]
MISSING = [
    "forms.publish_form.Model Year",
    "forms.publish_form.Region",
    "forms.publish_form.Compliance Status",
]


def _table(client, project: str, name: str) -> None:
    ok(
        client.post(
            f"/api/v1/projects/{project}/tables",
            data={"name": name},
            files={"file": (f"{name}.csv", CAMPAIGNS)},
        ),
        201,
    )


@pytest.fixture
def people(runtime, admin, admin_token):
    """Admin sets up domain Corp with units Marketing and Finance; the marketer owns
    Marketing and its project; the analyst has a project in the root unit."""
    _, marketer_token = new_user(runtime, admin, "marketer")
    _, analyst_token = new_user(runtime, admin, "analyst")
    _, finance_token = new_user(runtime, admin, "controller")
    with (
        client_for(runtime, admin_token) as root,
        client_for(runtime, marketer_token) as marketer,
        client_for(runtime, analyst_token) as analyst,
        client_for(runtime, finance_token) as controller,
    ):
        ok(root.post("/api/v1/domains", json={"name": "Corp"}), 201)
        for unit, owner in (("Marketing", "marketer"), ("Finance", "controller")):
            created = ok(
                root.post("/api/v1/domain-units", json={"domain": "Corp", "name": unit}), 201
            )
            ok(root.post(f"/api/v1/domain-units/{created['id']}/owners", json={"user": owner}), 201)
        for client, project, unit in (
            (marketer, "marketing", "Marketing"),
            (controller, "finance", "Finance"),
        ):
            body = {"name": project, "domain": "Corp", "domain_unit": unit}
            ok(client.post("/api/v1/projects", json=body), 201)
        ok(analyst.post("/api/v1/projects", json={"name": "analytics", "domain": "Corp"}), 201)
        _table(marketer, "marketing", "marketing_campaign_asset")
        _table(controller, "finance", "budget")
        yield marketer, analyst, controller


def test_metadata_rules_on_publish_and_subscribe(people, client) -> None:
    marketer, analyst, controller = people

    # The Marketing owner defines publish_form and the publish rule on the unit.
    form = ok(
        marketer.post(
            "/api/v1/metadata-forms",
            json={
                "domain": "Corp",
                "name": "publish_form",
                "unit": "Marketing",
                "fields": PUBLISH_FORM,
            },
        ),
        201,
    )
    assert form["version"] == 1 and form["unit"] == "Corp/Marketing"
    rule = ok(
        marketer.post(
            "/api/v1/metadata-rules",
            json={
                "unit": "Corp/Marketing",
                "name": "publish needs publish_form",
                "action": "publish",
                "form": "publish_form",
            },
        ),
        201,
    )
    assert rule["required_fields"] == ["Model Year", "Region", "Compliance Status"]

    # Publishing without the form fails, naming each missing field; nothing is published.
    publish = "/api/v1/projects/marketing/assets/marketing_campaign_asset/publish"
    refused = marketer.post(publish)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["error"] == "invalid" and body["field"] == MISSING[0]
    assert [p["field"] for p in body["problems"]] == MISSING
    for name in ("Model Year", "Region", "Compliance Status"):
        assert name in body["message"]
    assert ok(marketer.get("/api/v1/listings", params={"project": "marketing"})) == []
    denied = ok(client.get("/api/v1/audit", params={"action": "listing.publish", "allowed": False}))
    assert denied[0]["username"] == "marketer" and "publish_form" in denied[0]["reason"]

    # A wrong value is named too; then the owner fills the form in and publishing succeeds.
    values_url = "/api/v1/projects/marketing/assets/marketing_campaign_asset/forms/publish_form"
    bad = marketer.put(
        values_url,
        json={"values": {"Model Year": "2024", "Region": "EMEA", "Compliance Status": "ok"}},
    )
    assert bad.status_code == 400 and bad.json()["field"] == "forms.publish_form.Compliance Status"
    values = ok(
        marketer.put(
            values_url,
            json={
                "values": {
                    "Model Year": 2024,
                    "Region": "Northern Europe",
                    "Compliance Status": "compliant",
                }
            },
        )
    )
    assert values["version"] == 1 and values["values"]["Model Year"] == 2024
    listing = ok(marketer.post(publish), 201)
    assert listing["domain_unit"] == "Corp/Marketing"
    assert listing["forms"] == [
        {
            "name": "publish_form",
            "version": 1,
            "values": {
                "Model Year": 2024,
                "Region": "Northern Europe",
                "Compliance Status": "compliant",
            },
            "searchable": ["Model Year", "Region"],
        }
    ]
    # Discovered by its Region value (the listing keeps the searchable form values).
    found = ok(analyst.get(f"/api/v1/listings/{listing['id']}"))
    assert "Northern Europe" in [f["values"]["Region"] for f in found["forms"]]
    if "/api/v1/catalog/search" in {getattr(r, "path", None) for r in analyst.app.routes}:
        # once search is registered on the application, the Region value finds the listing
        hits = ok(analyst.get("/api/v1/catalog/search", params={"q": '"Northern Europe"'}))["items"]
        assert listing["id"] in [h["listing_id"] for h in hits]

    # The subscription rule: requests need subscribe_form with a Use Case.
    ok(
        marketer.post(
            "/api/v1/metadata-forms",
            json={
                "domain": "Corp",
                "name": "subscribe_form",
                "unit": "Marketing",
                "fields": [{"name": "Use Case", "type": "text", "required": True}],
            },
        ),
        201,
    )
    ok(
        marketer.post(
            "/api/v1/metadata-rules",
            json={
                "unit": "Corp/Marketing",
                "name": "requests need a use case",
                "action": "subscription_request",
                "form": "subscribe_form",
            },
        ),
        201,
    )
    request = {"project": "analytics", "listings": [listing["id"]], "reason": "campaign analysis"}
    refused = analyst.post("/api/v1/subscription-requests", json=request)
    assert refused.status_code == 400, refused.text
    assert [p["field"] for p in refused.json()["problems"]] == ["forms.subscribe_form.Use Case"]
    assert "Use Case" in refused.json()["message"]
    use_case = "Measure campaign uplift by region"
    created = ok(
        analyst.post(
            "/api/v1/subscription-requests",
            json={**request, "form_values": {"subscribe_form": {"Use Case": use_case}}},
        ),
        201,
    )
    incoming = ok(marketer.get("/api/v1/subscription-requests", params={"direction": "incoming"}))
    assert [r["id"] for r in incoming] == [created["id"]]
    assert incoming[0]["form_values"]["subscribe_form"]["Use Case"] == use_case

    # A project outside the unit is not affected by either rule.
    budget = ok(controller.post("/api/v1/projects/finance/assets/budget/publish"), 201)
    assert budget["forms"] == []
    outside = {"project": "analytics", "listings": [budget["id"]], "reason": "planning"}
    ok(analyst.post("/api/v1/subscription-requests", json=outside), 201)
