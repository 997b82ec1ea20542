"""Token lifetimes (ADR 0029): the administrators' policy (maximum, default), expiries checked
when a token is issued, expired tokens that say so, tokens listed with expiry and last use; the
policy and revocation from the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from lakehold.cli.main import app
from lakehold.errors import Unauthorized
from lakehold.store.models import ApiToken
from tests.security.identity_helpers import PASSWORD, api

DAY = 86400


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def ana(runtime, admin) -> str:
    runtime.security.create_user(admin, "ana", password=PASSWORD)
    token = runtime.security.create_token(admin, "laptop", username="ana")
    assert token.value is not None
    return token.value


def test_tokens_never_expire_by_default_but_never_start_expired(client) -> None:
    policy = client.get("/api/v1/security/policy").json()
    assert policy["max_token_lifetime_seconds"] is None
    assert policy["default_token_lifetime_seconds"] is None
    assert policy["credentials_valid_after"] is None
    plain = client.post("/api/v1/tokens", json={"name": "plain"})
    assert plain.status_code == 201 and plain.json()["expires_at"] is None
    past = client.post("/api/v1/tokens", json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400 and past.json()["field"] == "expires_at"
    assert "in the past" in past.json()["message"]


def test_the_policy_sets_default_and_maximum_lifetimes(runtime, admin, client) -> None:
    changed = client.put(
        "/api/v1/security/policy",
        json={"max_token_lifetime_seconds": 90 * DAY, "default_token_lifetime_seconds": 30 * DAY},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["updated_by"] == "admin"
    before = datetime.now(UTC)
    made = client.post("/api/v1/tokens", json={"name": "default"}).json()
    expires = _at(made["expires_at"])
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)
    asked = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    made = client.post("/api/v1/tokens", json={"name": "sixty", "expires_at": asked})
    assert made.status_code == 201 and _at(made.json()["expires_at"]) == _at(asked)
    too_long = (datetime.now(UTC) + timedelta(days=91)).isoformat()
    refused = client.post("/api/v1/tokens", json={"name": "long", "expires_at": too_long})
    assert refused.status_code == 400 and refused.json()["field"] == "expires_at"
    assert "at most 90 days" in refused.json()["message"]
    assert refused.json()["max_token_lifetime_seconds"] == 90 * DAY
    # a default beyond the maximum is refused, naming the field; nothing changes
    bad = client.put("/api/v1/security/policy", json={"default_token_lifetime_seconds": 91 * DAY})
    assert bad.status_code == 400 and bad.json()["field"] == "default_token_lifetime_seconds"
    # fields left out keep their values; null removes a limit
    only = client.put("/api/v1/security/policy", json={"default_token_lifetime_seconds": None})
    assert only.json()["max_token_lifetime_seconds"] == 90 * DAY
    assert only.json()["default_token_lifetime_seconds"] is None
    capped = client.post("/api/v1/tokens", json={"name": "capped"}).json()  # the maximum
    assert _at(capped["expires_at"]) > datetime.now(UTC) + timedelta(days=89)
    cleared = client.put("/api/v1/security/policy", json={"max_token_lifetime_seconds": None})
    assert cleared.json()["max_token_lifetime_seconds"] is None
    assert client.post("/api/v1/tokens", json={"name": "free"}).json()["expires_at"] is None
    for body, field in (
        ({"max_token_lifetime_seconds": 0}, "max_token_lifetime_seconds"),
        ({"credentials_valid_after": None}, "credentials_valid_after"),
        ({"credentials_valid_after": "2999-01-01T00:00:00Z"}, "credentials_valid_after"),
        ({"lifetime": 3}, "lifetime"),
    ):
        refused = client.put("/api/v1/security/policy", json=body)
        assert refused.status_code == 400 and refused.json()["field"] == field, refused.text
    events = runtime.audit.events(admin, action="security_policy.update")
    assert [e.allowed for e in events][:3] == [False, False, True]


def test_only_administrators_see_or_change_the_policy(runtime, ana) -> None:
    with api(runtime, ana) as client:
        assert client.get("/api/v1/security/policy").status_code == 403
        put = client.put("/api/v1/security/policy", json={"max_token_lifetime_seconds": 60})
        assert put.status_code == 403
        assert client.post("/api/v1/security/revoke-before").status_code == 403
    assert runtime.security.authenticate(ana).username == "ana"


def test_an_expired_token_says_so(runtime, ana) -> None:
    with runtime.store.session() as session:  # its day has come (before its first use)
        session.execute(update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(1)))
    with api(runtime, ana) as client:
        refused = client.get("/api/v1/me")
        assert refused.status_code == 401
        assert refused.json()["message"] == "the API token has expired"
    with pytest.raises(Unauthorized, match="not valid"):  # a wrong secret says nothing more
        runtime.security.authenticate(ana[:-4] + "abcd")


def test_tokens_are_listed_with_expiry_and_last_use(runtime, client, ana) -> None:
    with api(runtime, ana) as mine:
        assert mine.get("/api/v1/me").status_code == 200
        [token] = mine.get("/api/v1/tokens").json()
    assert token["last_used_at"] is not None and token["expires_at"] is None
    assert token["revoked"] is False and "value" in token and token["value"] is None


# -- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, database_url) -> Callable[..., str]:
    """``cli(*args, code=0)``: run ``lakehold`` in process as the saved admin token."""
    runner = CliRunner()
    env = {
        "LAKEHOLD_HOME": str(tmp_path / "home"),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_TOKEN": "",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # no server profile
        "COLUMNS": "200",
    }

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_the_cli_sets_the_policy_and_revokes(cli) -> None:
    cli("user", "create", "ana")
    out = cli("security", "policy", "set", "--max-token-lifetime", "90d")
    assert "max token lifetime: 90 days" in out
    cli("security", "policy", "set", "--default-token-lifetime", "30d")
    shown = cli("security", "policy", "show")
    assert "90 days" in shown and "30 days" in shown and "no cutoff" in shown
    bad = cli("security", "policy", "set", "--max-token-lifetime", "soon", code=2)
    assert "not a duration" in bad and "max_token_lifetime" in bad
    assert "expires 20" in cli("token", "create", "laptop", "--user", "ana")
    long = cli("token", "create", "x", "--expires-in", "100d", code=2)
    assert "at most 90 days" in long and "expires_at" in long
    listed = cli("token", "list")
    assert "expires" in listed and "last used" in listed and "never" in listed
    assert "active" in listed
    out = cli("user", "revoke-credentials", "ana")
    assert "revoked 1 tokens and 0 sessions of user ana" in out
    assert "revoked" in cli("token", "list")
    cli("user", "deactivate", "ana")
    assert "False" in cli("user", "list")
    cli("user", "activate", "ana")
    # everything before now: the saved admin token is replaced, and the CLI keeps working
    out = cli("security", "revoke-before", "now")
    assert "your new token 'cli' is saved in" in out
    assert "credentials valid after" in cli("security", "policy", "show")
    assert "cli" in cli("token", "list")
    assert "Example:" in cli("security", "revoke-before", "--help")
    for command in (
        ("user", "revoke-credentials"),
        ("user", "deactivate"),
        ("security", "policy", "set"),
    ):
        assert "Example:" in cli(*command, "--help"), command
