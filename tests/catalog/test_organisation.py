"""The organisation, at service level: domain units and owners, groups, project members."""

from __future__ import annotations

import pytest

from lakehold.errors import Conflict, Forbidden, Invalid, LakeholdError, NotFound
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal


@pytest.fixture
def org(runtime: Runtime, admin: Principal):
    """The domain Sales, and users ana, bob, carol and dave (not administrators)."""
    runtime.catalog.create_domain(admin, "Sales")
    users = {n: runtime.security.create_user(admin, n) for n in ("ana", "bob", "carol", "dave")}
    return runtime.organisation, users


def _raises(kind: type[LakeholdError], field: str | None, call, *args, **kwargs):
    with pytest.raises(kind) as caught:
        call(*args, **kwargs)
    if field is not None:
        assert caught.value.details.get("field") == field, caught.value.to_dict()
    return caught.value


def test_unit_hierarchy_paths_and_names(runtime, admin, org) -> None:
    service, _ = org
    marketing = service.create_unit(admin, "Sales", "Marketing", description="Brand and ads")
    assert marketing.path == "Sales/Marketing" and marketing.depth == 1
    campaigns = service.create_unit(admin, "Sales", "Campaigns", parent="Sales/Marketing")
    service.create_unit(admin, "Sales", "Finance")
    # the same name under another parent is fine; a path below the root resolves too
    service.create_unit(admin, "Sales", "Campaigns", parent="Finance")
    tree = service.list_units(admin, "Sales")
    assert [u.path for u in tree] == [
        "Sales",
        "Sales/Finance",
        "Sales/Finance/Campaigns",
        "Sales/Marketing",
        "Sales/Marketing/Campaigns",
    ]
    assert [u.depth for u in tree] == [0, 1, 2, 1, 2]
    assert tree[-1].parent_id == marketing.id and tree[0].parent_id is None
    assert service.get_unit(admin, campaigns.id).path == "Sales/Marketing/Campaigns"
    assert service.get_unit(admin, "Sales/Marketing/Campaigns").id == campaigns.id

    _raises(Conflict, "name", service.create_unit, admin, "Sales", "Marketing")
    _raises(Invalid, "name", service.create_unit, admin, "Sales", "  ")
    _raises(Invalid, "name", service.create_unit, admin, "Sales", "a/b")
    _raises(Invalid, "name", service.create_unit, admin, "Sales", "x" * 101)
    _raises(NotFound, "parent", service.create_unit, admin, "Sales", "X", parent="Sales/Nope")
    _raises(NotFound, "domain", service.create_unit, admin, "Nope", "X")
    _raises(NotFound, "unit", service.get_unit, admin, "Sales/Nope")
    assert len(service.list_units(admin, "Sales")) == 5


def test_unit_owners_own_the_subtree(runtime, admin, org) -> None:
    service, users = org
    ana, bob = users["ana"], users["bob"]
    service.create_unit(admin, "Sales", "Marketing")
    service.create_unit(admin, "Sales", "Finance")
    _raises(Forbidden, None, service.create_unit, ana, "Sales", "Mine")

    view = service.add_unit_owner(admin, "Sales/Marketing", user="ana")
    assert [(o.kind, o.name) for o in view.owners] == [("user", "ana")]
    # an owner of a unit owns every unit below it
    service.create_unit(ana, "Sales", "Campaigns", parent="Sales/Marketing")
    service.create_unit(ana, "Sales", "Spring", parent="Sales/Marketing/Campaigns")
    service.add_unit_owner(ana, "Sales/Marketing/Campaigns", user="bob")
    _raises(Forbidden, None, service.create_unit, ana, "Sales", "Other", parent="Finance")
    _raises(Forbidden, None, service.add_unit_owner, ana, "Sales", user="ana")
    _raises(Forbidden, None, service.create_unit, bob, "Sales", "X", parent="Sales/Marketing")

    _raises(Conflict, "user", service.add_unit_owner, ana, "Sales/Marketing", user="ana")
    _raises(Invalid, "user", service.add_unit_owner, admin, "Sales/Marketing")
    _raises(Invalid, "user", service.add_unit_owner, admin, "Sales", user="ana", group="g")
    _raises(NotFound, "user", service.add_unit_owner, admin, "Sales", user="nobody")
    _raises(NotFound, "group", service.add_unit_owner, admin, "Sales", group="nobody")
    _raises(NotFound, "user", service.remove_unit_owner, admin, "Sales", user="ana")

    # a group owns a unit: its members act as owners, and changes take effect at once
    service.create_group(admin, "finance-leads")
    service.add_unit_owner(admin, "Sales/Finance", group="finance-leads")
    _raises(Forbidden, None, service.create_unit, bob, "Sales", "Audit", parent="Finance")
    service.add_group_member(admin, "finance-leads", "bob")
    service.create_unit(bob, "Sales", "Audit", parent="Finance")
    service.remove_group_member(admin, "finance-leads", "bob")
    _raises(Forbidden, None, service.create_unit, bob, "Sales", "Tax", parent="Finance")

    service.remove_unit_owner(admin, "Sales/Marketing", user="ana")
    assert service.get_unit(admin, "Sales/Marketing").owners == []
    _raises(Forbidden, None, service.create_unit, ana, "Sales", "Y", parent="Sales/Marketing")
    denied = runtime.audit.events(admin, action="domain_unit.create", allowed=False)
    assert denied and all(e.username in ("ana", "bob") for e in denied)


