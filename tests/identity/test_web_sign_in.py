"""Signing in to the portal with a real OpenID provider (oidc-provider on 127.0.0.1): the
authorization code flow with PKCE driven through the provider's own login and consent pages,
users matched by issuer + subject, created, refused, groups mapped, every outcome audited."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from lakehold.runtime import Runtime
from lakehold.store.models import AuditEvent, Group, GroupMember, User, UserIdentity
from tests.identity.provider import OpenIdProvider, ProviderBrowser

PORTAL = "https://testserver/"


def start(portal: TestClient, provider: str = "local", next: str = "/") -> str:
    """Click "Sign in with <provider>": the provider's authorization URL."""
    response = portal.get(f"/login/oidc/{provider}", params={"next": next})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def at_provider(authorization_url: str, login: str) -> str:
    """Sign in at the provider as ``login``: the callback URL it sends the browser back to."""
    with ProviderBrowser(login) as browser:
        return browser.visit(authorization_url, until=PORTAL)


def sign_in(
    portal: TestClient, login: str, provider: str = "local", next: str = "/"
) -> httpx.Response:
    return portal.get(at_provider(start(portal, provider, next), login))


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def logins(runtime: Runtime) -> list[AuditEvent]:
    with runtime.store.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "oidc.login").order_by(AuditEvent.at)
        ).all()
        session.expunge_all()
        return list(rows)


def user_named(runtime: Runtime, username: str) -> User | None:
    with runtime.store.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            session.expunge(user)
        return user


def groups_of(runtime: Runtime, user_id: str) -> set[str]:
    with runtime.store.session() as session:
        return set(
            session.scalars(
                select(Group.name)
                .join(GroupMember, GroupMember.group_id == Group.id)
                .where(GroupMember.user_id == user_id)
            )
        )


def test_the_sign_in_page_offers_each_provider(portal: TestClient) -> None:
    page = portal.get("/login", params={"next": "/search"})
    assert page.status_code == 200
    assert "Sign in with Local test provider" in page.text
    assert 'href="/login/oidc/local?next=/search"' in page.text
    assert 'href="/login/oidc/strict?next=/search"' in page.text


