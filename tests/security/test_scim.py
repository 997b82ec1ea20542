"""SCIM 2.0 provisioning at /scim/v2 (ADR 30), driven over HTTP as Okta and Microsoft Entra
drive it: users and groups created, found by filter, paged, patched, replaced, deactivated
and deleted; a deactivated user's API token and web session refused on the next request;
SCIM errors; scim tokens bound to a provider and confined to /scim/v2. SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from lakehold.api.app import create_app
from lakehold.cli.main import app
from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.security.passwords import hash_password
from lakehold.security.principal import Principal
from lakehold.store.models import AuditEvent, User
from tests.sharing import add_member, new_user
from tests.web.browsers import sign_in

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"


@dataclass
class Scim:
    """An Okta SCIM client (``http``, its token bound to provider ``okta``) on the runtime."""

    runtime: Runtime
    admin: Principal
    admin_token: str
    http: TestClient
    token: str

    def user(self, username: str, **more: Any) -> dict[str, Any]:
        body = {"schemas": [USER], "userName": username, "active": True, **more}
        created = self.http.post("/scim/v2/Users", json=body)
        assert created.status_code == 201, created.text
        return created.json()

    def group(self, name: str, members: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}
        created = self.http.post("/scim/v2/Groups", json=body)
        assert created.status_code == 201, created.text
        return created.json()

    def patch(self, path: str, *operations: dict[str, Any]) -> Any:
        return self.http.patch(path, json={"schemas": [PATCH], "Operations": list(operations)})


def scim_token(runtime: Runtime, admin: Principal, provider: str) -> str:
    issued = runtime.security.create_token(
        admin, f"{provider}-scim", scopes=["scim"], identity_provider=provider
    )
    assert issued.value is not None
    return issued.value


@pytest.fixture
def scim(runtime: Runtime, admin: Principal, admin_token: str) -> Iterator[Scim]:
    token = scim_token(runtime, admin, "okta")
    with TestClient(create_app(runtime)) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        yield Scim(runtime, admin, admin_token, http, token)


def scim_error(response: Any, status: int, scim_type: str | None = None) -> str:
    """Assert ``response`` is a SCIM error of ``status`` (and ``scimType``); its detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body["detail"]


def usernames(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["userName"] for r in response.json()["Resources"]]


# -- tokens ----------------------------------------------------------------------------------


def test_a_scim_token_is_bound_to_a_provider_and_works_only_at_scim(
    scim: Scim, client: TestClient, anonymous: TestClient
) -> None:
    runtime, admin = scim.runtime, scim.admin
    refused = client.post("/api/v1/tokens", json={"name": "s", "scopes": ["scim"]})
    assert refused.status_code == 400 and refused.json()["field"] == "identity_provider"
    refused = client.post("/api/v1/tokens", json={"name": "s", "identity_provider": "okta"})
    assert refused.status_code == 400 and refused.json()["field"] == "identity_provider"
    both = {"name": "s", "scopes": ["scim", "lineage:write"], "namespaces": ["a"]}
    refused = client.post("/api/v1/tokens", json={**both, "identity_provider": "okta"})
    assert refused.status_code == 400 and refused.json()["field"] == "scopes"
    bad_name = {"name": "s", "scopes": ["scim"], "identity_provider": "okta idp"}
    assert client.post("/api/v1/tokens", json=bad_name).status_code == 400
    _, ana_token = new_user(runtime, admin, "ana")
    with TestClient(create_app(runtime)) as ana:
        ana.headers["Authorization"] = f"Bearer {ana_token}"
        wanted = {"name": "s", "scopes": ["scim"], "identity_provider": "okta"}
        assert ana.post("/api/v1/tokens", json=wanted).status_code == 403  # administrators only
        # a user's own token (no scope) is refused by the kernel at /scim/v2
        detail = scim_error(ana.get("/scim/v2/Users"), 403)
        assert "'scim' scope" in detail
        scim_error(ana.post("/scim/v2/Users", json={"userName": "x"}), 403)
    # so is an administrator's own token: it is bound to no provider
    scim_error(client.get("/scim/v2/Users"), 403)
    issued = client.post("/api/v1/tokens", json={**wanted, "name": "entra"})
    assert issued.status_code == 201, issued.text
    assert issued.json()["identity_provider"] == "okta" and issued.json()["scopes"] == ["scim"]
    listed = {t["name"]: t for t in client.get("/api/v1/tokens").json()}
    assert listed["okta-scim"]["identity_provider"] == "okta"
    # a scim token works nowhere but /scim/v2: the API, uploads, the portal
    scim_headers = {"Authorization": f"Bearer {scim.token}"}
    assert anonymous.get("/api/v1/me", headers=scim_headers).status_code == 403
    body = {"name": "t"}
    assert anonymous.post("/api/v1/tokens", json=body, headers=scim_headers).status_code == 403
    assert anonymous.get("/", headers=scim_headers).status_code == 403
    # no token: 401 as a SCIM error, before a body is read; discovery needs none
    detail = scim_error(anonymous.post("/scim/v2/Users", json={"userName": "x"}), 401)
    assert "token" in detail
    scim_error(anonymous.get("/scim/v2/Users"), 401)
    bad = {"Authorization": "Bearer lh_0123456789abcdef_nope"}
    scim_error(anonymous.post("/scim/v2/Groups", json={}, headers=bad), 401)
    assert anonymous.get("/scim/v2/ServiceProviderConfig").status_code == 200


