"""Revocation (ADR 0029): of one user, of an identity provider's users, of everything before a
cutoff; deactivation. Refused on the next request -- at once in the process that revoked, after
the credential cache's second in another process on the same database (a second runtime) --
for API tokens and web sessions alike; every revocation audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from lakehold.api.app import create_app
from lakehold.errors import Unauthorized
from lakehold.kernel import governed
from lakehold.security.credential_cache import CredentialCache
from lakehold.security.revocation import deactivate_user
from lakehold.store.models import SecurityPolicy, User, utcnow
from tests.security.identity_helpers import PASSWORD, api, browser, other_process, signed_in
from tests.web.browsers import sign_in


@pytest.fixture
def ana(runtime, admin) -> str:
    """User ana (password and token); returns her token."""
    runtime.security.create_user(admin, "ana", password=PASSWORD)
    token = runtime.security.create_token(admin, "laptop", username="ana")
    assert token.value is not None
    return token.value


@pytest.fixture
def bob(runtime, admin) -> str:
    runtime.security.create_user(admin, "bob", password="bob's long password")
    token = runtime.security.create_token(admin, "laptop", username="bob")
    assert token.value is not None
    return token.value


def _refused(runtime, token: str) -> str:
    with pytest.raises(Unauthorized) as refused:
        runtime.security.authenticate(token)
    return refused.value.message


def test_a_users_revocation_reaches_another_process_after_the_cache_window(
    runtime, settings, admin, ana, bob
) -> None:
    with other_process(settings) as (other, ticks), browser(runtime, "ana") as page:
        assert other.security.authenticate(ana).username == "ana"  # cached over there now
        with api(runtime, ana) as client:
            revoked = client.post("/api/v1/users/ana/revoke-credentials")  # ana herself
            assert revoked.status_code == 200, revoked.text
            assert revoked.json()["tokens"] == 1 and revoked.json()["sessions"] == 1
            # this process: refused on the very next request
            refused = client.get("/api/v1/me")
            assert refused.status_code == 401
            assert refused.json()["message"] == "the API token has been revoked"
        assert not signed_in(page)  # her web session too
        # the other process trusts its cached answer for at most the cache's lifetime ...
        assert other.security.authenticate(ana).username == "ana"
        ticks.advance(1.0)
        # ... then reads the store again
        assert _refused(other, ana) == "the API token has been revoked"
        assert other.security.authenticate(bob).username == "bob"  # nobody else's
    new = runtime.security.create_token(admin, "new laptop", username="ana")
    assert new.value is not None and runtime.security.authenticate(new.value).username == "ana"
    with browser(runtime, "ana") as again:  # a new sign-in works
        assert signed_in(again)
    [audited] = runtime.audit.events(admin, action="user.credentials.revoke")
    assert audited.allowed and audited.username == "ana" and audited.details["tokens_revoked"] == 1
    assert audited.resource and audited.resource.startswith("user:")


def test_another_process_sees_a_revoked_session_on_its_next_request(runtime, settings, ana) -> None:
    """Sessions are read from the store on every request (only tokens are cached)."""
    with other_process(settings) as (other, _), browser(other, "ana") as page:
        assert signed_in(page)
        runtime.revocation.revoke_user(runtime.security.authenticate(ana), "ana")
        assert not signed_in(page)


def test_only_administrators_revoke_anothers_credentials(runtime, admin, ana, bob) -> None:
    with api(runtime, bob) as client:
        refused = client.post("/api/v1/users/ana/revoke-credentials")
        assert refused.status_code == 404 and refused.json()["field"] == "username"
        assert client.post("/api/v1/users/nobody/revoke-credentials").status_code == 404
    assert runtime.security.authenticate(ana).username == "ana"
    denied = runtime.audit.events(admin, action="user.credentials.revoke", allowed=False)
    assert [e.username for e in denied] == ["bob", "bob"]
    with api(runtime) as anonymous:
        assert anonymous.post("/api/v1/users/ana/revoke-credentials").status_code == 401


def test_revoking_oneself_with_a_new_token(runtime, admin, admin_token) -> None:
    with api(runtime, admin_token) as client:
        done = client.post("/api/v1/users/admin/revoke-credentials", json={"new_token": "cli"})
        assert done.status_code == 200, done.text
        new = done.json()["token"]
        assert new["name"] == "cli" and new["value"].startswith("lh_")
        assert client.get("/api/v1/me").status_code == 401
        client.headers["Authorization"] = f"Bearer {new['value']}"
        assert client.get("/api/v1/me").json()["username"] == "admin"
    [audited] = runtime.audit.events(admin, action="user.credentials.revoke")
    assert audited.details["new_token"] == new["id"] and new["value"] not in str(audited)


def test_every_user_of_an_identity_provider(runtime, settings, admin, ana, bob) -> None:
    runtime.security.create_user(admin, "carol", password="carol's long password")
    carol = runtime.security.create_token(admin, "t", username="carol").value
    assert carol is not None
    with runtime.store.session() as session:  # what OIDC sign-in or SCIM provisioning record
        session.execute(
            update(User).where(User.username.in_(["ana", "carol"])).values(identity_provider="okta")
        )
    with other_process(settings) as (other, ticks), browser(runtime, "ana") as page:
        for token in (ana, bob, carol):
            other.security.authenticate(token)
        with api(runtime, runtime.security.create_token(admin, "x").value) as client:
            done = client.post("/api/v1/identity-providers/okta/revoke-credentials")
            assert done.status_code == 200, done.text
            assert (done.json()["users"], done.json()["tokens"]) == (2, 2)
            assert done.json()["sessions"] == 1
            none = client.post("/api/v1/identity-providers/entra/revoke-credentials")
            assert none.json()["users"] == 0
        assert not signed_in(page)
        assert (
            _refused(runtime, ana) == _refused(runtime, carol) == "the API token has been revoked"
        )
        assert runtime.security.authenticate(bob).username == "bob"
        ticks.advance(1.0)
        assert _refused(other, carol) == "the API token has been revoked"
        assert other.security.authenticate(bob).username == "bob"
    with api(runtime, bob) as client:  # administrators only
        assert client.post("/api/v1/identity-providers/okta/revoke-credentials").status_code == 403
    events = runtime.audit.events(admin, action="identity_provider.credentials.revoke")
    outcomes = [(e.details["identity_provider"], e.allowed, e.details.get("users")) for e in events]
    assert outcomes == [("okta", False, None), ("entra", True, 0), ("okta", True, 2)]


def test_everything_issued_before_a_cutoff(runtime, settings, admin, admin_token, ana) -> None:
    with other_process(settings) as (other, ticks), browser(runtime, "ana") as page:
        other.security.authenticate(ana)
        with api(runtime, admin_token) as client:
            future = client.post(
                "/api/v1/security/revoke-before", json={"before": "2999-01-01T00:00:00Z"}
            )
            assert future.status_code == 400 and future.json()["field"] == "before"
            done = client.post("/api/v1/security/revoke-before", json={"new_token": "cli"})
            assert done.status_code == 200, done.text
            assert done.json()["tokens"] >= 2 and done.json()["sessions"] == 1
            assert client.get("/api/v1/me").status_code == 401  # the admin's own token too
            client.headers["Authorization"] = f"Bearer {done.json()['token']['value']}"
            policy = client.get("/api/v1/security/policy").json()
            assert policy["credentials_valid_after"] == done.json()["credentials_valid_after"]
            assert policy["updated_by"] == "admin"
            back = client.post(
                "/api/v1/security/revoke-before", json={"before": "2020-01-01T00:00:00Z"}
            )
            assert back.status_code == 400 and "only moves forward" in back.json()["message"]
        assert not signed_in(page)
        assert _refused(runtime, ana) == "the API token has been revoked"
        ticks.advance(1.0)
        assert _refused(other, ana) == "the API token has been revoked"
    after = runtime.security.create_token(admin, "after", username="ana").value
    assert after is not None and runtime.security.authenticate(after).username == "ana"
    with browser(runtime, "ana") as again:
        assert signed_in(again)
    events = runtime.audit.events(admin, action="credentials.revoke_before")
    assert [e.allowed for e in events] == [False, True, False]


def test_a_cutoff_refuses_what_was_issued_before_it_even_unmarked(runtime, ana) -> None:
    """The cutoff itself refuses (``revoked_at`` is the record): e.g. a token of another
    process's transaction, issued before the cutoff and committed after the revocation."""
    principal = runtime.security.authenticate(ana)
    with runtime.store.session() as session:
        session.add(SecurityPolicy(id=1, credentials_valid_after=utcnow()))  # nothing marked
    runtime.security.cache.clear()
    assert _refused(runtime, ana) == "the API token has been revoked"
    with runtime.store.session() as session:
        session.execute(update(User).values(credentials_valid_after=None))
        session.get(SecurityPolicy, 1).credentials_valid_after = None
    runtime.security.cache.clear()
    assert runtime.security.authenticate(ana) == principal


