"""Business metadata at service level: glossaries and terms, terms and tags on assets and
columns, unit policies, metadata forms with versions, and form values naming every problem."""

from __future__ import annotations

import pytest

from lakehold.catalog.tables import DataSource
from lakehold.errors import Conflict, Forbidden, Invalid, LakeholdError, NotFound
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import Listing
from tests.conftest import SCENARIOS
from tests.sharing import add_member, new_user

PUBLISH_FIELDS = [
    {"name": "Model Year", "type": "number", "required": True, "searchable": True},
    {"name": "Region", "type": "text", "required": True, "searchable": True},
    {
        "name": "Compliance Status",
        "type": "one_of",
        "required": True,
        "allowed_values": ["compliant", "pending", "non-compliant"],
    },
]


@pytest.fixture
def org(runtime: Runtime, admin: Principal):
    """Domain Sales with unit Marketing (owned by ana) and project campaigns (bob) in it."""
    runtime.catalog.create_domain(admin, "Sales")
    ana, _ = new_user(runtime, admin, "ana")
    bob, _ = new_user(runtime, admin, "bob")
    carol, _ = new_user(runtime, admin, "carol")
    runtime.organisation.create_unit(admin, "Sales", "Marketing")
    runtime.organisation.add_unit_owner(admin, "Sales/Marketing", user="ana")
    runtime.catalog.create_project(ana, "campaigns", "Sales", domain_unit="Marketing")
    add_member(runtime, "campaigns", bob, "contributor")
    runtime.table_service.create_table(
        ana, "campaigns", "customer", DataSource(SCENARIOS / "retail_customer.csv")
    )
    return {"admin": admin, "ana": ana, "bob": bob, "carol": carol}


def _raises(kind: type[LakeholdError], call, *args, **kwargs) -> LakeholdError:
    with pytest.raises(kind) as caught:
        call(*args, **kwargs)
    return caught.value


def test_forms_are_versioned_and_values_name_every_problem(runtime, org) -> None:
    ana, bob = org["ana"], org["bob"]
    form = runtime.forms.create_form(
        ana, "Sales", "publish_form", PUBLISH_FIELDS, unit="Marketing", description="On publish"
    )
    assert form.version == 1 and form.unit == "Sales/Marketing"
    assert [f.name for f in form.fields] == ["Model Year", "Region", "Compliance Status"]
    assert form.fields[2].allowed_values == ["compliant", "pending", "non-compliant"]
    assert _raises(
        Conflict,
        runtime.forms.create_form,
        ana,
        "Sales",
        "publish_form",
        PUBLISH_FIELDS,
        unit="Marketing",
    )

    # every problem at once, each naming its field
    error = _raises(
        Invalid,
        runtime.forms.set_values,
        bob,
        "campaigns",
        "customer",
        "publish_form",
        {"Model Year": "soon", "Compliance Status": "maybe", "Colour": "red"},
    )
    problems = {p["field"]: p["message"] for p in error.details["problems"]}
    assert set(problems) == {
        "forms.publish_form.Model Year",
        "forms.publish_form.Region",
        "forms.publish_form.Compliance Status",
        "forms.publish_form.Colour",
    }
    assert problems["forms.publish_form.Region"] == "is required"
    assert (
        "one of compliant, pending, non-compliant"
        in problems["forms.publish_form.Compliance Status"]
    )
    assert error.details["field"].startswith("forms.publish_form.")

    values = runtime.forms.set_values(
        bob,
        "campaigns",
        "customer",
        "publish_form",
        {"Model Year": "2024", "Region": " EMEA ", "Compliance Status": "compliant"},
    )
    assert values.version == 1
    assert values.values == {"Model Year": 2024, "Region": "EMEA", "Compliance Status": "compliant"}
    assert values.searchable == ["Model Year", "Region"]

    # a change makes version 2; stored values keep the version they were checked on
    v2 = runtime.forms.update_form(
        ana, form.id, [*PUBLISH_FIELDS, {"name": "Launch", "type": "date", "required": False}]
    )
    assert v2.version == 2 and v2.current_version == 2 and len(v2.fields) == 4
    assert len(runtime.forms.get_form(bob, form.id, version=1).fields) == 3
    assert runtime.forms.get_form(bob, "publish_form", domain="Sales").version == 2
    assert runtime.forms.list_values(bob, "campaigns", "customer")[0].version == 1
    again = runtime.forms.set_values(
        bob,
        "campaigns",
        "customer",
        "publish_form",
        {"Model Year": 2025, "Region": "EMEA", "Compliance Status": "pending"},
    )
    assert again.version == 2 and again.values["Model Year"] == 2025
    bad = _raises(
        Invalid,
        runtime.forms.set_values,
        bob,
        "campaigns",
        "customer",
        "publish_form",
        {"Model Year": 2025, "Region": "EMEA", "Compliance Status": "pending", "Launch": "x"},
    )
    assert bad.details["field"] == "forms.publish_form.Launch"


