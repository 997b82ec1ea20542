"""The organisation over HTTP: domain units, groups and project members with their roles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SCENARIOS, upload
from tests.scenarios.helpers import create_table, ok, query, write


@pytest.fixture
def api(client: TestClient) -> TestClient:
    """The admin client."""
    return client


@pytest.fixture
def login(api: TestClient):
    """A client acting as a new (non-admin) user."""

    def as_user(username: str) -> TestClient:
        ok(api.post("/api/v1/users", json={"username": username}), 201)
        token = ok(api.post("/api/v1/tokens", json={"name": "t", "username": username}), 201)
        return TestClient(api.app, headers={"Authorization": f"Bearer {token['value']}"})

    return as_user


def error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    if field is not None:
        assert body["field"] == field, body
    return body


def test_endpoints_are_documented(api) -> None:
    spec = api.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/domain-units",
        "/api/v1/domain-units/{unit}",
        "/api/v1/domain-units/{unit}/owners",
        "/api/v1/domain-units/{unit}/projects",
        "/api/v1/groups",
        "/api/v1/groups/{group}/members/{username}",
        "/api/v1/projects/{project}/members",
        "/api/v1/projects/{project}/members/users/{username}",
        "/api/v1/projects/{project}/members/groups/{group}",
    ):
        assert path in spec, path
    assert TestClient(api.app).get("/api/v1/groups").status_code == 401


def test_unit_tree_owners_and_errors(api, login) -> None:
    ana = login("ana")
    ok(api.post("/api/v1/domains", json={"name": "Sales"}), 201)
    marketing = ok(
        api.post("/api/v1/domain-units", json={"domain": "Sales", "name": "Marketing"}), 201
    )
    assert marketing["path"] == "Sales/Marketing" and marketing["owners"] == []
    error(
        api.post("/api/v1/domain-units", json={"domain": "Sales", "name": "Marketing"}), 409, "name"
    )
    error(api.post("/api/v1/domain-units", json={"domain": "Sales", "name": ""}), 400, "name")
    error(api.post("/api/v1/domain-units", json={"domain": "Sales", "name": "a/b"}), 400, "name")
    error(api.post("/api/v1/domain-units", json={"domain": "Sales"}), 400, "name")
    error(
        api.post("/api/v1/domain-units", json={"domain": "Sales", "name": "X", "parent": "Nope"}),
        404,
        "parent",
    )
    error(api.post("/api/v1/domain-units", json={"domain": "Nope", "name": "X"}), 404, "domain")
    error(ana.post("/api/v1/domain-units", json={"domain": "Sales", "name": "X"}), 403)

    owners = f"/api/v1/domain-units/{marketing['id']}/owners"
    added = ok(api.post(owners, json={"user": "ana"}), 201)
    assert added["owners"] == [{"kind": "user", "name": "ana"}]
    error(api.post(owners, json={"user": "ana"}), 409, "user")
    error(api.post(owners, json={}), 400, "user")
    error(api.post(owners, json={"user": "nobody"}), 404, "user")
    error(api.post(owners, json={"group": "nobody"}), 404, "group")

    campaigns = ok(
        ana.post(
            "/api/v1/domain-units",
            json={"domain": "Sales", "name": "Campaigns", "parent": "Sales/Marketing"},
        ),
        201,
    )
    assert campaigns["depth"] == 2 and campaigns["parent_id"] == marketing["id"]
    tree = ok(ana.get("/api/v1/domain-units", params={"domain": "Sales"}))
    assert [u["path"] for u in tree] == ["Sales", "Sales/Marketing", "Sales/Marketing/Campaigns"]
    assert ok(ana.get(f"/api/v1/domain-units/{campaigns['id']}"))["name"] == "Campaigns"
    error(api.get("/api/v1/domain-units/nope"), 404, "unit")
    error(api.get("/api/v1/domain-units"), 400, "domain")

    root_owners = f"/api/v1/domain-units/{tree[0]['id']}/owners"
    error(ana.post(root_owners, json={"user": "ana"}), 403)
    ok(api.post("/api/v1/groups", json={"name": "leads"}), 201)
    ok(ana.post(f"/api/v1/domain-units/{campaigns['id']}/owners", json={"group": "leads"}), 201)
    group_owner = f"/api/v1/domain-units/{campaigns['id']}/owners/groups/leads"
    assert ana.delete(group_owner).status_code == 204
    error(ana.delete(group_owner), 404, "group")
    assert api.delete(f"{owners}/users/ana").status_code == 204
    error(
        ana.post(
            "/api/v1/domain-units", json={"domain": "Sales", "name": "Y", "parent": "Marketing"}
        ),
        403,
    )


def test_project_in_a_sub_unit(api, login) -> None:
    ana, bob = login("ana"), login("bob")
    ok(api.post("/api/v1/domains", json={"name": "Sales"}), 201)
    unit = ok(api.post("/api/v1/domain-units", json={"domain": "Sales", "name": "Marketing"}), 201)
    ok(api.post(f"/api/v1/domain-units/{unit['id']}/owners", json={"user": "ana"}), 201)

    body = {"name": "ads", "domain": "Sales", "domain_unit": "Sales/Marketing"}
    error(bob.post("/api/v1/projects", json=body), 403)
    created = ok(ana.post("/api/v1/projects", json=body), 201)
    assert created["domain_unit"] == "Sales/Marketing" and created["domain_unit_id"] == unit["id"]
    by_id = {"name": "brand", "domain": "Sales", "domain_unit": unit["id"]}
    assert ok(ana.post("/api/v1/projects", json=by_id), 201)["domain_unit"] == "Sales/Marketing"
    missing = {"name": "x", "domain": "Sales", "domain_unit": "Sales/Nope"}
    error(ana.post("/api/v1/projects", json=missing), 404, "domain_unit")
    # anyone may create a project in the root unit
    root = ok(bob.post("/api/v1/projects", json={"name": "bobs", "domain": "Sales"}), 201)
    assert root["domain_unit"] == "Sales"

    assert ok(ana.get("/api/v1/projects/ads"))["domain_unit"] == "Sales/Marketing"
    listed = ok(ana.get(f"/api/v1/domain-units/{unit['id']}/projects"))
    assert [p["name"] for p in listed] == ["ads", "brand"]
    assert ok(bob.get(f"/api/v1/domain-units/{unit['id']}/projects")) == []


def test_viewers_query_contributors_write(api, login) -> None:
    bob = login("bob")
    ok(api.post("/api/v1/domains", json={"name": "Sales"}), 201)
    ok(api.post("/api/v1/projects", json={"name": "retail", "domain": "Sales"}), 201)
    create_table(api, "retail", "customer", "retail_customer.csv")

    added = ok(
        api.post("/api/v1/projects/retail/members", json={"user": "bob", "role": "viewer"}), 201
    )
    assert added == {
        "kind": "user",
        "name": "bob",
        "role": "viewer",
        "created_at": added["created_at"],
    }
    assert [a["name"] for a in ok(bob.get("/api/v1/projects/retail/assets"))] == ["customer"]
    assert query(bob, "select count(*) as n from retail.customer")[0]["n"] > 0
    new_table = bob.post(
        "/api/v1/projects/retail/tables",
        data={"name": "copy"},
        files=upload(SCENARIOS / "retail_customer.csv"),
    )
    error(new_table, 403)
    error(write(bob, "retail", "customer", "retail_customer.csv", mode="append"), 403)
    error(
        bob.post("/api/v1/projects/retail/members", json={"user": "admin", "role": "viewer"}), 403
    )

    promoted = ok(bob_role(api, "bob", "contributor"))
    assert promoted["role"] == "contributor"
    ok(write(bob, "retail", "customer", "retail_customer.csv", mode="overwrite"))
    created = bob.post(
        "/api/v1/projects/retail/tables",
        data={"name": "copy"},
        files=upload(SCENARIOS / "retail_customer.csv"),
    )
    assert created.status_code == 201, created.text


def bob_role(api: TestClient, username: str, role: str):
    return api.put(f"/api/v1/projects/retail/members/users/{username}", json={"role": role})


def test_group_membership_takes_effect_at_once(api, login) -> None:
    carol = login("carol")
    ok(api.post("/api/v1/domains", json={"name": "Sales"}), 201)
    ok(api.post("/api/v1/projects", json={"name": "retail", "domain": "Sales"}), 201)
    create_table(api, "retail", "customer", "retail_customer.csv")
    group = ok(api.post("/api/v1/groups", json={"name": "analysts"}), 201)
    assert group["members"] == []
    ok(
        api.post(
            "/api/v1/projects/retail/members", json={"group": "analysts", "role": "contributor"}
        ),
        201,
    )

    error(write(carol, "retail", "customer", "retail_customer.csv", mode="append"), 404)
    added = ok(api.post("/api/v1/groups/analysts/members", json={"user": "carol"}), 201)
    assert added["members"] == ["carol"]
    ok(write(carol, "retail", "customer", "retail_customer.csv", mode="overwrite"))
    assert [g["name"] for g in ok(carol.get("/api/v1/groups"))] == ["analysts"]
    members = ok(carol.get("/api/v1/projects/retail/members"))
    assert {(m["kind"], m["name"], m["role"]) for m in members} == {
        ("user", "admin", "owner"),
        ("group", "analysts", "contributor"),
    }

    assert api.delete("/api/v1/groups/analysts/members/carol").status_code == 204
    error(write(carol, "retail", "customer", "retail_customer.csv", mode="append"), 404)
    error(carol.post("/api/v1/query", json={"sql": "select * from retail.customer"}), 404)
    assert ok(carol.get("/api/v1/groups")) == []

    # a viewer group can read but not write
    ok(api.post("/api/v1/groups/analysts/members", json={"user": "carol"}), 201)
    ok(api.put("/api/v1/projects/retail/members/groups/analysts", json={"role": "viewer"}))
    assert query(carol, "select count(*) as n from retail.customer")[0]["n"] > 0
    error(write(carol, "retail", "customer", "retail_customer.csv", mode="append"), 403)
    assert api.delete("/api/v1/projects/retail/members/groups/analysts").status_code == 204
    error(carol.get("/api/v1/projects/retail"), 404)


def test_last_owner_non_members_and_bad_input(api, login) -> None:
    bob, dave = login("bob"), login("dave")
    ok(api.post("/api/v1/domains", json={"name": "Sales"}), 201)
    ok(api.post("/api/v1/projects", json={"name": "retail", "domain": "Sales"}), 201)
    create_table(api, "retail", "customer", "retail_customer.csv")
    members = "/api/v1/projects/retail/members"
    ok(api.post(members, json={"user": "bob", "role": "viewer"}), 201)

    error(api.delete(f"{members}/users/admin"), 409, "user")
    error(api.put(f"{members}/users/admin", json={"role": "viewer"}), 409, "role")
    error(api.post(members, json={"user": "dave", "role": "boss"}), 400, "role")
    error(api.post(members, json={"user": "dave"}), 400, "role")
    error(api.post(members, json={"role": "viewer"}), 400, "user")
    error(api.post(members, json={"user": "dave", "group": "g", "role": "viewer"}), 400, "user")
    error(api.post(members, json={"group": "nope", "role": "viewer"}), 404, "group")
    error(api.post(members, json={"user": "bob", "role": "owner"}), 409, "user")
    error(api.put(f"{members}/users/dave", json={"role": "viewer"}), 404, "user")
    error(api.delete(f"{members}/groups/nope"), 404, "group")
    error(api.post("/api/v1/projects/nope/members", json={"user": "bob", "role": "viewer"}), 404)

    # a non-member gets 404 for everything about the project
    for response in (
        dave.get(members),
        dave.post(members, json={"user": "dave", "role": "owner"}),
        dave.put(f"{members}/users/bob", json={"role": "owner"}),
        dave.delete(f"{members}/users/admin"),
        dave.get("/api/v1/projects/retail"),
        dave.get("/api/v1/projects/retail/assets"),
        dave.post("/api/v1/query", json={"sql": "select * from retail.customer"}),
    ):
        error(response, 404)
    assert "retail" not in {p["name"] for p in ok(dave.get("/api/v1/projects"))}
    # a viewer may list members but not change them
    assert len(ok(bob.get(members))) == 2
    error(bob.delete(f"{members}/users/admin"), 403)

    # hand ownership over, then the old owner may go
    ok(api.put(f"{members}/users/bob", json={"role": "owner"}))
    assert api.delete(f"{members}/users/admin").status_code == 204
    assert [(m["name"], m["role"]) for m in ok(bob.get(members))] == [("bob", "owner")]
    assert ok(bob.get("/api/v1/projects/retail"))["owner"] == "bob"
    error(bob.delete(f"{members}/users/bob"), 409, "user")

    # groups: administrators only, named errors
    error(bob.post("/api/v1/groups", json={"name": "mine"}), 403)
    error(api.post("/api/v1/groups", json={"name": "bad name"}), 400, "name")
    error(api.post("/api/v1/groups", json={}), 400, "name")
    ok(api.post("/api/v1/groups", json={"name": "analysts"}), 201)
    error(api.post("/api/v1/groups", json={"name": "analysts"}), 409, "name")
    error(api.post("/api/v1/groups/analysts/members", json={"user": "nobody"}), 404, "user")
    error(api.post("/api/v1/groups/nope/members", json={"user": "bob"}), 404, "group")
    error(bob.post("/api/v1/groups/analysts/members", json={"user": "bob"}), 403)
    error(bob.get("/api/v1/groups/analysts"), 404, "group")
    error(api.delete("/api/v1/groups/analysts/members/bob"), 404, "user")
    error(bob.delete("/api/v1/groups/analysts"), 403)
    assert api.delete("/api/v1/groups/analysts").status_code == 204
    error(api.delete("/api/v1/groups/analysts"), 404, "group")


def test_units_are_renamed_and_deleted_over_http(api, login) -> None:
    ana, bob = login("ana"), login("bob")
    ok(api.post("/api/v1/domains", json={"name": "Sales"}), 201)
    unit = ok(api.post("/api/v1/domain-units", json={"domain": "Sales", "name": "Mkt"}), 201)
    ok(api.post(f"/api/v1/domain-units/{unit['id']}/owners", json={"user": "ana"}), 201)
    child = ok(
        ana.post(
            "/api/v1/domain-units", json={"domain": "Sales", "name": "Ads", "parent": unit["id"]}
        ),
        201,
    )
    root = ok(api.get("/api/v1/domain-units", params={"domain": "Sales"}))[0]

    changed = ok(ana.patch(f"/api/v1/domain-units/{unit['id']}", json={"name": "Growth"}))
    assert changed["path"] == "Sales/Growth"
    assert ok(api.get(f"/api/v1/domain-units/{child['id']}"))["path"] == "Sales/Growth/Ads"
    error(bob.patch(f"/api/v1/domain-units/{unit['id']}", json={"name": "X"}), 403)
    error(ana.patch(f"/api/v1/domain-units/{unit['id']}", json={"name": ""}), 400, "name")
    error(ana.patch(f"/api/v1/domain-units/{unit['id']}", json={"name": "a/b"}), 400, "name")
    error(ana.patch("/api/v1/domain-units/nope", json={"name": "X"}), 404, "unit")

    body = error(ana.delete(f"/api/v1/domain-units/{unit['id']}"), 409, "unit")
    assert body["contents"] == {"domain units": ["Ads"]}
    error(api.delete(f"/api/v1/domain-units/{root['id']}"), 409, "unit")
    error(bob.delete(f"/api/v1/domain-units/{child['id']}"), 403)
    assert ana.delete(f"/api/v1/domain-units/{child['id']}").status_code == 204
    error(api.get(f"/api/v1/domain-units/{child['id']}"), 404)
    assert ana.delete(f"/api/v1/domain-units/{unit['id']}").status_code == 204