def test_deactivated_users_are_refused_everywhere(runtime, settings, admin, ana, bob) -> None:
    with other_process(settings) as (other, ticks), browser(runtime, "ana") as page:
        other.security.authenticate(ana)
        with api(runtime, bob) as client:
            assert client.post("/api/v1/users/ana/deactivate").status_code == 403
        with api(runtime, runtime.security.create_token(admin, "x").value) as client:
            done = client.post("/api/v1/users/ana/deactivate")
            assert done.status_code == 200, done.text
            assert done.json()["active"] is False
            myself = client.post("/api/v1/users/admin/deactivate")
            assert myself.status_code == 409 and myself.json()["field"] == "username"
            assert client.post("/api/v1/users/nobody/deactivate").status_code == 404
            listed = {u["username"]: u["active"] for u in client.get("/api/v1/users").json()}
            assert listed == {"admin": True, "ana": False, "bob": True}
        assert not signed_in(page)
        with api(runtime, ana) as client:
            refused = client.get("/api/v1/me")
            assert refused.status_code == 401
            assert refused.json()["message"] == "the user is deactivated"
        ticks.advance(1.0)
        assert _refused(other, ana) == "the user is deactivated"
    # no sign-in, and no new token either
    with TestClient(create_app(runtime), base_url="https://testserver") as anonymous:
        refused = sign_in(anonymous, "ana", PASSWORD)
        assert refused.status_code == 401 and "This user is deactivated" in refused.text
    fresh = runtime.security.create_token(admin, "fresh", username="ana").value
    assert fresh is not None and _refused(runtime, fresh) == "the user is deactivated"
    # reactivated: new credentials work, the revoked ones stay revoked
    with api(runtime, runtime.security.create_token(admin, "y").value) as client:
        assert client.post("/api/v1/users/ana/activate").json()["active"] is True
    assert _refused(runtime, ana) == "the API token has been revoked"
    assert runtime.security.authenticate(fresh).username == "ana"
    with browser(runtime, "ana") as again:
        assert signed_in(again)
    actions = [e.action for e in runtime.audit.events(admin, action="user.*", allowed=True)]
    assert "user.deactivate" in actions and "user.activate" in actions