def test_field_types_and_definitions(runtime, org) -> None:
    admin, bob = org["admin"], org["bob"]
    glossary = runtime.glossaries.create_glossary(admin, "Sales", "Business")
    runtime.glossaries.create_term(admin, glossary.id, "Revenue")
    error = _raises(
        Invalid,
        runtime.forms.create_form,
        admin,
        "Sales",
        "bad",
        [
            {"name": "A", "type": "colour"},
            {"name": "B", "type": "one_of"},
            {"name": "C", "type": "glossary_term", "glossary": "Nope"},
            {"name": "a", "type": "text"},
        ],
    )
    assert [p["field"] for p in error.details["problems"]] == [
        "fields[0].type",
        "fields[1].allowed_values",
        "fields[2].glossary",
        "fields[3].name",
    ]
    runtime.forms.create_form(
        admin,
        "Sales",
        "kinds",
        [
            {"name": "Count", "type": "number"},
            {"name": "Day", "type": "date"},
            {"name": "Flag", "type": "boolean"},
            {"name": "Term", "type": "glossary_term", "glossary": "Business"},
        ],
    )
    error = _raises(
        Invalid,
        runtime.forms.set_values,
        bob,
        "campaigns",
        "customer",
        "kinds",
        {"Count": True, "Day": "2024-13-01", "Flag": "yes", "Term": "Cost"},
    )
    assert len(error.details["problems"]) == 4
    stored = runtime.forms.set_values(
        bob,
        "campaigns",
        "customer",
        "kinds",
        {"Count": 1.5, "Day": "2024-02-29", "Flag": "true", "Term": "Revenue"},
    )
    assert stored.values == {"Count": 1.5, "Day": "2024-02-29", "Flag": True, "Term": "Revenue"}
    runtime.forms.remove_values(bob, "campaigns", "customer", "kinds")
    _raises(NotFound, runtime.forms.get_values, bob, "campaigns", "customer", "kinds")