def test_discovery_documents(anonymous: TestClient) -> None:
    config = anonymous.get("/scim/v2/ServiceProviderConfig")
    assert config.headers["content-type"].startswith(SCIM_JSON)
    body = config.json()
    assert body["patch"]["supported"] and body["filter"] == {"supported": True, "maxResults": 1000}
    assert not body["bulk"]["supported"] and not body["etag"]["supported"]
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = anonymous.get("/scim/v2/ResourceTypes").json()
    assert {(t["name"], t["endpoint"]) for t in types["Resources"]} == {
        ("User", "/Users"),
        ("Group", "/Groups"),
    }
    assert anonymous.get("/scim/v2/ResourceTypes/User").json()["schema"] == USER
    schemas = {s["id"]: s for s in anonymous.get("/scim/v2/Schemas").json()["Resources"]}
    user_attributes = {a["name"] for a in schemas[USER]["attributes"]}
    assert user_attributes == {"userName", "displayName", "active", "emails", "groups"}
    one = anonymous.get(f"/scim/v2/Schemas/{GROUP}").json()
    assert {a["name"] for a in one["attributes"]} == {"displayName", "members"}
    scim_error(anonymous.get("/scim/v2/Schemas/urn:nope"), 404)
    scim_error(anonymous.get("/scim/v2/Nothing"), 404)


# -- users -----------------------------------------------------------------------------------


