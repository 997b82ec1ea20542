"""The organisation pages: domain trees, units, projects and members, groups, glossaries and
terms, metadata forms and rules, each as the signed-in principal through the real services on
SQLite; refusals carry the service's status and message, nothing written; CSRF; escaping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.catalog.tables import DataSource
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests import store_templates
from tests.conftest import SCENARIOS
from tests.web import markup
from tests.web.browsers import form_token, signed_in

PASSWORDS = {
    "boss": "boss's long password",
    "owner": "owner's long password",
    "viewer": "viewer's long password",
    "outsider": "outsider's long password",
}
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The pages on SQLite (the services are tested on PostgreSQL too)."""
    return store_templates.sqlite_url(tmp_path)


@dataclass
class World:
    runtime: Runtime
    users: dict[str, Principal]

    def unit(self, path: str) -> str:
        domain = path.split("/", 1)[0]
        units = self.runtime.organisation.list_units(self.users["boss"], domain)
        return next(u.id for u in units if u.path == path)

    def members(self, project: str = "retail") -> dict[str, str]:
        found = self.runtime.organisation.list_members(self.users["boss"], project)
        return {m.name: m.role for m in found}


@pytest.fixture
def world(runtime: Runtime, admin: Principal) -> World:
    """Domain Retail (unit Shop, owned by owner); project retail in Shop (owner; viewer as a
    viewer) with table store_sales carrying term Business/Churn; outsider in no project."""
    rt = runtime
    users = {
        name: rt.security.create_user(admin, name, password=pw, is_admin=name == "boss")
        for name, pw in PASSWORDS.items()
    }
    rt.catalog.create_domain(admin, "Retail", f"shops {SCRIPT}")
    rt.organisation.create_unit(admin, "Retail", "Shop")
    rt.organisation.add_unit_owner(admin, "Retail/Shop", user="owner")
    rt.catalog.create_project(users["owner"], "retail", "Retail", domain_unit="Shop")
    rt.organisation.add_member(users["owner"], "retail", "viewer", user="viewer")
    rt.table_service.create_table(
        users["owner"], "retail", "store_sales", DataSource(SCENARIOS / "retail_store_sales.csv")
    )
    glossary = rt.glossaries.create_glossary(admin, "Retail", "Business")
    rt.glossaries.create_term(admin, glossary.id, "Churn", description="customers who leave")
    rt.glossaries.set_asset_terms(users["owner"], "retail", "store_sales", ["Business/Churn"])
    return World(rt, users)


@pytest.fixture
def app(world: World) -> FastAPI:
    return create_app(world.runtime)


def _browser(app: FastAPI, username: str) -> Iterator[TestClient]:
    return signed_in(app, username, PASSWORDS[username])


@pytest.fixture
def boss(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "boss")


@pytest.fixture
def owner(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "owner")


@pytest.fixture
def viewer(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "viewer")


@pytest.fixture
def outsider(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "outsider")


def _page(browser: TestClient, path: str) -> tuple[httpx.Response, str]:
    page = browser.get(path)
    assert page.status_code == 200, page.text
    assert markup.read(page.text).inline == []  # nothing the CSP would block
    return page, form_token(page)


def _error(page: httpx.Response, element_id: str) -> str:
    """The text of the error element ``element_id`` on ``page``."""
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', page.text)
    assert found, page.text
    return found.group(1)


def test_the_tree_is_shown_with_the_forms_the_user_may_use(world, owner, viewer, app) -> None:
    page, _ = _page(viewer, "/organisation")
    assert "<h2" in page.text and "Retail</h2>" in page.text
    assert 'class="unit-name">Shop</span>' in page.text and "owners: owner" in page.text
    assert "New domain unit" not in page.text and "New domain<" not in page.text
    page, _ = _page(owner, "/organisation")
    assert "you own it" in page.text and "New domain unit" in page.text
    assert f'<option value="{world.unit("Retail/Shop")}"' in page.text
    assert f'<option value="{world.unit("Retail")}"' not in page.text  # owns Shop, not the root
    assert 'href="/organisation">Organisation</a>' in page.text  # the nav link
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as anon:
        assert anon.get("/organisation").headers["location"] == "/login?next=/organisation"