def test_glossary_terms_and_tags_on_assets_and_columns_reach_the_listing(runtime, org) -> None:
    ana, bob, carol = org["ana"], org["bob"], org["carol"]
    glossary = runtime.glossaries.create_glossary(ana, "Sales", "Customer", unit="Marketing")
    assert glossary.unit == "Sales/Marketing"
    runtime.glossaries.create_term(ana, glossary.id, "Customer", description="A buyer")
    runtime.glossaries.create_term(ana, "Customer", "Email address")
    assert _raises(Conflict, runtime.glossaries.create_term, ana, glossary.id, "Customer")
    assert [t.name for t in runtime.glossaries.list_terms(carol, glossary.id)] == [
        "Customer",
        "Email address",
    ]

    meta = runtime.glossaries.set_asset_terms(bob, "campaigns", "customer", ["Customer/Customer"])
    assert meta.glossary_terms == ["Customer"]
    runtime.glossaries.set_column_terms(
        bob, "campaigns", "customer", "cust_email", ["Customer/Email address"]
    )
    meta = runtime.glossaries.set_column_tags(
        bob, "campaigns", "customer", "cust_email", ["pii", " email ", "pii"]
    )
    email = next(c for c in meta.columns if c.name == "cust_email")
    assert email.tags == ["email", "pii"] and email.glossary_terms == ["Email address"]
    error = _raises(
        NotFound, runtime.glossaries.set_asset_terms, bob, "campaigns", "customer", ["X/Y"]
    )
    assert error.details["field"] == "terms[0]"
    error = _raises(
        NotFound, runtime.glossaries.set_column_tags, bob, "campaigns", "customer", "nope", ["a"]
    )
    assert error.details["field"] == "column"
    _raises(NotFound, runtime.glossaries.set_column_tags, carol, "campaigns", "customer", "x", [])

    runtime.forms.create_form(ana, "Sales", "publish_form", PUBLISH_FIELDS, unit="Marketing")
    runtime.forms.set_values(
        bob,
        "campaigns",
        "customer",
        "publish_form",
        {"Model Year": 2024, "Region": "EMEA", "Compliance Status": "compliant"},
    )
    listing = runtime.listings.publish(bob, "campaigns", "customer")
    with runtime.store.session() as session:
        snapshot = session.get(Listing, listing.id).metadata_snapshot
    assert snapshot["project"] == "campaigns" and snapshot["domain_unit"] == "Sales/Marketing"
    assert snapshot["glossary_terms"] == ["Customer"]
    column = next(c for c in snapshot["columns"] if c["name"] == "cust_email")
    assert column["tags"] == ["email", "pii"] and column["glossary_terms"] == ["Email address"]
    assert snapshot["forms"] == [
        {
            "name": "publish_form",
            "version": 1,
            "values": {"Model Year": 2024, "Region": "EMEA", "Compliance Status": "compliant"},
            "searchable": ["Model Year", "Region"],
        }
    ]
    assert listing.glossary_terms == ["Customer"] and listing.forms[0].values["Region"] == "EMEA"
    assert listing.columns[3].tags == ["email", "pii"]

    # removing terms and tags
    meta = runtime.glossaries.set_column_tags(bob, "campaigns", "customer", "cust_email", [])
    assert next(c for c in meta.columns if c.name == "cust_email").tags == []
    assert runtime.glossaries.set_asset_terms(bob, "campaigns", "customer", []).glossary_terms == []