def test_provisioning_users_filters_and_pages(scim: Scim) -> None:
    http = scim.http
    okta = {
        "name": {"givenName": "Ana", "familyName": "Lima"},
        "emails": [{"value": "ana@example.com", "primary": True, "type": "work"}],
        "externalId": "00u1",
        "locale": "en-US",  # not kept: read and dropped
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Data"},
    }
    created = http.post(
        "/scim/v2/Users",
        json={"schemas": [USER], "userName": "Ana.Lima", "active": True, **okta},
        headers={"Content-Type": SCIM_JSON},
    )
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(SCIM_JSON)
    ana = created.json()
    assert created.headers["location"] == ana["meta"]["location"]
    assert ana["meta"]["location"].endswith(f"/scim/v2/Users/{ana['id']}")
    assert ana["userName"] == "ana.lima"  # userName is case-insensitive: kept in lower case
    assert ana["displayName"] == "Ana Lima" and ana["active"] is True
    assert ana["emails"] == [{"value": "ana@example.com"}] and ana["externalId"] == "00u1"
    assert "locale" not in ana and "name" not in ana
    # what Lakehold made of it: a user of kind 'user', provisioned by okta
    with scim.runtime.store.session() as session:
        row = session.get(User, ana["id"])
        assert row is not None
        assert (row.username, row.kind, row.identity_provider) == ("ana.lima", "user", "okta")
        assert (row.email, row.external_id, row.display_name) == (
            "ana@example.com",
            "00u1",
            "Ana Lima",
        )
    scim_error(scim.http.post("/scim/v2/Users", json={"userName": "ANA.LIMA"}), 409, "uniqueness")
    scim_error(scim.http.post("/scim/v2/Users", json={"userName": "admin"}), 409, "uniqueness")
    assert usernames(http.get("/scim/v2/Users", params={"filter": 'userName eq "ANA.lima"'})) == [
        "ana.lima"
    ]
    found = http.get("/scim/v2/Users", params={"filter": 'externalId eq "00u1"'}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == ana["id"]
    assert usernames(http.get("/scim/v2/Users", params={"filter": 'userName eq "nobody"'})) == []
    # seven users in all, three pages of three
    for name in ("bea", "bob", "cid", "dan", "eve", "fay"):
        scim.user(name, emails=[{"value": f"{name}@example.org"}])
    pages = []
    for start in (1, 4, 7):
        page = http.get("/scim/v2/Users", params={"startIndex": start, "count": 3})
        body = page.json()
        assert (body["totalResults"], body["startIndex"]) == (7, start)
        assert body["itemsPerPage"] == len(body["Resources"])
        pages.append(usernames(page))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(name for page in pages for name in page) == [
        "ana.lima",
        "bea",
        "bob",
        "cid",
        "dan",
        "eve",
        "fay",
    ]
    ordered = http.get(
        "/scim/v2/Users", params={"sortBy": "userName", "sortOrder": "descending", "count": 2}
    )
    assert usernames(ordered) == ["fay", "eve"]
    assert http.get("/scim/v2/Users", params={"count": 0}).json()["totalResults"] == 7
    searched = http.post(
        "/scim/v2/Users/.search",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'emails.value ew "example.org" and not (userName sw "b")',
            "sortBy": "userName",
            "attributes": ["userName"],
        },
    )
    assert usernames(searched) == ["cid", "dan", "eve", "fay"]
    assert set(searched.json()["Resources"][0]) == {"schemas", "id", "userName"}
    only = http.get(f"/scim/v2/Users/{ana['id']}", params={"excludedAttributes": "emails,groups"})
    assert "emails" not in only.json() and only.json()["userName"] == "ana.lima"