def test_domains_are_created_by_administrators_only(world, boss, owner) -> None:
    _, token = _page(boss, "/organisation")
    done = boss.post("/organisation/domains", data={"csrf_token": token, "name": "Finance"})
    assert done.status_code == 303
    names = {d.name for d in world.runtime.catalog.list_domains(world.users["boss"])}
    assert "Finance" in names
    blank = boss.post("/organisation/domains", data={"csrf_token": token, "name": "  "})
    assert blank.status_code == 400
    assert "name of 1 to 100" in _error(blank, "error-domain-name")

    _, token = _page(owner, "/organisation")
    refused = owner.post("/organisation/domains", data={"csrf_token": token, "name": "Mine"})
    assert refused.status_code == 403 and "domain-error" in refused.text
    names = {d.name for d in world.runtime.catalog.list_domains(world.users["boss"])}
    assert "Mine" not in names


def test_units_are_created_below_owned_units_only(world, owner, viewer) -> None:
    _, token = _page(owner, "/organisation")
    data = {"csrf_token": token, "parent": world.unit("Retail/Shop"), "name": "Online"}
    assert owner.post("/organisation/units", data=data).status_code == 303
    assert world.unit("Retail/Shop/Online")
    again = owner.post("/organisation/units", data=data)
    assert again.status_code == 409 and "already exists" in _error(again, "error-unit-name")

    _, token = _page(viewer, "/organisation")
    data = {"csrf_token": token, "parent": world.unit("Retail/Shop"), "name": "Mine"}
    refused = viewer.post("/organisation/units", data=data)
    assert refused.status_code == 403 and "unit-error" in refused.text
    paths = [u.path for u in world.runtime.organisation.list_units(world.users["boss"], "Retail")]
    assert "Retail/Shop/Mine" not in paths


def test_project_owners_add_members_and_change_roles(world, owner, viewer, outsider) -> None:
    page, token = _page(owner, "/organisation/projects")
    assert '<a href="/organisation/projects/retail">retail</a>' in page.text
    page, token = _page(owner, "/organisation/projects/retail")
    assert "Add a member" in page.text and "Change role" in page.text
    add = {"csrf_token": token, "user": "outsider", "role": "contributor"}
    assert owner.post("/organisation/projects/retail/members", data=add).status_code == 303
    assert world.members()["outsider"] == "contributor"
    role = {"csrf_token": token, "role": "owner"}
    path = "/organisation/projects/retail/members/user/outsider"
    assert owner.post(f"{path}/role", data=role).status_code == 303
    assert world.members()["outsider"] == "owner"
    assert owner.post(f"{path}/remove", data={"csrf_token": token}).status_code == 303
    assert "outsider" not in world.members()
    last = owner.post(
        "/organisation/projects/retail/members/user/owner/role",
        data={"csrf_token": token, "role": "viewer"},
    )
    assert last.status_code == 409 and world.members()["owner"] == "owner"
    assert "owner" in _error(last, "error-member-1")
    unknown = owner.post("/organisation/projects/retail/members", data={**add, "user": "nobody"})
    assert unknown.status_code == 404 and "nobody" in _error(unknown, "error-member-user")

    page, token = _page(viewer, "/organisation/projects/retail")
    assert "Add a member" not in page.text and "Change role" not in page.text
    refused = viewer.post(
        "/organisation/projects/retail/members", data={**add, "csrf_token": token}
    )
    assert refused.status_code == 403 and "add-error" in refused.text
    refused = viewer.post(
        "/organisation/projects/retail/members/user/viewer/role",
        data={"csrf_token": token, "role": "owner"},
    )
    assert refused.status_code == 403 and world.members()["viewer"] == "viewer"
    assert "outsider" not in world.members()
    assert outsider.get("/organisation/projects/retail").status_code == 404
    page, _ = _page(outsider, "/organisation/projects")
    assert "/organisation/projects/retail" not in page.text