def test_projects_in_units(runtime, admin, org) -> None:
    service, users = org
    ana, bob = users["ana"], users["bob"]
    service.create_unit(admin, "Sales", "Marketing")
    service.add_unit_owner(admin, "Sales/Marketing", user="ana")

    # anyone may create a project in the domain's root unit (the default)
    open_project = runtime.catalog.create_project(bob, "bobs", "Sales")
    assert open_project.domain_unit == "Sales" and open_project.domain == "Sales"
    root = runtime.catalog.create_project(bob, "bobs_root", "Sales", domain_unit="Sales")
    assert root.domain_unit == "Sales"

    _raises(
        Forbidden,
        None,
        runtime.catalog.create_project,
        bob,
        "nope",
        "Sales",
        domain_unit="Sales/Marketing",
    )
    _raises(
        NotFound, "domain_unit", runtime.catalog.create_project, ana, "x", "Sales", domain_unit="Z"
    )
    full = runtime.catalog.create_project(ana, "ads", "Sales", domain_unit="Sales/Marketing")
    below_root = runtime.catalog.create_project(ana, "brand", "Sales", domain_unit="Marketing")
    assert full.domain_unit == below_root.domain_unit == "Sales/Marketing"
    assert runtime.catalog.get_project(ana, "ads").domain_unit == "Sales/Marketing"
    assert {p.name: p.domain_unit for p in runtime.catalog.list_projects(bob)} == {
        "bobs": "Sales",
        "bobs_root": "Sales",
    }

    assert [p.name for p in service.list_unit_projects(ana, "Sales/Marketing")] == ["ads", "brand"]
    assert service.list_unit_projects(bob, "Sales/Marketing") == []
    assert [p.name for p in service.list_unit_projects(admin, "Sales")] == ["bobs", "bobs_root"]
    # an owner of a unit sees its projects even without being a member of them
    service.add_unit_owner(admin, "Sales/Marketing", user="bob")
    assert [p.name for p in service.list_unit_projects(bob, "Sales/Marketing")] == ["ads", "brand"]
    _raises(NotFound, "project", runtime.catalog.get_project, bob, "ads")


