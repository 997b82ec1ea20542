"""Domains and projects through the SDK and the CLI against a real server."""

from __future__ import annotations

import json

import pytest

from lakehold.client import Client
from lakehold.client import models as m
from lakehold.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized


def test_sdk_creates_and_lists_domains_and_projects(sdk) -> None:
    admin = sdk()
    domain = admin.domains.create("Sales", "Sales and marketing")
    assert domain.name == "Sales" and domain.created_at.tzinfo is not None
    project = admin.projects.create("retail", "Sales")
    assert (project.name, project.owner) == ("retail", "admin")
    assert "retail" in [p.name for p in admin.projects.list()]
    with pytest.raises(Conflict) as raised:
        admin.domains.create("Sales")
    assert raised.value.details["field"] == "name" and raised.value.details["request_id"]


def test_cli_against_a_server_needs_no_home(remote_cli, server) -> None:
    remote_cli("domain", "create", "Finance")
    assert "Finance" in remote_cli("domain", "list")
    out = remote_cli("domain", "create", "Finance", code=5)
    assert "already exists" in out
    assert "valid API token" in remote_cli("domain", "list", token="lh_bad", code=3)
    assert not (server.home.parent / "nothing").exists()


def test_a_bad_token_is_an_unauthorized_error(sdk) -> None:
    with pytest.raises(Unauthorized):
        sdk("lh_not_a_token").domains.list()


# -- units, groups and members ------------------------------------------------------------------


def test_sdk_units_groups_and_members(sdk, server) -> None:
    admin = sdk()
    ana = sdk(server.new_user("ana"))
    bob = sdk(server.new_user("bob"))
    admin.domains.create("Org")
    marketing = admin.units.create("Org", "Marketing", description="Demand")
    assert (marketing.path, marketing.depth) == ("Org/Marketing", 1)
    with pytest.raises(Forbidden):
        bob.units.create("Org", "Nope")

    # a path with "/" is addressed like an id; an owner of Marketing creates below it
    assert admin.units.add_owner("Org/Marketing", user="ana").owners[0].name == "ana"
    ads = ana.units.create("Org", "Ads", parent="Org/Marketing")
    assert ana.units.get("Org/Marketing/Ads").id == ads.id == admin.units.get(ads.id).id
    assert [u.path for u in bob.units.list("Org")] == ["Org", "Org/Marketing", "Org/Marketing/Ads"]
    with pytest.raises(Forbidden):
        bob.units.update("Org/Marketing/Ads", description="x")
    assert ana.units.update(ads.id, name="Display").path == "Org/Marketing/Display"
    with pytest.raises(Conflict) as refused:
        ana.units.delete("Org/Marketing")
    assert "Display" in refused.value.message
    with pytest.raises(NotFound):
        ana.units.get("Org/Marketing/Ads")

    ana.projects.create("ads", "Org", domain_unit="Org/Marketing")
    assert [p.name for p in ana.units.projects("Org/Marketing")] == ["ads"]
    assert bob.units.projects("Org/Marketing") == []

    analysts = admin.groups.create("analysts", "Analysts")
    assert admin.groups.add_member("analysts", "bob").members == ["bob"]
    assert [g.name for g in bob.groups.list()] == ["analysts"]
    assert bob.groups.get("analysts").id == analysts.id
    with pytest.raises(Forbidden):
        bob.groups.create("mine")

    member = ana.members.add("ads", "viewer", group="analysts")
    assert (member.kind, member.name, member.role) == ("group", "analysts", "viewer")
    assert [p.name for p in bob.units.projects("Org/Marketing")] == ["ads"]
    assert {(m.name, m.role) for m in bob.members.list("ads")} == {
        ("ana", "owner"),
        ("analysts", "viewer"),
    }
    with pytest.raises(Forbidden):
        bob.members.add("ads", "owner", user="bob")
    assert ana.members.update("ads", "contributor", group="analysts").role == "contributor"
    with pytest.raises(Conflict):
        ana.members.remove("ads", user="ana")
    with pytest.raises(Invalid):
        ana.members.remove("ads")
    ana.members.remove("ads", group="analysts")
    with pytest.raises(NotFound):
        bob.members.list("ads")

    admin.groups.remove_member("analysts", "bob")
    assert admin.groups.get("analysts").members == []
    admin.groups.delete("analysts")
    with pytest.raises(NotFound):
        admin.groups.get("analysts")
    admin.units.remove_owner("Org/Marketing", user="ana")
    assert admin.units.get("Org/Marketing").owners == []
    admin.units.delete("Org/Marketing/Display")
    assert [u.path for u in admin.units.list("Org")] == ["Org", "Org/Marketing"]