def test_unit_policies_delegate_creation_to_projects(runtime, org) -> None:
    admin, ana, bob, carol = org["admin"], org["ana"], org["bob"], org["carol"]
    runtime.organisation.create_unit(admin, "Sales", "Ads", parent="Sales/Marketing")
    # bob (contributor of campaigns) may not create forms or glossaries in Marketing yet
    _raises(
        Forbidden, runtime.forms.create_form, bob, "Sales", "f", PUBLISH_FIELDS, unit="Marketing"
    )
    _raises(Forbidden, runtime.glossaries.create_glossary, bob, "Sales", "G", unit="Marketing")
    # only unit owners grant policies
    _raises(
        Forbidden, runtime.unit_policies.grant, bob, "Sales/Marketing", "create_form", "campaigns"
    )
    error = _raises(
        Invalid, runtime.unit_policies.grant, ana, "Sales/Marketing", "fly", "campaigns"
    )
    assert error.details["field"] == "capability"
    granted = runtime.unit_policies.grant(
        ana, "Sales/Marketing", "create_form", "campaigns", include_children=True
    )
    assert granted.unit == "Sales/Marketing" and granted.include_children
    _raises(
        Conflict, runtime.unit_policies.grant, ana, "Sales/Marketing", "create_form", "campaigns"
    )
    runtime.unit_policies.grant(ana, "Sales/Marketing", "create_glossary", "campaigns")

    form = runtime.forms.create_form(bob, "Sales", "f", PUBLISH_FIELDS, unit="Marketing")
    runtime.forms.create_form(bob, "Sales", "g", PUBLISH_FIELDS, unit="Sales/Marketing/Ads")
    runtime.forms.update_form(bob, form.id, PUBLISH_FIELDS[:1])
    glossary = runtime.glossaries.create_glossary(bob, "Sales", "G", unit="Marketing")
    # create_glossary did not include children; terms need their own capability
    _raises(Forbidden, runtime.glossaries.create_glossary, bob, "Sales", "H", unit="Marketing/Ads")
    _raises(Forbidden, runtime.glossaries.create_term, bob, glossary.id, "T")
    runtime.unit_policies.grant(ana, "Sales/Marketing", "create_glossary_term", "campaigns")
    runtime.glossaries.create_term(bob, glossary.id, "T")
    # a viewer of the project, or another user, may not; nor in the root unit
    add_member(runtime, "campaigns", carol, "viewer")
    _raises(
        Forbidden, runtime.forms.create_form, carol, "Sales", "h", PUBLISH_FIELDS, unit="Marketing"
    )
    _raises(Forbidden, runtime.forms.create_form, bob, "Sales", "h", PUBLISH_FIELDS)

    policies = runtime.unit_policies.list_policies(carol, "Sales/Marketing")
    assert [p.capability for p in policies] == [
        "create_form",
        "create_glossary",
        "create_glossary_term",
    ]
    runtime.unit_policies.revoke(ana, "Sales/Marketing", policies[0].id)
    _raises(
        Forbidden, runtime.forms.create_form, bob, "Sales", "h", PUBLISH_FIELDS, unit="Marketing"
    )
    denied = runtime.audit.events(admin, action="metadata_form.create", allowed=False)
    assert {e.username for e in denied} == {"bob", "carol"}


def test_glossaries_and_terms_are_updated_and_deleted(runtime, org) -> None:
    admin, ana, bob, carol = org["admin"], org["ana"], org["bob"], org["carol"]
    glossary = runtime.glossaries.create_glossary(ana, "Sales", "Customer", unit="Marketing")
    runtime.glossaries.create_glossary(admin, "Sales", "Other")
    email = runtime.glossaries.create_term(ana, glossary.id, "Email address")
    runtime.glossaries.create_term(ana, glossary.id, "Buyer")
    runtime.glossaries.set_asset_terms(bob, "campaigns", "customer", ["Customer/Buyer"])
    runtime.glossaries.set_column_terms(
        bob, "campaigns", "customer", "cust_email", ["Customer/Email address"]
    )
    listing = runtime.listings.publish(bob, "campaigns", "customer")

    # update: permissions as for creation, names checked, conflicts named
    _raises(Forbidden, runtime.glossaries.update_glossary, bob, glossary.id, name="X")
    renamed = runtime.glossaries.update_glossary(ana, glossary.id, name="Clients", description="")
    assert renamed.name == "Clients" and renamed.description is None
    assert _raises(Conflict, runtime.glossaries.update_glossary, ana, "Clients", name="Other")
    assert (
        _raises(Invalid, runtime.glossaries.update_glossary, ana, "Clients", name=" ").details[
            "field"
        ]
        == "name"
    )
    term = runtime.glossaries.update_term(ana, "Clients", "Email address", name="Email")
    assert term.name == "Email" and term.id == email.id
    assert _raises(Conflict, runtime.glossaries.update_term, ana, "Clients", email.id, name="Buyer")
    error = _raises(NotFound, runtime.glossaries.update_term, ana, "Clients", "Nope", name="Y")
    assert error.details["field"] == "term"
    _raises(Forbidden, runtime.glossaries.update_term, carol, "Clients", "Email", name="Z")
    hits = runtime.search.search(bob, glossary_term="Email", scope="inventory").items
    assert [h.qualified_name for h in hits] == ["campaigns.customer"]

    # a term delete removes its links and reindexes; the listing keeps its snapshot
    _raises(Forbidden, runtime.glossaries.delete_term, bob, "Clients", "Email")
    runtime.glossaries.delete_term(ana, "Clients", "Email")
    meta = runtime.glossaries.asset_metadata(bob, "campaigns", "customer")
    assert next(c for c in meta.columns if c.name == "cust_email").glossary_terms == []
    assert runtime.search.search(bob, glossary_term="Email", scope="inventory").total == 0
    with runtime.store.session() as session:
        snapshot = session.get(Listing, listing.id).metadata_snapshot
    column = next(c for c in snapshot["columns"] if c["name"] == "cust_email")
    assert column["glossary_terms"] == ["Email address"]
    deleted = runtime.audit.events(admin, action="glossary_term.delete", allowed=True)
    assert deleted[0].assets == ["campaigns.customer"]

    # a glossary with terms needs force; one used by a form is refused even then
    error = _raises(Conflict, runtime.glossaries.delete_glossary, ana, "Clients")
    assert "1 term" in error.message and error.details["terms"] == 1
    runtime.forms.create_form(
        admin, "Sales", "kinds", [{"name": "T", "type": "glossary_term", "glossary": "Other"}]
    )
    error = _raises(Conflict, runtime.glossaries.delete_glossary, admin, "Other", force=True)
    assert error.details["forms"] == ["kinds"]
    runtime.glossaries.delete_glossary(ana, "Clients", force=True)
    assert runtime.glossaries.asset_metadata(bob, "campaigns", "customer").glossary_terms == []
    _raises(NotFound, runtime.glossaries.get_glossary, ana, glossary.id)
    assert [g.name for g in runtime.glossaries.list_glossaries(carol, "Sales")] == ["Other"]