def test_groups_are_managed_by_administrators(runtime, admin, org) -> None:
    service, users = org
    ana = users["ana"]
    _raises(Forbidden, None, service.create_group, ana, "analysts")
    _raises(Invalid, "name", service.create_group, admin, "bad name!")
    group = service.create_group(admin, "analysts", "Sales analysts")
    assert group.members == [] and group.description == "Sales analysts"
    _raises(Conflict, "name", service.create_group, admin, "analysts")
    assert service.add_group_member(admin, "analysts", "ana").members == ["ana"]
    service.add_group_member(admin, "analysts", "bob")
    _raises(Conflict, "user", service.add_group_member, admin, "analysts", "ana")
    _raises(NotFound, "user", service.add_group_member, admin, "analysts", "nobody")
    _raises(NotFound, "group", service.add_group_member, admin, "nope", "ana")
    _raises(Forbidden, None, service.add_group_member, ana, "analysts", "carol")
    _raises(NotFound, "user", service.remove_group_member, admin, "analysts", "carol")

    service.create_group(admin, "others")
    assert [g.name for g in service.list_groups(admin)] == ["analysts", "others"]
    assert [g.name for g in service.list_groups(ana)] == ["analysts"]
    assert service.get_group(ana, "analysts").members == ["ana", "bob"]
    _raises(NotFound, "group", service.get_group, ana, "others")

    _raises(Forbidden, None, service.delete_group, ana, "others")
    service.delete_group(admin, "others")
    _raises(NotFound, "group", service.delete_group, admin, "others")
    assert [g.name for g in service.list_groups(admin)] == ["analysts"]


def test_members_roles_and_the_last_owner(runtime, admin, org) -> None:
    service, users = org
    ana, bob, dave = users["ana"], users["bob"], users["dave"]
    runtime.catalog.create_project(ana, "retail", "Sales")

    assert service.add_member(ana, "retail", "viewer", user="bob").role == "viewer"
    service.add_member(ana, "retail", "contributor", user="carol")
    members = service.list_members(bob, "retail")
    assert [(m.name, m.role) for m in members] == [
        ("ana", "owner"),
        ("carol", "contributor"),
        ("bob", "viewer"),
    ]
    # only owners manage members; non-members do not even see the project
    _raises(Forbidden, None, service.add_member, bob, "retail", "viewer", user="dave")
    _raises(NotFound, "project", service.list_members, dave, "retail")
    _raises(NotFound, "project", service.add_member, dave, "retail", "owner", user="dave")
    _raises(NotFound, "project", service.remove_member, dave, "retail", user="ana")

    _raises(Invalid, "role", service.add_member, ana, "retail", "admin", user="dave")
    _raises(Conflict, "user", service.add_member, ana, "retail", "viewer", user="bob")
    _raises(NotFound, "user", service.add_member, ana, "retail", "viewer", user="nobody")
    _raises(NotFound, "user", service.update_member, ana, "retail", "viewer", user="dave")
    _raises(Invalid, "user", service.remove_member, ana, "retail")

    assert service.update_member(ana, "retail", "contributor", user="bob").role == "contributor"
    service.remove_member(ana, "retail", user="carol")
    assert {m.name for m in service.list_members(ana, "retail")} == {"ana", "bob"}

    # never leave a project without an owner
    _raises(Conflict, "user", service.remove_member, ana, "retail", user="ana")
    _raises(Conflict, "role", service.update_member, ana, "retail", "viewer", user="ana")
    service.update_member(ana, "retail", "owner", user="bob")
    service.update_member(bob, "retail", "viewer", user="ana")
    _raises(Forbidden, None, service.remove_member, ana, "retail", user="bob")
    assert [(m.name, m.role) for m in service.list_members(bob, "retail")] == [
        ("bob", "owner"),
        ("ana", "viewer"),
    ]
    # every refused add is audited (newest first), with what it asked and why it failed
    denied = runtime.audit.events(admin, action="project.member_add", allowed=False)
    assert [(e.username, e.details.get("user"), e.details["error"]) for e in denied] == [
        ("ana", "nobody", "not_found"),
        ("ana", "bob", "conflict"),
        ("ana", "dave", "invalid"),
        ("dave", "dave", "not_found"),
        ("bob", "dave", "forbidden"),
    ]
    assert denied[-1].project == "retail" and denied[-1].resource == "project:retail"