def test_remote_cli_units_groups_and_members(remote_cli, server) -> None:
    cara = server.new_user("cara")
    remote_cli("domain", "create", "Ops")
    assert "Ops/Infra" in remote_cli("unit", "create", "Infra", "--domain", "Ops")
    assert "Ops/Infra/Net" in remote_cli(
        "unit", "create", "Net", "--domain", "Ops", "--parent", "Ops/Infra"
    )
    remote_cli("unit", "create", "Nope", "--domain", "Ops", token=cara, code=3)
    remote_cli("unit", "owner-add", "Ops/Infra", "--user", "cara")
    remote_cli("unit", "owner-add", "Ops/Infra", code=2)
    assert "cara" in remote_cli("unit", "list", "--domain", "Ops")
    assert "Ops/Infra/Lan" in remote_cli("unit", "update", "Ops/Infra/Net", "--name", "Lan")
    remote_cli("unit", "delete", "Ops/Infra", code=5)
    remote_cli("unit", "delete", "Ops/Infra/Lan", token=cara)
    remote_cli("unit", "delete", "Ops/Infra/Lan", code=4)
    remote_cli("project", "create", "infra", "--domain", "Ops", "--unit", "Ops/Infra", token=cara)
    assert "infra" in remote_cli("unit", "projects", "Ops/Infra")

    remote_cli("group", "create", "oncall")
    remote_cli("group", "add-member", "oncall", "cara")
    assert "cara" in remote_cli("group", "list")
    remote_cli("project", "member", "add", "infra", "--group", "oncall", "--role", "boss", code=2)
    remote_cli("project", "member", "add", "infra", "--group", "oncall", "--role", "viewer")
    remote_cli("project", "member", "update", "infra", "--group", "oncall", "--role", "owner")
    assert "oncall" in remote_cli("project", "member", "list", "infra", token=cara)
    remote_cli("project", "member", "remove", "infra", "--group", "oncall")
    remote_cli("group", "remove-member", "oncall", "cara")
    remote_cli("group", "delete", "oncall")
    remote_cli("unit", "owner-remove", "Ops/Infra", "--user", "cara")
    remote_cli("project", "member", "list", "nope", code=4)


# -- business metadata and search -----------------------------------------------------------------

CUSTOMERS = "create table {}.customer as select 1 as id, 'ann@example.com' as cust_email"


def _field(name: str, type: str, **options: object) -> m.FieldIn:
    return m.FieldIn(name=name, type=type, **options)  # type: ignore[arg-type]