def test_put_replaces_a_user_and_patch_changes_one(scim: Scim) -> None:
    http = scim.http
    ana = scim.user("ana", displayName="Ana", emails=[{"value": "a@x.com"}], externalId="1")
    replaced = http.put(
        f"/scim/v2/Users/{ana['id']}",
        json={"schemas": [USER], "userName": "ana", "displayName": "Ana Lima", "active": True},
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["displayName"] == "Ana Lima"
    assert "emails" not in body and "externalId" not in body  # left out: cleared
    # Entra: emails[type eq "work"].value, capitalised ops
    patched = scim.patch(
        f"/scim/v2/Users/{ana['id']}",
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "ana@corp.com"},
        {"op": "Replace", "path": "displayName", "value": "A. Lima"},
        {"op": "Replace", "path": "name.givenName", "value": "A."},  # not kept: no change
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["emails"] == [{"value": "ana@corp.com"}]
    assert patched.json()["displayName"] == "A. Lima"
    renamed = scim.patch(
        f"/scim/v2/Users/{ana['id']}", {"op": "replace", "path": "userName", "value": "ana.lima"}
    )
    assert renamed.json()["userName"] == "ana.lima"
    scim.user("bob")
    taken = scim.patch(
        f"/scim/v2/Users/{ana['id']}", {"op": "replace", "path": "userName", "value": "bob"}
    )
    scim_error(taken, 409, "uniqueness")
    read_only = scim.patch(
        f"/scim/v2/Users/{ana['id']}", {"op": "add", "path": "groups", "value": [{"value": "g"}]}
    )
    assert scim_error(read_only, 400, "mutability")
    scim_error(
        scim.patch("/scim/v2/Users/nope", {"op": "replace", "path": "active", "value": False}), 404
    )


def test_deactivation_refuses_the_users_token_and_session_at_once(scim: Scim) -> None:
    runtime = scim.runtime
    ana = scim.user("ana", displayName="Ana")
    with runtime.store.session() as session:  # a password, to sign in to the portal
        session.execute(
            update(User).where(User.id == ana["id"]).values(password_hash=hash_password("pw-ana-1"))
        )
    token = runtime.security.create_token(scim.admin, "laptop", username="ana").value
    served = create_app(runtime)
    with (
        TestClient(served) as api,
        TestClient(served, base_url="https://testserver", follow_redirects=False) as browser,
    ):
        api.headers["Authorization"] = f"Bearer {token}"
        assert sign_in(browser, "ana", "pw-ana-1").status_code == 303
        assert api.get("/api/v1/me").json()["username"] == "ana"
        assert browser.get("/sessions").status_code == 200
        # Okta deactivates: PATCH replace active false
        patched = scim.patch(
            f"/scim/v2/Users/{ana['id']}", {"op": "replace", "path": "active", "value": False}
        )
        assert patched.status_code == 200 and patched.json()["active"] is False
        # the very next requests are refused
        assert api.get("/api/v1/me").status_code == 401
        page = browser.get("/sessions")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        # reactivated (Entra: Replace with a value object, "True" as a string): the old
        # credentials stay revoked; new ones work
        again = scim.patch(
            f"/scim/v2/Users/{ana['id']}", {"op": "Replace", "value": {"active": "True"}}
        )
        assert again.json()["active"] is True
        assert api.get("/api/v1/me").status_code == 401
        fresh = runtime.security.create_token(scim.admin, "new", username="ana").value
        assert (
            api.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
        )
        # PUT active false deactivates too
        put = {"schemas": [USER], "userName": "ana", "active": False}
        assert scim.http.put(f"/scim/v2/Users/{ana['id']}", json=put).json()["active"] is False
        assert (
            api.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401
        )
    with runtime.store.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "scim.user.patch").order_by(AuditEvent.at)
        ).all()
        deactivated = events[0]
        assert deactivated.allowed and deactivated.resource == f"user:{ana['id']}"
        assert deactivated.details["provider"] == "okta"
        assert deactivated.details["changed"] == ["active"]
        assert deactivated.details["tokens_revoked"] == 1
        assert deactivated.details["sessions_revoked"] == 1
        assert deactivated.username == "admin"  # the scim token's holder


def test_delete_deactivates_and_detaches_a_user(scim: Scim) -> None:
    runtime = scim.runtime
    ana = scim.user("ana")
    group = scim.group("engineers", [ana["id"]])
    token = runtime.security.create_token(scim.admin, "laptop", username="ana").value
    assert scim.http.delete(f"/scim/v2/Users/{ana['id']}").status_code == 204
    scim_error(scim.http.get(f"/scim/v2/Users/{ana['id']}"), 404)
    scim_error(scim.http.delete(f"/scim/v2/Users/{ana['id']}"), 404)
    assert scim.http.get(f"/scim/v2/Groups/{group['id']}").json().get("members") is None
    with TestClient(create_app(runtime)) as api:
        assert (
            api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        )
    kept = {u.username: u for u in runtime.security.list_users(scim.admin)}["ana"]
    assert kept.active is False and kept.identity_provider is None  # the row stays: history
    scim_error(scim.http.post("/scim/v2/Users", json={"userName": "ana"}), 409, "uniqueness")


def test_users_of_another_provider_are_not_found(scim: Scim) -> None:
    ana = scim.user("ana")
    entra = scim_token(scim.runtime, scim.admin, "entra")
    headers = {"Authorization": f"Bearer {entra}"}
    scim_error(scim.http.get(f"/scim/v2/Users/{ana['id']}", headers=headers), 404)
    assert scim.http.get("/scim/v2/Users", headers=headers).json()["totalResults"] == 0
    local, _ = new_user(scim.runtime, scim.admin, "local")
    scim_error(scim.http.get(f"/scim/v2/Users/{local.user_id}"), 404)  # local users neither
    put = {"schemas": [USER], "userName": "local", "active": False}
    scim_error(scim.http.put(f"/scim/v2/Users/{local.user_id}", json=put), 404)


# -- groups ----------------------------------------------------------------------------------


