"""Metadata enforcement rules: scope (unit and children, asset types, projects), several rules
at once, publish and subscription request enforcement, audit."""

from __future__ import annotations

import pytest

from lakehold.catalog.tables import DataSource
from lakehold.errors import Forbidden, Invalid, NotFound
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import Listing
from tests.conftest import SCENARIOS
from tests.sharing import new_user

FORM = [
    {"name": "Model Year", "type": "number", "required": True},
    {"name": "Region", "type": "text", "required": True, "searchable": True},
]
SUBSCRIBE = [{"name": "Use Case", "type": "text", "required": True}]
VALUES = {"Model Year": 2024, "Region": "EMEA"}


@pytest.fixture
def org(runtime: Runtime, admin: Principal):
    """Units Sales/Marketing, Sales/Marketing/Ads and Sales/Finance, each with a project and a
    table ``customer``; project buyers in the root unit; forms publish_form, subscribe_form."""
    rt = runtime
    owner, _ = new_user(rt, admin, "owner")
    buyer, _ = new_user(rt, admin, "buyer")
    rt.catalog.create_domain(admin, "Sales")
    rt.organisation.create_unit(admin, "Sales", "Marketing")
    rt.organisation.create_unit(admin, "Sales", "Ads", parent="Sales/Marketing")
    rt.organisation.create_unit(admin, "Sales", "Finance")
    for unit in ("Marketing", "Marketing/Ads", "Finance"):
        rt.organisation.add_unit_owner(admin, f"Sales/{unit}", user="owner")
    for project, unit in (
        ("campaigns", "Marketing"),
        ("ads", "Marketing/Ads"),
        ("ledger", "Finance"),
    ):
        rt.catalog.create_project(owner, project, "Sales", domain_unit=unit)
        rt.table_service.create_table(
            owner, project, "customer", DataSource(SCENARIOS / "retail_customer.csv")
        )
    rt.catalog.create_project(buyer, "buyers", "Sales")
    rt.forms.create_form(admin, "Sales", "publish_form", FORM)
    rt.forms.create_form(admin, "Sales", "subscribe_form", SUBSCRIBE)
    return rt, admin, owner, buyer


def _problems(error: Invalid) -> list[str]:
    return [p["field"] for p in error.details["problems"]]


def test_publish_rule_covers_its_unit_and_children_only(org) -> None:
    rt, admin, owner, _ = org
    rule = rt.rules.create_rule(owner, "Sales/Marketing", "needs form", "publish", "publish_form")
    assert rule.include_children and rule.required_fields == ["Model Year", "Region"]
    for project in ("campaigns", "ads"):
        with pytest.raises(Invalid) as caught:
            rt.listings.publish(owner, project, "customer")
        assert _problems(caught.value) == [
            "forms.publish_form.Model Year",
            "forms.publish_form.Region",
        ]
        assert "Model Year is required" in caught.value.message
        assert "Region is required" in caught.value.message
    rt.listings.publish(owner, "ledger", "customer")  # Finance is out of scope
    with rt.store.session() as session:  # nothing was written for the refused publishes
        assert session.query(Listing).count() == 1
    denied = rt.audit.events(admin, action="listing.publish", allowed=False)
    assert {e.project for e in denied} == {"campaigns", "ads"}
    assert all("publish_form" in (e.reason or "") for e in denied)

    # invalid stored values are reported too (a field type the values no longer satisfy)
    rt.forms.set_values(owner, "campaigns", "customer", "publish_form", VALUES)
    rt.listings.publish(owner, "campaigns", "customer")
    form = rt.forms.get_form(admin, "publish_form", domain="Sales")
    rt.forms.update_form(
        admin, form.id, [*FORM, {"name": "Owner", "type": "text", "required": True}]
    )
    with pytest.raises(Invalid) as caught:
        rt.listings.publish(owner, "campaigns", "customer")
    assert _problems(caught.value) == ["forms.publish_form.Owner"]

    # without children, the sub-unit is out of scope
    rt.rules.delete_rule(owner, rule.id)
    rt.rules.create_rule(
        owner, "Sales/Marketing", "here only", "publish", "publish_form", include_children=False
    )
    rt.listings.publish(owner, "ads", "customer")
    with pytest.raises(Invalid):
        rt.listings.publish(owner, "campaigns", "customer")


