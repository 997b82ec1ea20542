"""``admin_groups``: a user a provider created is an administrator exactly while the
provider's groups say so, changed at each sign-in (with the configuration of that moment) and
audited (ADR 31). alice is in the provider's ``analysts`` group, bob is not. The real
provider through the portal; SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lakehold.api.app import create_app
from lakehold.config import OidcProvider, Settings
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import AuditEvent
from tests.identity.conftest import providers
from tests.identity.provider import OpenIdProvider
from tests.identity.test_web_sign_in import logins, sign_in, user_named


def configured(op: OpenIdProvider, admin_groups: list[str]) -> list[OidcProvider]:
    local = providers(op)[0]
    return [local.model_copy(update={"admin_groups": admin_groups})]


@pytest.fixture
def settings(tmp_path: Path, database_url: str, op: OpenIdProvider) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        statement_timeout_seconds=30,
        oidc_providers=configured(op, ["analysts"]),
    )


def admin_changes(runtime: Runtime) -> list[tuple[str | None, bool, str]]:
    """(user, is_admin, provider) of each administrator change, oldest first."""
    with runtime.store.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.update").order_by(AuditEvent.at)
        ).all()
        return [(e.username, e.details["is_admin"], e.details["provider"]) for e in events]


def test_admin_groups_grant_and_take_away_administration(
    portal: TestClient, runtime: Runtime, settings: Settings, op: OpenIdProvider
) -> None:
    assert sign_in(portal, "alice").status_code == 303

    alice = user_named(runtime, "alice")
    assert alice is not None and alice.is_admin
    assert portal.get("/audit").status_code == 200  # an administrators' page
    assert logins(runtime)[-1].details["is_admin"] is True
    assert admin_changes(runtime) == [("alice", True, "local")]

    with TestClient(portal.app, base_url="https://testserver", follow_redirects=False) as bob:
        assert sign_in(bob, "bob").status_code == 303
        bob_user = user_named(runtime, "bob")
        assert bob_user is not None and not bob_user.is_admin
        assert bob.get("/audit").status_code == 403

    # the next sign-in of alice, no group change: nothing changes, nothing to audit
    with TestClient(portal.app, base_url="https://testserver", follow_redirects=False) as again:
        assert sign_in(again, "alice").status_code == 303
    assert "is_admin" not in logins(runtime)[-1].details
    assert len(admin_changes(runtime)) == 1

    # a restart: only the provider's "admins" group makes administrators now
    restarted = Runtime(settings.model_copy(update={"oidc_providers": configured(op, ["admins"])}))
    try:
        with TestClient(
            create_app(restarted), base_url="https://testserver", follow_redirects=False
        ) as browser:
            assert sign_in(browser, "alice").status_code == 303
            alice = user_named(runtime, "alice")
            assert alice is not None and not alice.is_admin
            assert browser.get("/audit").status_code == 403
    finally:
        restarted.close()
    assert portal.get("/audit").status_code == 403  # her first session too, at once
    assert logins(runtime)[-1].details["is_admin"] is False
    assert admin_changes(runtime) == [("alice", True, "local"), ("alice", False, "local")]


def test_local_users_are_never_changed_by_admin_groups(
    portal: TestClient, runtime: Runtime, admin: Principal
) -> None:
    # a local user named like the provider's alice, and not an analyst: never linked, and
    # never changed by the provider's groups
    runtime.security.create_user(admin, "alice", is_admin=False)
    runtime.security.create_user(admin, "root2", is_admin=True)
    assert sign_in(portal, "alice").status_code == 303  # a new user: alice-2
    local = user_named(runtime, "alice")
    assert local is not None and not local.is_admin
    created = user_named(runtime, "alice-2")
    assert created is not None and created.is_admin
    root = user_named(runtime, "root2")
    assert root is not None and root.is_admin
    assert admin_changes(runtime) == [("alice-2", True, "local")]