def test_groups_and_their_members(scim: Scim) -> None:
    http, runtime, admin = scim.http, scim.runtime, scim.admin
    ana, bob, cid = (scim.user(n)["id"] for n in ("ana", "bob", "cid"))
    eng = scim.group("engineers", [ana])
    assert [m["value"] for m in eng["members"]] == [ana]
    assert eng["members"][0]["$ref"].endswith(f"/scim/v2/Users/{ana}")
    scim_error(http.post("/scim/v2/Groups", json={"displayName": "engineers"}), 409, "uniqueness")
    path = f"/scim/v2/Groups/{eng['id']}"
    # Okta: add members, remove one by a value filter
    added = scim.patch(
        path, {"op": "add", "path": "members", "value": [{"value": bob}, {"value": cid}]}
    )
    assert sorted(m["value"] for m in added.json()["members"]) == sorted([ana, bob, cid])
    removed = scim.patch(path, {"op": "remove", "path": f'members[value eq "{bob}"]'})
    assert sorted(m["value"] for m in removed.json()["members"]) == sorted([ana, cid])
    # Entra: Remove with a value, Replace of displayName
    entra = scim.patch(
        path,
        {"op": "Remove", "path": "members", "value": [{"value": ana}]},
        {"op": "Replace", "path": "displayName", "value": "data-engineers"},
    )
    assert entra.status_code == 200, entra.text
    assert [m["value"] for m in entra.json()["members"]] == [cid]
    assert entra.json()["displayName"] == "data-engineers"
    # the group is Lakehold's: seen by the organisation service, its user's groups
    assert runtime.organisation.get_group(admin, "data-engineers").members == ["cid"]
    user = http.get(f"/scim/v2/Users/{cid}").json()
    assert [(g["value"], g["display"]) for g in user["groups"]] == [(eng["id"], "data-engineers")]
    # filters on groups
    listed = http.get("/scim/v2/Groups", params={"filter": 'displayName eq "Data-Engineers"'})
    assert [g["id"] for g in listed.json()["Resources"]] == [eng["id"]]
    by_member = http.get(
        "/scim/v2/Groups",
        params={"filter": f'members[value eq "{cid}"]', "excludedAttributes": "members"},
    )
    assert [g["id"] for g in by_member.json()["Resources"]] == [eng["id"]]
    assert "members" not in by_member.json()["Resources"][0]
    # PUT replaces name and members
    put = {"schemas": [GROUP], "displayName": "eng", "members": [{"value": ana}, {"value": bob}]}
    replaced = http.put(path, json=put)
    assert sorted(m["value"] for m in replaced.json()["members"]) == sorted([ana, bob])
    # members are the provider's users: not a local user, not a group
    local, _ = new_user(runtime, admin, "local")
    bad = scim.patch(path, {"op": "add", "path": "members", "value": [{"value": local.user_id}]})
    assert local.user_id in scim_error(bad, 400, "invalidValue")
    bad_name = {"schemas": [GROUP], "displayName": "Data Engineers"}
    assert "displayName" in scim_error(
        http.post("/scim/v2/Groups", json=bad_name), 400, "invalidValue"
    )
    # DELETE: gone
    assert http.delete(path).status_code == 204
    scim_error(http.get(path), 404)
    assert "eng" not in {g.name for g in runtime.organisation.list_groups(admin)}


def test_deleting_a_group_with_project_roles_detaches_it(scim: Scim) -> None:
    runtime, admin = scim.runtime, scim.admin
    ana = scim.user("ana")["id"]
    group = scim.group("analysts", [ana])
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(admin, "retail", "Sales")
    runtime.organisation.add_member(admin, "retail", group="analysts", role="viewer")
    assert scim.http.delete(f"/scim/v2/Groups/{group['id']}").status_code == 204
    scim_error(scim.http.get(f"/scim/v2/Groups/{group['id']}"), 404)
    kept = runtime.organisation.get_group(admin, "analysts")  # its role kept, for an admin
    assert kept.members == []
    members = runtime.organisation.list_members(admin, "retail")
    assert ("group", "analysts") in {(m.kind, m.name) for m in members}


# -- errors and audit ------------------------------------------------------------------------