def test_forms_in_use_are_not_deleted(runtime, org) -> None:
    admin, ana, bob = org["admin"], org["ana"], org["bob"]
    form = runtime.forms.create_form(ana, "Sales", "publish_form", PUBLISH_FIELDS, unit="Marketing")
    runtime.forms.create_form(admin, "Sales", "spare", PUBLISH_FIELDS)
    rule = runtime.rules.create_rule(ana, "Sales/Marketing", "needs form", "publish", form.id)
    runtime.forms.set_values(
        bob,
        "campaigns",
        "customer",
        "publish_form",
        {"Model Year": 2024, "Region": "EMEA", "Compliance Status": "compliant"},
    )
    _raises(Forbidden, runtime.forms.delete_form, bob, form.id)
    _raises(Forbidden, runtime.forms.delete_form, ana, "spare", domain="Sales")
    error = _raises(Conflict, runtime.forms.delete_form, ana, form.id)
    assert error.details["rules"] == ["needs form"]
    assert error.details["assets"] == ["campaigns.customer"]
    assert "needs form" in error.message and "campaigns.customer" in error.message
    runtime.rules.delete_rule(ana, rule.id)
    runtime.forms.remove_values(bob, "campaigns", "customer", "publish_form")
    runtime.forms.delete_form(ana, "publish_form", domain="Sales")
    assert _raises(NotFound, runtime.forms.get_form, ana, form.id).details["field"] == "form"
    assert _raises(NotFound, runtime.forms.delete_form, admin, "nope").details["field"] == "form"
    assert [f.name for f in runtime.forms.list_forms(ana, "Sales")] == ["spare"]
    assert runtime.audit.events(admin, action="metadata_form.delete", allowed=False)


def test_renaming_a_unit_updates_the_search_index(runtime, org) -> None:
    ana, bob = org["ana"], org["bob"]
    runtime.organisation.update_unit(ana, "Sales/Marketing", name="Growth")
    hits = runtime.search.search(bob, domain_unit="Sales/Growth", scope="inventory").items
    assert [(h.qualified_name, h.domain_unit) for h in hits] == [
        ("campaigns.customer", "Sales/Growth")
    ]
