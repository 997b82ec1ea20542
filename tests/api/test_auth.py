"""Authentication: every call needs a valid token except health and the OpenAPI document."""

from __future__ import annotations


def test_health_and_openapi_are_open(anonymous) -> None:
    assert anonymous.get("/health").json()["status"] == "ok"
    spec = anonymous.get("/openapi.json").json()
    for path in ("/api/v1/statements", "/api/v1/query", "/api/v1/projects/{project}/tables"):
        assert path in spec["paths"]


def test_calls_without_or_with_bad_token_are_401(anonymous, admin_token) -> None:
    assert anonymous.get("/api/v1/projects").status_code == 401
    bad = anonymous.get("/api/v1/projects", headers={"Authorization": "Bearer lh_nope"})
    assert bad.status_code == 401
    forged = admin_token[:-4] + "abcd"
    response = anonymous.get("/api/v1/projects", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert forged not in response.text


def test_tokens_are_shown_once_and_revocable(client, anonymous) -> None:
    user = client.post("/api/v1/users", json={"username": "ana"})
    assert user.status_code == 201
    issued = client.post("/api/v1/tokens", json={"name": "laptop", "username": "ana"}).json()
    value = issued["value"]
    assert value.startswith("lh_")
    listed = client.get("/api/v1/tokens").json()
    assert all(t["value"] is None for t in listed)
    headers = {"Authorization": f"Bearer {value}"}
    assert anonymous.get("/api/v1/me", headers=headers).json()["username"] == "ana"
    assert client.delete(f"/api/v1/tokens/{issued['id']}").status_code == 204
    assert anonymous.get("/api/v1/me", headers=headers).status_code == 401


def test_only_admins_create_users_and_domains(client, anonymous) -> None:
    client.post("/api/v1/users", json={"username": "bob"})
    token = client.post("/api/v1/tokens", json={"name": "t", "username": "bob"}).json()["value"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        anonymous.post("/api/v1/users", json={"username": "eve"}, headers=headers).status_code
        == 403
    )
    assert anonymous.post("/api/v1/domains", json={"name": "X"}, headers=headers).status_code == 403
    duplicate = client.post("/api/v1/users", json={"username": "bob"})
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "username"
