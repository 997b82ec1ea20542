"""GET and DELETE /api/v1/sessions: web sign-in sessions seen and ended by programs."""

from __future__ import annotations


def _user(client, runtime, username: str) -> dict[str, str]:
    """A user with a password and an API token (its Authorization header)."""
    assert client.post("/api/v1/users", json={"username": username, "password": "long password"})
    token = client.post("/api/v1/tokens", json={"name": "t", "username": username}).json()
    return {"Authorization": f"Bearer {token['value']}"}


def test_own_sessions_listed_and_ended(client, anonymous, runtime) -> None:
    ana = _user(client, runtime, "ana")
    laptop = runtime.sessions.login("ana", "long password", user_agent="Firefox", address="::1")
    phone = runtime.sessions.login("ana", "long password", user_agent="Safari")
    listed = anonymous.get("/api/v1/sessions", headers=ana).json()
    assert [s["id"] for s in listed] == [phone.session_id, laptop.session_id]
    first = listed[-1]
    assert (first["username"], first["user_agent"], first["address"]) == ("ana", "Firefox", "::1")
    assert first["created_at"].endswith("Z") and first["current"] is False
    assert "secret" not in first and laptop.secret not in str(listed)
    assert anonymous.delete(f"/api/v1/sessions/{phone.session_id}", headers=ana).status_code == 204
    assert [s["id"] for s in anonymous.get("/api/v1/sessions", headers=ana).json()] == [
        laptop.session_id
    ]
    assert anonymous.get("/api/v1/sessions").status_code == 401  # a token is needed


def test_admins_see_and_end_anyones_others_do_not(client, anonymous, runtime) -> None:
    _user(client, runtime, "ana")
    bob = _user(client, runtime, "bob")
    session = runtime.sessions.login("ana", "long password")
    refused = anonymous.get("/api/v1/sessions?user=ana", headers=bob)
    assert refused.status_code == 403
    assert anonymous.get("/api/v1/sessions?user=nobody", headers=bob).status_code == 403
    gone = anonymous.delete(f"/api/v1/sessions/{session.session_id}", headers=bob)
    assert gone.status_code == 404
    assert [s["id"] for s in client.get("/api/v1/sessions?user=ana").json()] == [session.session_id]
    assert client.get("/api/v1/sessions?user=nobody").json()["field"] == "user"
    assert client.delete(f"/api/v1/sessions/{session.session_id}").status_code == 204
    assert client.get("/api/v1/sessions?user=ana").json() == []
    assert client.delete("/api/v1/sessions/nope").status_code == 404
    events = client.get("/api/v1/audit?action=session.revoke").json()
    assert sorted((e["username"], e["allowed"]) for e in events) == [
        ("admin", False),
        ("admin", True),
        ("bob", False),
    ]