def test_rules_by_asset_type_and_project_and_several_at_once(org) -> None:
    rt, admin, owner, _ = org
    rt.rules.create_rule(
        owner,
        "Sales/Marketing",
        "federated",
        "publish",
        "publish_form",
        asset_types=["federated_table"],
    )
    rt.listings.publish(owner, "campaigns", "customer")  # a lakehouse table: not in scope
    rt.rules.create_rule(
        owner, "Sales/Marketing", "ads only", "publish", "publish_form", projects=["ads"]
    )
    rt.listings.publish(owner, "campaigns", "customer")
    with pytest.raises(Invalid):
        rt.listings.publish(owner, "ads", "customer")

    # two rules requiring two forms: every missing field of both is named
    rt.forms.create_form(
        admin, "Sales", "quality", [{"name": "Score", "type": "number", "required": True}]
    )
    rt.rules.create_rule(admin, "Sales", "everywhere", "publish", "quality")
    with pytest.raises(Invalid) as caught:
        rt.listings.publish(owner, "ads", "customer")
    assert _problems(caught.value) == [
        "forms.publish_form.Model Year",
        "forms.publish_form.Region",
        "forms.quality.Score",
    ]
    rt.forms.set_values(owner, "ads", "customer", "publish_form", VALUES)
    with pytest.raises(Invalid) as caught:
        rt.listings.publish(owner, "ads", "customer")
    assert _problems(caught.value) == ["forms.quality.Score"]
    rt.forms.set_values(owner, "ads", "customer", "quality", {"Score": 9})
    assert rt.listings.publish(owner, "ads", "customer").forms[0].name == "publish_form"

    # the rules as listed
    listed = rt.rules.list_rules(admin, action="publish")
    assert [(r.name, r.unit) for r in listed] == [
        ("federated", "Sales/Marketing"),
        ("ads only", "Sales/Marketing"),
        ("everywhere", "Sales"),
    ]
    assert listed[0].asset_types == ["federated_table"] and listed[1].projects == ["ads"]
    assert [r.name for r in rt.rules.list_rules(admin, unit="Sales")] == ["everywhere"]


def test_rule_creation_is_for_unit_owners_and_checked(org) -> None:
    rt, admin, owner, buyer = org
    with pytest.raises(Forbidden):
        rt.rules.create_rule(buyer, "Sales/Marketing", "r", "publish", "publish_form")
    checks = [
        ({"action": "delete"}, Invalid, "action"),
        ({"form": "nope"}, NotFound, "form"),
        ({"projects": ["ledger"]}, Invalid, "projects[0]"),
        ({"projects": ["ghost"]}, NotFound, "projects[0]"),
        ({"asset_types": []}, Invalid, "asset_types"),
        ({"asset_types": ["tabel"]}, Invalid, "asset_types"),
        ({"name": " "}, Invalid, "name"),
    ]
    for change, kind, field in checks:
        args = {"name": "r", "action": "publish", "form": "publish_form", **change}
        extra = {k: args.pop(k) for k in ("projects", "asset_types") if k in args}
        with pytest.raises(kind) as caught:
            rt.rules.create_rule(
                owner, "Sales/Marketing", args["name"], args["action"], args["form"], **extra
            )
        assert caught.value.details["field"] == field
    rule = rt.rules.create_rule(owner, "Sales/Marketing", "r", "publish", "publish_form")
    with pytest.raises(Forbidden):
        rt.rules.delete_rule(buyer, rule.id)
    assert rt.rules.get_rule(buyer, rule.id).form == "publish_form"
    denied = rt.audit.events(admin, action="metadata_rule.create", allowed=False)
    assert len(denied) == 1 + len(checks)


def test_subscription_rule_requires_form_values(org) -> None:
    rt, admin, owner, buyer = org
    rt.rules.create_rule(owner, "Sales/Marketing", "why", "subscription_request", "subscribe_form")
    campaigns = rt.listings.publish(owner, "campaigns", "customer")
    ledger = rt.listings.publish(owner, "ledger", "customer")
    with pytest.raises(Invalid) as caught:
        rt.subscriptions.request(buyer, "buyers", [campaigns.id], "analysis")
    assert _problems(caught.value) == ["forms.subscribe_form.Use Case"]
    with pytest.raises(Invalid) as caught:
        rt.subscriptions.request(
            buyer, "buyers", [campaigns.id], "analysis", form_values={"subscribe_form": "x"}
        )
    assert caught.value.details["field"] == "forms.subscribe_form"
    request = rt.subscriptions.request(
        buyer,
        "buyers",
        [campaigns.id],
        "analysis",
        form_values={"subscribe_form": {"Use Case": " churn model "}, "note": 1},
    )
    assert request.form_values == {"subscribe_form": {"Use Case": "churn model"}, "note": 1}
    incoming = rt.subscriptions.list_requests(owner, direction="incoming")
    assert incoming[0].form_values["subscribe_form"]["Use Case"] == "churn model"
    # out of scope: no form needed
    rt.subscriptions.request(buyer, "buyers", [ledger.id], "analysis")
    denied = rt.audit.events(admin, action="subscription.request", allowed=False)
    assert len(denied) == 2 and "Use Case" in (denied[-1].reason or "")