def test_a_group_as_owner_counts_only_with_members(runtime, admin, org) -> None:
    service, users = org
    ana, carol = users["ana"], users["carol"]
    runtime.catalog.create_project(ana, "retail", "Sales")
    service.create_group(admin, "owners")
    service.add_member(ana, "retail", "owner", group="owners")
    # an empty owning group does not keep the project owned
    _raises(Conflict, "user", service.remove_member, ana, "retail", user="ana")
    service.add_group_member(admin, "owners", "carol")
    service.remove_member(carol, "retail", user="ana")
    assert [(m.kind, m.name, m.role) for m in service.list_members(carol, "retail")] == [
        ("group", "owners", "owner")
    ]
    _raises(Conflict, "user", service.remove_group_member, admin, "owners", "carol")
    _raises(Conflict, "group", service.delete_group, admin, "owners")
    _raises(Conflict, "role", service.update_member, carol, "retail", "viewer", group="owners")
    # nothing was half-done: carol still owns the project through the group
    assert service.get_group(admin, "owners").members == ["carol"]
    service.add_member(carol, "retail", "owner", user="ana")
    service.delete_group(admin, "owners")
    _raises(NotFound, "project", service.list_members, carol, "retail")
    assert [m.name for m in service.list_members(ana, "retail")] == ["ana"]


def test_units_are_renamed_and_deleted_by_their_owners(runtime, admin, org) -> None:
    service, users = org
    ana, bob = users["ana"], users["bob"]
    marketing = service.create_unit(admin, "Sales", "Marketing")
    service.create_unit(admin, "Sales", "Finance")
    service.create_unit(admin, "Sales", "Ads", parent="Marketing")
    service.add_unit_owner(admin, "Sales/Marketing", user="ana")
    runtime.catalog.create_project(ana, "ads", "Sales", domain_unit="Sales/Marketing/Ads")

    # owners of the unit or an ancestor change it; others are refused (and audited)
    _raises(Forbidden, None, service.update_unit, bob, "Sales/Marketing", name="Growth")
    changed = service.update_unit(ana, marketing.id, name=" Growth ", description="Demand")
    assert changed.path == "Sales/Growth" and changed.description == "Demand"
    assert service.get_unit(ana, "Sales/Growth/Ads").id
    assert runtime.catalog.get_project(ana, "ads").domain_unit == "Sales/Growth/Ads"
    assert service.update_unit(ana, "Sales/Growth", description="").description is None
    _raises(Conflict, "name", service.update_unit, ana, "Sales/Growth", name="Finance")
    _raises(Invalid, "name", service.update_unit, ana, "Sales/Growth", name="a/b")
    _raises(Invalid, "name", service.update_unit, admin, "Sales", name="Other")
    _raises(NotFound, "unit", service.update_unit, ana, "Sales/Nope", name="X")
    assert service.update_unit(admin, "Sales", description="Root").description == "Root"

    # delete: refused naming what is inside, and for the root unit
    error = _raises(Conflict, "unit", service.delete_unit, ana, "Sales/Growth")
    assert "Ads" in error.message and error.details["contents"] == {"domain units": ["Ads"]}
    error = _raises(Conflict, "unit", service.delete_unit, ana, "Sales/Growth/Ads")
    assert error.details["contents"] == {"projects": ["ads"]} and "ads" in error.message
    _raises(Conflict, "unit", service.delete_unit, admin, "Sales")
    _raises(Forbidden, None, service.delete_unit, bob, "Sales/Finance")
    runtime.glossaries.create_glossary(admin, "Sales", "Words", unit="Finance")
    error = _raises(Conflict, "unit", service.delete_unit, admin, "Sales/Finance")
    assert error.details["contents"] == {"glossaries": ["Words"]}

    service.create_unit(ana, "Sales", "Empty", parent="Growth")
    service.add_unit_owner(ana, "Sales/Growth/Empty", user="bob")
    service.delete_unit(ana, "Sales/Growth/Empty")
    _raises(NotFound, "unit", service.get_unit, ana, "Sales/Growth/Empty")
    assert [u.path for u in service.list_units(ana, "Sales")] == [
        "Sales",
        "Sales/Finance",
        "Sales/Growth",
        "Sales/Growth/Ads",
    ]
    allowed = runtime.audit.events(admin, action="domain_unit.delete", allowed=True)
    assert [e.details["unit"] for e in allowed] == ["Sales/Growth/Empty"]
    assert runtime.audit.events(admin, action="domain_unit.update", allowed=False)
