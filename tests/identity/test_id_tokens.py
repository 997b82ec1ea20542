"""ID token validation against the real provider's discovery and keys: signature (JWKS,
fetched again for an unknown key id), issuer, audience, authorized party, expiry,
freshness, nonce; and the API's exchange of a CLI client's ID token for a Lakehold token.
Tokens the provider never issued are signed here, with its own key (the test starts it with
a key it knows) or with another one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey
from sqlalchemy import select

from lakehold.api.app import create_app
from lakehold.config import OidcProvider
from lakehold.errors import LakeholdError
from lakehold.runtime import Runtime
from lakehold.security.oidc.discovery import ProviderDirectory, ProviderUnavailable
from lakehold.security.oidc.tokens import validate_id_token
from lakehold.security.principal import Principal
from lakehold.store.models import AuditEvent
from tests.identity.conftest import providers
from tests.identity.provider import CLI_CLIENT, KEY_ID, WEB_CLIENT, OpenIdProvider, signing_key


@pytest.fixture
def local(op: OpenIdProvider) -> OidcProvider:
    return providers(op)[0]


@pytest.fixture
def directory() -> ProviderDirectory:
    return ProviderDirectory(timeout_seconds=5)


def check(
    token: str,
    provider: OidcProvider,
    directory: ProviderDirectory,
    *,
    nonce: str | None = None,
    max_age: float | None = None,
) -> dict:
    return validate_id_token(
        token,
        issuer=provider.issuer,
        client_id=WEB_CLIENT,
        keys=lambda kid: directory.keys(provider, kid),
        nonce=nonce,
        max_age_seconds=max_age,
    )


def refusal(*args, **kwargs) -> LakeholdError:
    with pytest.raises(LakeholdError) as raised:
        check(*args, **kwargs)
    return raised.value


def test_a_token_signed_by_the_provider_is_valid(op, local, directory) -> None:
    claims = check(op.id_token(WEB_CLIENT, nonce="n-1"), local, directory, nonce="n-1")
    assert (claims["iss"], claims["sub"], claims["aud"]) == (op.issuer, "alice", WEB_CLIENT)
    assert directory.key_fetches == 1
    check(op.id_token(WEB_CLIENT, nonce="n-2"), local, directory, nonce="n-2")
    assert directory.key_fetches == 1  # the key set is cached


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"aud": CLI_CLIENT}, "aud"),
        ({"aud": [WEB_CLIENT, "another-client"]}, "authorized party"),
        ({"aud": [WEB_CLIENT, "other"], "azp": "other"}, "authorized party"),
        ({"iss": "http://127.0.0.1:1"}, "iss"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"exp": None}, "exp"),
        ({"sub": None}, "sub"),
    ],
)
def test_wrong_claims_are_refused(op, local, directory, claims, says) -> None:
    token = op.id_token(WEB_CLIENT, nonce="n", **claims)
    error = refusal(token, local, directory, nonce="n")
    assert error.status_code == 401
    assert error.audit_reason == "invalid token"
    assert says in error.message


def test_several_audiences_with_this_client_as_authorized_party_are_valid(
    op, local, directory
) -> None:
    token = op.id_token(WEB_CLIENT, nonce="n", aud=[WEB_CLIENT, "api"], azp=WEB_CLIENT)
    assert check(token, local, directory, nonce="n")["azp"] == WEB_CLIENT


def test_nonces_must_match(op, local, directory) -> None:
    error = refusal(op.id_token(WEB_CLIENT, nonce="theirs"), local, directory, nonce="mine")
    assert error.audit_reason == "nonce mismatch"
    error = refusal(op.id_token(WEB_CLIENT), local, directory, nonce="mine")
    assert error.audit_reason == "nonce mismatch"
    # the device grant sends no nonce: a token carrying one was asked for by someone else
    error = refusal(op.id_token(WEB_CLIENT, nonce="theirs"), local, directory)
    assert error.audit_reason == "nonce mismatch"


def test_a_token_signed_with_another_key_is_refused(op, local, directory) -> None:
    forged = op.id_token(WEB_CLIENT, key=signing_key(KEY_ID))  # the provider's key id
    error = refusal(forged, local, directory)
    assert error.audit_reason == "invalid token" and "signature" in error.message


def test_an_unknown_key_id_fetches_the_keys_again_then_refuses(op, local, directory) -> None:
    check(op.id_token(WEB_CLIENT), local, directory)
    directory.remember_keys(local, directory.keys(local, KEY_ID))  # as fetched a while ago
    fetches = directory.key_fetches
    error = refusal(op.id_token(WEB_CLIENT, key=signing_key("rotated-in")), local, directory)
    assert "signature" in error.message
    assert directory.key_fetches == fetches + 1
    # within the next seconds another unknown key id does not make it fetch again
    refusal(op.id_token(WEB_CLIENT, key=signing_key("another")), local, directory)
    assert directory.key_fetches == fetches + 1


def test_keys_rotated_at_the_provider_are_fetched_on_an_unknown_key_id(
    op, local, directory
) -> None:
    directory.remember_keys(local, KeySet([signing_key("retired-key")]))
    assert check(op.id_token(WEB_CLIENT), local, directory)["sub"] == "alice"
    assert directory.key_fetches == 1


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_and_shared_secret_tokens_are_refused(op, local, directory, alg) -> None:
    now = int(time.time())
    claims = {"iss": op.issuer, "sub": "alice", "aud": WEB_CLIENT, "iat": now, "exp": now + 60}
    if alg == "none":
        token = jwt.encode({"alg": "RS256"}, claims, op.key).rsplit(".", 1)[0] + "."
        token = token.replace(token.split(".")[0], "eyJhbGciOiJub25lIn0")  # {"alg":"none"}
    else:
        token = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key("web-secret-" * 4))
    error = refusal(token, local, directory)
    assert "algorithm" in error.message


def test_an_old_token_is_refused_where_freshness_counts(op, local, directory) -> None:
    old = op.id_token(WEB_CLIENT, iat=int(time.time()) - 3600)
    assert check(old, local, directory)["sub"] == "alice"
    assert "issued more than 600 seconds ago" in refusal(old, local, directory, max_age=600).message


def test_discovery_must_name_the_configured_issuer(op, local, directory) -> None:
    elsewhere = local.model_copy(update={"issuer": op.issuer.replace("127.0.0.1", "localhost")})
    with pytest.raises(ProviderUnavailable, match="names another issuer"):
        directory.metadata(elsewhere)


# -- the API: an ID token of the CLI client for a Lakehold token ----------------------------


@pytest.fixture
def api(runtime: Runtime, admin_token: str) -> Iterator[TestClient]:
    """An HTTP client without a token."""
    with TestClient(create_app(runtime)) as http:
        yield http


def exchange(api: TestClient, token: str, provider: str = "local", **body):
    return api.post(f"/api/v1/auth/oidc/{provider}/token", json={"id_token": token, **body})


def test_the_providers_are_listed_without_a_token(api: TestClient, op: OpenIdProvider) -> None:
    listed = api.get("/api/v1/auth/oidc/providers")
    assert listed.status_code == 200
    local = listed.json()[0]
    assert local == {
        "name": "local",
        "display_name": "Local test provider",
        "issuer": op.issuer,
        "cli_client_id": CLI_CLIENT,
        "scopes": ["openid", "profile", "email", "groups"],
    }


def test_a_cli_id_token_is_exchanged_for_a_short_lived_token(
    api: TestClient, runtime: Runtime, op: OpenIdProvider
) -> None:
    issued = exchange(api, op.id_token(CLI_CLIENT, subject="bob"))

    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["username"] == "bob" and body["value"].startswith("lh_")
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=12))) < timedelta(minutes=1)
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {body['value']}"})
    assert me.status_code == 200 and me.json()["username"] == "bob"
    with runtime.store.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "oidc.login"))
        assert event is not None and event.allowed and event.details["via"] == "cli"


def test_the_token_lives_as_long_as_the_policy_default(
    api: TestClient, runtime: Runtime, op: OpenIdProvider, admin: Principal
) -> None:
    runtime.security_policy.update(admin, default_token_lifetime_seconds=3600)
    body = exchange(api, op.id_token(CLI_CLIENT)).json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({"aud": WEB_CLIENT}, 401, "invalid token"),  # the portal's client, not the CLI's
        ({"key": "forged"}, 401, "invalid token"),
        ({"iat": int(time.time()) - 3600}, 401, "invalid token"),  # not fresh
        ({"nonce": "from-another-request"}, 401, "nonce mismatch"),
    ],
)
def test_bad_id_tokens_get_no_token(
    api: TestClient, runtime: Runtime, op: OpenIdProvider, changes, status, reason
) -> None:
    if changes.get("key") == "forged":
        changes = {"key": signing_key(KEY_ID)}
    refused = exchange(api, op.id_token(CLI_CLIENT, **changes))
    assert refused.status_code == status, refused.text
    assert refused.json()["error"] == "unauthorized"
    with runtime.store.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "oidc.login"))
        assert event is not None and not event.allowed and event.reason == reason


def test_an_unknown_user_gets_no_token_from_a_provider_that_creates_no_one(
    api: TestClient, op: OpenIdProvider
) -> None:
    refused = exchange(api, op.id_token(CLI_CLIENT, subject="bob"), provider="strict")
    assert refused.status_code == 403
    assert "no Lakehold account" in refused.json()["message"]


def test_an_unknown_provider_is_not_found(api: TestClient, op: OpenIdProvider) -> None:
    refused = exchange(api, op.id_token(CLI_CLIENT), provider="nowhere")
    assert refused.status_code == 404 and refused.json()["field"] == "provider"