def test_rules_are_updated_with_the_checks_of_creation(org) -> None:
    rt, admin, owner, buyer = org
    rule = rt.rules.create_rule(
        owner, "Sales/Marketing", "r", "publish", "publish_form", projects=["ads"]
    )
    with pytest.raises(Forbidden):
        rt.rules.update_rule(buyer, rule.id, description="mine")
    checks = [
        ({"form": "nope"}, NotFound, "form"),
        ({"include_children": False}, Invalid, "projects[0]"),  # ads is in a child unit
        ({"projects": ["ledger"]}, Invalid, "projects[0]"),
        ({"projects": ["ghost"]}, NotFound, "projects[0]"),
        ({"projects": []}, Invalid, "projects"),
        ({"asset_types": []}, Invalid, "asset_types"),
        ({"asset_types": ["table"]}, Invalid, "asset_types"),
        ({"name": " "}, Invalid, "name"),
        ({"unit": "Sales/Finance"}, Invalid, "projects[0]"),
        ({"unit": "Sales/Nope"}, NotFound, "unit"),
    ]
    for change, kind, field in checks:
        with pytest.raises(kind) as caught:
            rt.rules.update_rule(owner, rule.id, **change)
        assert caught.value.details["field"] == field, change
    unchanged = rt.rules.get_rule(owner, rule.id)
    assert (unchanged.form, unchanged.projects, unchanged.include_children) == (
        "publish_form",
        ["ads"],
        True,
    )
    # buyer is no member of ads: its name is a placeholder (ADR 0010, issue 9)
    assert rt.rules.get_rule(buyer, rule.id).projects[0].startswith("project:hidden:")

    changed = rt.rules.update_rule(
        owner,
        rule.id,
        form="subscribe_form",
        include_children=False,
        projects=None,
        asset_types=["lakehouse_table"],
        description="why",
    )
    assert (changed.form, changed.projects, changed.include_children) == (
        "subscribe_form",
        None,
        False,
    )
    assert changed.asset_types == ["lakehouse_table"] and changed.description == "why"
    moved = rt.rules.update_rule(owner, rule.id, unit="Sales/Finance", projects=["ledger"])
    assert moved.unit == "Sales/Finance" and moved.projects == ["ledger"]
    with pytest.raises(NotFound) as caught:
        rt.rules.update_rule(owner, "nope", description="x")
    assert caught.value.details["field"] == "rule"
    assert len(rt.audit.events(admin, action="metadata_rule.update", allowed=True)) == 2
    denied = rt.audit.events(admin, action="metadata_rule.update", allowed=False)
    assert len(denied) == 2 + len(checks)


@pytest.mark.parametrize("types", [["tabel"], ["table"], ["lakehouse_table", "view"]])
def test_rules_refuse_unknown_asset_types(org, types) -> None:
    # Issue 11: a rule on "tabel" (or the help text's own "table") was accepted and then
    # matched no asset, silently enforcing nothing.
    rt, _, owner, _ = org
    with pytest.raises(Invalid) as caught:
        rt.rules.create_rule(
            owner, "Sales/Marketing", "r", "publish", "publish_form", asset_types=types
        )
    assert caught.value.details["field"] == "asset_types"
    assert caught.value.details["valid"] == ["federated_table", "lakehouse_table"]
    assert "federated_table, lakehouse_table" in caught.value.message
    assert rt.rules.list_rules(owner) == []
    rule = rt.rules.create_rule(
        owner, "Sales/Marketing", "r", "publish", "publish_form", asset_types=["lakehouse_table"]
    )
    with pytest.raises(Invalid):  # and the rule it would be is enforced on lakehouse tables
        rt.listings.publish(owner, "campaigns", "customer")
    with pytest.raises(Invalid) as caught:
        rt.rules.update_rule(owner, rule.id, asset_types=types)
    assert caught.value.details["field"] == "asset_types"
    assert rt.rules.get_rule(owner, rule.id).asset_types == ["lakehouse_table"]