def test_deactivating_inside_another_governed_command(runtime, admin, ana) -> None:
    """The building block SCIM provisioning uses: its own governed command, its own audit;
    this process's cache forgets at once when the command commits."""
    runtime.security.authenticate(ana)  # cached
    with governed(runtime.store, admin, "scim.user.update", details={"user": "ana"}) as command:
        user = command.session.query(User).filter_by(username="ana").one()
        done = deactivate_user(command.session, user)
        command.details["tokens_revoked"] = done.tokens
    assert _refused(runtime, ana) == "the user is deactivated"
    [audited] = runtime.audit.events(admin, action="scim.user.update")
    assert audited.details["tokens_revoked"] == 1


def test_a_token_revoked_one_by_one_is_forgotten_at_once(runtime, admin, ana) -> None:
    principal = runtime.security.authenticate(ana)
    [token] = [t for t in runtime.security.list_tokens(admin) if t.username == "ana"]
    runtime.security.revoke_token(principal, token.id)
    assert _refused(runtime, ana) == "the API token has been revoked"


def test_authentication_is_one_query_and_answers_from_the_cache(runtime, ana) -> None:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(runtime.store.engine, "before_cursor_execute", count)
    try:
        runtime.security.authenticate(ana)  # first use: the read, and the last use written
        assert [s.split()[0] for s in statements] == ["SELECT", "UPDATE"]
        statements.clear()
        for _ in range(5):
            runtime.security.authenticate(ana)
        assert statements == []  # from the cache
        runtime.security.cache.clear()
        runtime.security.authenticate(ana)
        assert len(statements) == 1 and statements[0].split()[0] == "SELECT"
    finally:
        event.remove(runtime.store.engine, "before_cursor_execute", count)


def test_the_cache_is_bounded_and_ignores_answers_read_before_a_clear() -> None:
    cache: CredentialCache[int] = CredentialCache(1.0, max_entries=3)
    for i in range(5):
        cache.put(i, i)
    assert len(cache) == 3 and cache.get(0) is None and cache.get(4) == 4
    generation = cache.generation
    cache.clear()  # a revocation while an answer was being read
    cache.put("late", 1, generation)
    assert cache.get("late") is None
    disabled: CredentialCache[int] = CredentialCache(0)
    disabled.put("k", 1)
    assert disabled.get("k") is None