def test_new_projects_are_owned_by_their_creator(world, outsider) -> None:
    _, token = _page(outsider, "/organisation/projects")
    data = {"csrf_token": token, "name": "lab", "domain": "Retail", "domain_unit": ""}
    done = outsider.post("/organisation/projects", data=data)
    assert done.status_code == 303 and done.headers["location"] == "/organisation/projects/lab"
    assert world.members("lab") == {"outsider": "owner"}
    below = {**data, "name": "shop_lab", "domain_unit": world.unit("Retail/Shop")}
    refused = outsider.post("/organisation/projects", data=below)
    assert refused.status_code == 403 and "project-error" in refused.text
    bad = outsider.post("/organisation/projects", data={**data, "name": "Bad Name"})
    assert bad.status_code == 400 and "not a valid name" in _error(bad, "project-error")


def test_groups_list_and_members(world, boss, viewer, outsider) -> None:
    rt, admin = world.runtime, world.users["boss"]
    rt.organisation.create_group(admin, "analysts", f"the {SCRIPT} team")
    rt.organisation.add_group_member(admin, "analysts", "viewer")
    page, token = _page(boss, "/organisation/groups/analysts")
    assert escape(SCRIPT) in page.text and SCRIPT not in page.text
    add = {"csrf_token": token, "user": "owner"}
    assert boss.post("/organisation/groups/analysts/members", data=add).status_code == 303
    members = rt.organisation.get_group(admin, "analysts").members
    assert sorted(members) == ["owner", "viewer"]
    remove = "/organisation/groups/analysts/members/owner/remove"
    assert boss.post(remove, data={"csrf_token": token}).status_code == 303
    assert rt.organisation.get_group(admin, "analysts").members == ["viewer"]

    page, token = _page(viewer, "/organisation/groups")
    assert "/organisation/groups/analysts" in page.text
    page, token = _page(viewer, "/organisation/groups/analysts")
    assert "Add a member" not in page.text
    refused = viewer.post(
        "/organisation/groups/analysts/members", data={**add, "csrf_token": token}
    )
    assert refused.status_code == 403
    assert rt.organisation.get_group(admin, "analysts").members == ["viewer"]
    page, _ = _page(outsider, "/organisation/groups")
    assert "analysts" not in page.text
    assert outsider.get("/organisation/groups/analysts").status_code == 404


def test_a_glossary_term_is_created_and_shown_with_its_assets(world, boss, owner, outsider) -> None:
    rt = world.runtime
    _, token = _page(boss, "/organisation/glossaries")
    data = {"csrf_token": token, "unit": world.unit("Retail/Shop"), "name": "Shop words"}
    done = boss.post("/organisation/glossaries", data=data)
    assert done.status_code == 303
    glossary_path = done.headers["location"]
    page, token = _page(boss, glossary_path)
    assert "Glossary Shop words" in page.text
    term = {"csrf_token": token, "name": SCRIPT, "description": "what is bought"}
    bad = boss.post(f"{glossary_path}/terms", data=term)
    assert bad.status_code == 400 and _error(bad, "error-term-name") and SCRIPT not in bad.text
    term = {**term, "name": "Basket", "description": f"what is bought {SCRIPT}"}
    done = boss.post(f"{glossary_path}/terms", data=term)
    assert done.status_code == 303
    page, _ = _page(boss, done.headers["location"])
    assert "Term Basket" in page.text and SCRIPT not in page.text
    assert f"what is bought {escape(SCRIPT)}" in page.text
    created = rt.glossaries.list_glossaries(world.users["boss"], "Retail")
    assert [t.name for g in created if g.name == "Shop words" for t in g.terms] == ["Basket"]
    duplicate = boss.post(f"{glossary_path}/terms", data=term)
    assert duplicate.status_code == 409 and "already exists" in _error(duplicate, "error-term-name")

    _, token = _page(outsider, glossary_path)
    refused = outsider.post(f"{glossary_path}/terms", data={**term, "csrf_token": token})
    assert refused.status_code == 403 and "term-error" in refused.text

    business = next(g for g in created if g.name == "Business")
    churn = f"/organisation/glossaries/{business.id}/terms/{business.terms[0].id}"
    page, _ = _page(owner, churn)
    assert 'href="/assets/retail/store_sales"' in page.text
    page, _ = _page(outsider, churn)  # not in project retail: its inventory is not shown
    assert "/assets/retail/store_sales" not in page.text
    assert "Nothing you may see" in page.text
    assert owner.get(f"/organisation/glossaries/{business.id}/terms/nosuch").status_code == 404