def test_sdk_glossaries_tags_forms_rules_and_search(sdk, server) -> None:
    admin = sdk()
    dan = sdk(server.new_user("dan"))
    admin.domains.create("Shop")
    admin.units.create("Shop", "Web")
    admin.projects.create("shop", "Shop", domain_unit="Shop/Web")
    admin.sql(CUSTOMERS.format("shop"))
    assert [a.name for a in admin.assets.list("shop")] == ["customer"]
    assert admin.assets.update("shop", "customer", description="Buyers").description == "Buyers"

    glossary = admin.glossaries.create("Shop", "Customer", unit="Web", description="People")
    assert glossary.unit == "Shop/Web"
    term = admin.glossaries.create_term("Customer", "Email address")
    assert [t.id for t in admin.glossaries.get(glossary.id).terms or []] == [term.id]
    assert admin.glossaries.update_term("Customer", "Email address", name="Email").name == "Email"
    with pytest.raises(Forbidden):
        dan.glossaries.update("Customer", description="x")

    # a term attached shows in the asset's metadata; tags on a column too
    assert admin.assets.set_terms("shop", "customer", ["Customer/Email"]).glossary_terms == [
        "Email"
    ]
    admin.assets.set_column_terms("shop", "customer", "cust_email", [term.id])
    admin.assets.set_column_tags("shop", "customer", "cust_email", ["pii", "email"])
    metadata = admin.assets.metadata("shop", "customer")
    assert metadata.glossary_terms == ["Email"]
    column = next(c for c in metadata.columns or [] if c.name == "cust_email")
    assert (column.tags, column.glossary_terms) == (["email", "pii"], ["Email"])
    with pytest.raises(NotFound):
        dan.assets.metadata("shop", "customer")

    found = admin.search.find("customer", tag=["pii"], scope="inventory")
    assert [h.qualified_name for h in found.items or []] == ["shop.customer"]
    assert "Email" in {f.value for f in (found.facets or {})["glossary_term"]}
    assert dan.search.find("customer", scope="inventory").total == 0
    assert admin.search.reindex() >= 1
    with pytest.raises(Forbidden):
        dan.search.reindex()

    fields = [
        _field("Region", "text", required=True, searchable=True),
        _field("Status", "one_of", required=True, allowed_values=["ok", "pending"]),
    ]
    form = admin.forms.create("Shop", "publish_form", fields, unit="Web")
    assert (form.version, form.unit) == (1, "Shop/Web")
    with pytest.raises(Invalid) as bad:
        admin.forms.set_values("shop", "customer", "publish_form", {"Status": "maybe"})
    assert "Region is required" in bad.value.message and "Status" in bad.value.message
    stored = admin.forms.set_values(
        "shop", "customer", "publish_form", {"Region": "EMEA", "Status": "ok"}
    )
    assert stored.values == {"Region": "EMEA", "Status": "ok"}
    assert [v.form for v in admin.forms.values("shop", "customer")] == ["publish_form"]
    assert admin.forms.get("publish_form", domain="Shop").id == form.id
    changed = admin.forms.update(form.id, [*fields, _field("Notes", "text")])
    assert (changed.version, [f.name for f in changed.fields][-1]) == (2, "Notes")
    assert admin.forms.get(form.id, version=1).version == 1

    rule = admin.rules.create("Shop/Web", "needs form", "publish_form", projects=["shop"])
    assert rule.required_fields == ["Region", "Status"] and rule.projects == ["shop"]
    with pytest.raises(Conflict):
        admin.forms.delete("publish_form", domain="Shop")
    rule = admin.rules.update(rule.id, asset_types=["lakehouse_table"], projects=None)
    assert (rule.asset_types, rule.projects) == (["lakehouse_table"], None)
    rule = admin.rules.update(rule.id, asset_types=None, include_children=False)
    assert (rule.asset_types, rule.include_children) == (None, False)
    assert [r.id for r in admin.rules.list(unit="Shop/Web", action="publish")] == [rule.id]
    assert admin.rules.get(rule.id).name == "needs form"
    with pytest.raises(Forbidden):
        dan.rules.delete(rule.id)
    admin.rules.delete(rule.id)
    admin.forms.remove_values("shop", "customer", "publish_form")
    admin.forms.delete("publish_form", domain="Shop")
    assert admin.forms.list("Shop") == []

    policy = admin.unit_policies.grant("Shop/Web", "create_form", "shop", include_children=True)
    assert [p.id for p in admin.unit_policies.list("Shop/Web")] == [policy.id]
    admin.unit_policies.revoke("Shop/Web", policy.id)
    assert admin.unit_policies.list("Shop/Web") == []

    with pytest.raises(Conflict):
        admin.glossaries.delete("Customer")
    admin.glossaries.delete_term("Customer", "Email")
    assert admin.glossaries.terms("Customer") == []
    assert admin.assets.metadata("shop", "customer").glossary_terms == []
    admin.glossaries.delete("Customer")
    assert admin.glossaries.list("Shop") == []