def test_errors_are_scim_errors(scim: Scim) -> None:
    http = scim.http
    detail = scim_error(
        http.post("/scim/v2/Users", json={"userName": "ana lima@example.com"}), 400, "invalidValue"
    )  # an e-mail address is a valid userName (test_scim_email_usernames.py); a space is not
    assert "userName" in detail and "e-mail address" in detail
    scim_error(http.post("/scim/v2/Users", json={"displayName": "no name"}), 400, "invalidValue")
    broken = http.post("/scim/v2/Users", content=b"{not json", headers={"Content-Type": SCIM_JSON})
    scim_error(broken, 400, "invalidSyntax")
    for bad in ("userName eq", 'nickName eq "x"', 'active co "t"', 'meta.created gt "soon"', "((("):
        scim_error(http.get("/scim/v2/Users", params={"filter": bad}), 400, "invalidFilter")
    scim_error(http.get("/scim/v2/Users", params={"sortBy": "nope"}), 400, "invalidPath")
    scim_error(http.get("/scim/v2/Users/unknown"), 404)
    scim_error(http.put("/scim/v2/Users", json={}), 405)
    scim_error(http.post("/scim/v2/.search", json={}), 501)
    bad_op = scim.patch(f"/scim/v2/Users/{scim.user('ana')['id']}", {"op": "move", "path": "x"})
    scim_error(bad_op, 400, "invalidValue")
    big = {"userName": "x" * (scim.runtime.settings.max_json_bytes + 10)}
    scim_error(http.post("/scim/v2/Users", json=big), 413)


def test_provisioning_is_audited(scim: Scim) -> None:
    ana = scim.user("ana")
    scim.group("team", [ana["id"]])
    _, vic_token = new_user(scim.runtime, scim.admin, "vic")
    refused = scim.http.post(
        "/scim/v2/Users", json={"userName": "eve"}, headers={"Authorization": f"Bearer {vic_token}"}
    )
    scim_error(refused, 403)
    with scim.runtime.store.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("scim.%")).order_by(AuditEvent.at)
        ).all()
    summary = [(e.action, e.allowed, e.username) for e in events]
    assert summary == [
        ("scim.user.create", True, "admin"),
        ("scim.group.create", True, "admin"),
        ("scim.user.create", False, "vic"),
    ]
    assert events[0].details["provider"] == "okta" and events[0].resource == f"user:{ana['id']}"
    assert events[1].details["added"] == [ana["id"]]
    assert "'scim' scope" in (events[2].reason or "")


def test_project_roles_of_a_deactivated_user_stay_on_record(scim: Scim) -> None:
    """Deactivation keeps ownership history: the project still names its owner."""
    runtime, admin = scim.runtime, scim.admin
    ana = scim.user("ana")
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(admin, "retail", "Sales")
    principal = Principal(user_id=ana["id"], username="ana")
    add_member(runtime, "retail", principal, "owner")
    scim.patch(f"/scim/v2/Users/{ana['id']}", {"op": "replace", "path": "active", "value": False})
    members = runtime.organisation.list_members(admin, "retail")
    assert ("user", "ana", "owner") in {(m.kind, m.name, m.role) for m in members}


def test_the_cli_issues_a_scim_token(tmp_path, database_url: str) -> None:
    home = tmp_path / "cli-home"
    env = {"LAKEHOLD_HOME": str(home), "LAKEHOLD_DATABASE_URL": database_url, "LAKEHOLD_TOKEN": ""}
    args = ["token", "create", "okta-scim", "--scope", "scim", "--provider", "okta"]
    issued = CliRunner().invoke(app, args, env=env)
    assert issued.exit_code == 0, issued.output
    value = issued.output.strip().splitlines()[-1]
    missing = CliRunner().invoke(app, ["token", "create", "x", "--scope", "scim"], env=env)
    assert missing.exit_code == 2 and "--provider" in missing.output
    runtime = Runtime(Settings(home=home, database_url=database_url))
    try:
        principal = runtime.security.authenticate(value, scim=True)
        assert principal.identity_provider == "okta" and principal.scopes == {"scim"}
    finally:
        runtime.close()