def test_a_form_field_error_is_shown_next_to_the_field(world, boss) -> None:
    rt, admin = world.runtime, world.users["boss"]
    page, token = _page(boss, "/organisation/forms")
    assert 'name="fields[2].name"' in page.text
    data = {
        "csrf_token": token,
        "unit": world.unit("Retail"),
        "name": "usage",
        "fields[0].name": "Use Case",
        "fields[0].type": "text",
        "fields[0].required": "on",
        "fields[2].name": "Region",
        "fields[2].type": "one_of",
        "fields[2].allowed_values": " ",
    }
    refused = boss.post("/organisation/forms", data=data)
    assert refused.status_code == 400
    assert "allowed values" in _error(refused, "error-field-2-allowed")
    assert 'value="Use Case"' in refused.text  # what was sent is kept
    assert rt.forms.list_forms(admin, "Retail") == []
    done = boss.post("/organisation/forms", data={**data, "fields[2].allowed_values": "EU, US"})
    assert done.status_code == 303
    page, _ = _page(boss, done.headers["location"])
    assert "Use Case" in page.text and "EU, US" in page.text
    made = rt.forms.list_forms(admin, "Retail")
    assert [(f.name, f.required) for f in made[0].fields] == [("Use Case", True), ("Region", False)]
    nothing = boss.post("/organisation/forms", data={"csrf_token": token, "name": "x", "unit": ""})
    assert nothing.status_code == 400 and _error(nothing, "error-form-unit")


def test_rules_are_created_by_unit_owners(world, owner, viewer) -> None:
    rt = world.runtime
    form = rt.forms.create_form(
        world.users["boss"],
        "Retail",
        "usage",
        [{"name": "Use Case", "type": "text", "required": True}],
    )
    page, token = _page(owner, "/organisation/rules")
    assert "New rule" in page.text
    data = {
        "csrf_token": token,
        "unit": world.unit("Retail/Shop"),
        "name": "why",
        "action": "subscription_request",
        "form": form.id,
        "include_children": "on",
    }
    done = owner.post("/organisation/rules", data=data)
    assert done.status_code == 303
    page, _ = _page(owner, done.headers["location"])
    assert "Metadata rule why" in page.text and "Use Case" in page.text
    assert [r.name for r in rt.rules.list_rules(world.users["boss"])] == ["why"]

    page, token = _page(viewer, "/organisation/rules")
    assert "New rule" not in page.text and ">why</a>" in page.text
    refused = viewer.post("/organisation/rules", data={**data, "csrf_token": token, "name": "x"})
    assert refused.status_code == 403 and "rule-error" in refused.text
    assert [r.name for r in rt.rules.list_rules(world.users["boss"])] == ["why"]


def test_posts_without_the_csrf_token_are_refused(world, boss, owner) -> None:
    refused = boss.post("/organisation/domains", data={"name": "Finance"})
    assert refused.status_code == 403
    names = {d.name for d in world.runtime.catalog.list_domains(world.users["boss"])}
    assert "Finance" not in names
    data = {"user": "outsider", "role": "owner", "csrf_token": "forged"}
    assert owner.post("/organisation/projects/retail/members", data=data).status_code == 403
    assert "outsider" not in world.members()


def test_names_and_descriptions_are_escaped(world, boss) -> None:
    _, token = _page(boss, "/organisation")
    data = {"csrf_token": token, "parent": world.unit("Retail"), "name": "Ops"}
    assert boss.post("/organisation/units", data={**data, "description": SCRIPT}).status_code == 303
    page, _ = _page(boss, "/organisation")
    assert SCRIPT not in page.text and page.text.count(escape(SCRIPT)) >= 2
    bad = boss.post("/organisation/domains", data={"csrf_token": token, "name": SCRIPT * 10})
    assert bad.status_code == 400 and SCRIPT not in bad.text