def test_first_sign_in_creates_the_user_with_mapped_groups(
    portal: TestClient, runtime: Runtime, op: OpenIdProvider
) -> None:
    authorization = start(portal, next="/search")
    query = parse_qs(urlsplit(authorization).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["nonce"] and query["state"]
    assert query["redirect_uri"] == ["https://testserver/login/oidc/local/callback"]

    done = portal.get(at_provider(authorization, "alice"))

    assert done.status_code == 303 and done.headers["location"] == "/search"
    assert "lakehold_session" in portal.cookies
    assert portal.get("/search").status_code == 200  # signed in
    alice = user_named(runtime, "alice")
    assert alice is not None
    assert (alice.identity_provider, alice.email, alice.display_name) == (
        "local",
        "alice@example.com",
        "Alice Analyst",
    )
    assert not alice.is_admin and alice.password_hash is None
    with runtime.store.session() as session:
        identity = session.scalar(select(UserIdentity).where(UserIdentity.user_id == alice.id))
        assert identity is not None
        assert identity.issuer == op.issuer
        assert (identity.subject, identity.provider) == ("alice", "local")
        analysts = session.scalar(select(Group).where(Group.name == "analysts"))
        assert analysts is not None and analysts.identity_provider == "local"
        # "everyone" is not mapped; "platform-admins" is mapped but alice is not in "admins"
        assert session.scalar(select(Group).where(Group.name == "platform-admins")) is None
    assert groups_of(runtime, alice.id) == {"analysts"}
    [event] = logins(runtime)
    assert event.allowed and event.username == "alice"
    assert event.details["created"] is True and event.details["via"] == "web"
    assert event.details["groups_added"] == ["analysts"]


def test_a_second_sign_in_is_the_same_user_by_issuer_and_subject(
    portal: TestClient, runtime: Runtime
) -> None:
    assert sign_in(portal, "alice").status_code == 303
    alice = user_named(runtime, "alice")
    assert alice is not None
    with runtime.store.session() as session:  # an administrator renames her locally...
        session.get(User, alice.id).username = "alice.renamed"
        # ...and she was in a group the provider manages that her claims no longer name,
        # and in a local group
        old = Group(name="old-team", identity_provider="local")
        mine = Group(name="hand-made")
        session.add_all([old, mine])
        session.flush()
        session.add_all(
            [
                GroupMember(group_id=old.id, user_id=alice.id),
                GroupMember(group_id=mine.id, user_id=alice.id),
            ]
        )
    portal.cookies.clear()

    again = sign_in(portal, "alice")

    assert again.status_code == 303
    assert user_named(runtime, "alice") is None  # no second user for the same person
    renamed = user_named(runtime, "alice.renamed")
    assert renamed is not None and renamed.id == alice.id
    assert groups_of(runtime, alice.id) == {"analysts", "hand-made"}
    _, second = logins(runtime)
    assert "created" not in second.details
    assert second.details["groups_removed"] == ["old-team"]
    with runtime.store.session() as session:
        assert len(session.scalars(select(UserIdentity)).all()) == 1


def test_a_taken_username_is_made_unique(portal: TestClient, runtime: Runtime) -> None:
    assert sign_in(portal, "alice").status_code == 303
    portal.cookies.clear()
    # another person of the provider whose preferred username is "Alice"
    assert sign_in(portal, "alice2").status_code == 303
    other = user_named(runtime, "alice-2")
    assert other is not None and other.display_name == "Alice Again"


def test_a_tampered_state_is_refused(portal: TestClient, runtime: Runtime) -> None:
    callback = at_provider(start(portal), "alice")

    refused = portal.get(with_query(callback, state="forged-state"))

    assert refused.status_code == 401
    assert "did not start in this browser" in refused.text
    assert "lakehold_session" not in portal.cookies
    assert user_named(runtime, "alice") is None
    [event] = logins(runtime)
    assert not event.allowed and event.reason == "bad state"


def test_a_callback_in_another_browser_is_refused(
    portal: TestClient, runtime: Runtime, admin_token: str
) -> None:
    callback = at_provider(start(portal), "alice")
    with TestClient(portal.app, base_url="https://testserver", follow_redirects=False) as other:
        refused = other.get(callback)  # no sign-in cookie: someone else's code and state
    assert refused.status_code == 401
    assert "no sign-in was started in this browser" in refused.text
    assert logins(runtime)[-1].reason == "bad state"


def test_a_wrong_nonce_is_refused(portal: TestClient, runtime: Runtime) -> None:
    # the provider signs an ID token with the nonce it was asked for: not this browser's
    authorization = with_query(start(portal), nonce="someone-elses-nonce")

    refused = portal.get(at_provider(authorization, "alice"))

    assert refused.status_code == 401
    assert "nonce" in refused.text
    assert user_named(runtime, "alice") is None
    assert logins(runtime)[-1].reason == "nonce mismatch"


def test_an_error_from_the_provider_is_shown_and_audited(
    portal: TestClient, runtime: Runtime
) -> None:
    state = parse_qs(urlsplit(start(portal)).query)["state"][0]
    callback = "/login/oidc/local/callback?" + urlencode(
        {"error": "access_denied", "error_description": "End-User aborted", "state": state}
    )
    refused = portal.get(callback)
    assert refused.status_code == 401
    assert "access_denied" in refused.text
    assert logins(runtime)[-1].reason == "provider error"


def test_an_unknown_user_is_refused_when_the_provider_creates_no_one(
    portal: TestClient, runtime: Runtime
) -> None:
    refused = sign_in(portal, "bob", provider="strict")

    assert refused.status_code == 403
    assert "you have no Lakehold account" in refused.text
    assert user_named(runtime, "bob") is None
    event = logins(runtime)[-1]
    assert not event.allowed and event.reason == "unknown user not allowed"
    assert event.details["claimed_username"] == "bob"


def test_a_user_the_provider_provisioned_is_linked_at_first_sign_in(
    portal: TestClient, runtime: Runtime, op: OpenIdProvider
) -> None:
    with runtime.store.session() as session:  # as SCIM provisioning from the same provider
        session.add(User(username="bob", email="bob@example.com", identity_provider="strict"))

    assert sign_in(portal, "bob", provider="strict").status_code == 303

    bob = user_named(runtime, "bob")
    assert bob is not None
    with runtime.store.session() as session:
        identity = session.scalar(select(UserIdentity).where(UserIdentity.user_id == bob.id))
        assert identity is not None and (identity.issuer, identity.subject) == (op.issuer, "bob")


def test_a_deactivated_user_is_refused(portal: TestClient, runtime: Runtime) -> None:
    assert sign_in(portal, "alice").status_code == 303
    alice = user_named(runtime, "alice")
    assert alice is not None
    with runtime.store.session() as session:
        session.get(User, alice.id).active = False
    portal.cookies.clear()

    refused = sign_in(portal, "alice")

    assert refused.status_code == 403
    assert "deactivated" in refused.text
    assert "lakehold_session" not in portal.cookies
    event = logins(runtime)[-1]
    assert event.reason == "deactivated user" and event.resource == f"user:{alice.id}"


def test_sign_in_returns_to_a_local_page_only(portal: TestClient) -> None:
    assert sign_in(portal, "alice", next="//evil.example/x").headers["location"] == "/"


def test_an_unknown_provider_is_not_found(portal: TestClient) -> None:
    assert portal.get("/login/oidc/nowhere").status_code == 404