def test_remote_cli_metadata_and_search(remote_cli, server) -> None:
    remote_cli("domain", "create", "Fleet")
    remote_cli("unit", "create", "Cars", "--domain", "Fleet")
    remote_cli("project", "create", "cars", "--domain", "Fleet", "--unit", "Fleet/Cars")
    Client(server.url, server.admin_token).sql(CUSTOMERS.format("cars"))

    remote_cli("glossary", "create", "Fleet", "Customer", "--unit", "Cars")
    remote_cli("term", "create", "Customer", "Email address")
    listed = json.loads(remote_cli("glossary", "list", "Fleet", "--json"))
    assert [t["name"] for t in listed[0]["terms"]] == ["Email address"]
    assert "Email address" in remote_cli("term", "list", "Customer")
    out = remote_cli("term", "attach", "cars.customer", "Customer/Email address")
    assert "terms of cars.customer: Email address" in out
    out = remote_cli("tag", "set", "cars.customer", "cust_email", "pii", "email")
    assert "email, pii" in out
    remote_cli("term", "update", "Customer", "Email address", "--name", "Email")
    remote_cli("term", "update", "Customer", "Nope", "--name", "X", code=4)

    found = json.loads(
        remote_cli("search", "customer", "--tag", "pii", "--project", "cars", "--json")
    )
    assert [h["qualified_name"] for h in found["items"]] == ["cars.customer"]
    out = remote_cli("search", "customer", "--project", "cars", "--scope", "inventory")
    assert "cars.customer" in out and "glossary_term: Email (1)" in out
    assert "indexed" in remote_cli("search", "--reindex")

    remote_cli(
        "form", "create", "Fleet", "publish_form", "--unit", "Cars",
        "-f", "Model Year:number:required", "-f", "Region:text:required:searchable",
    )  # fmt: skip
    remote_cli("form", "create", "Fleet", "x", "-f", "A:text:mandatory", code=2)
    fields = json.loads(remote_cli("form", "list", "Fleet", "--json"))[0]["fields"]
    assert [(f["name"], f["required"]) for f in fields] == [("Model Year", True), ("Region", True)]
    out = remote_cli("rule", "create", "Fleet/Cars", "needs form", "--form", "publish_form")
    assert "Model Year, Region" in out
    (rule,) = json.loads(remote_cli("rule", "list", "--unit", "Fleet/Cars", "--json"))
    bad = remote_cli("form", "set-value", "cars.customer", "publish_form", "Model Year=x", code=2)
    assert "Region is required" in bad
    out = remote_cli(
        "form", "set-value", "cars.customer", "publish_form", "Model Year=2024", "Region=EMEA"
    )
    assert "EMEA" in out
    out = remote_cli("rule", "update", rule["id"], "--asset-type", "lakehouse_table")
    assert "needs publish_form" in out
    (rule,) = json.loads(remote_cli("rule", "list", "--json"))
    assert rule["asset_types"] == ["lakehouse_table"]
    remote_cli("form", "delete", "publish_form", "--domain", "Fleet", code=5)
    remote_cli("rule", "delete", rule["id"])

    remote_cli("policy", "grant", "Fleet/Cars", "create_form", "cars", "--children")
    assert "create_form" in remote_cli("policy", "list", "Fleet/Cars")
    remote_cli("glossary", "delete", "Customer", code=5)
    remote_cli("glossary", "delete", "Customer", "--force")
    remote_cli("glossary", "list", "Fleet", "--json")
