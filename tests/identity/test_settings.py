"""Configuring OpenID Connect providers: LAKEHOLD_OIDC_PROVIDERS (a JSON list) and
LAKEHOLD_OIDC_PROVIDERS_FILE, checked when the settings are read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from lakehold.config import Settings

OKTA = {
    "name": "okta",
    "issuer": "https://example.okta.com/oauth2/default",
    "client_id": "0oa-portal",
    "client_secret": "portal-secret",
    "cli_client_id": "0oa-cli",
    "group_mapping": {"Data Analysts": "analysts"},
}


def read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Settings:
    monkeypatch.setenv("LAKEHOLD_HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(f"LAKEHOLD_{name.upper()}", value)
    return Settings()


def test_providers_come_from_the_environment_and_a_file(monkeypatch, tmp_path) -> None:
    google = {"name": "google", "issuer": "https://accounts.google.com", "client_id": "g"}
    file = tmp_path / "providers.json"
    file.write_text(json.dumps([google]))

    settings = read(
        monkeypatch, tmp_path, oidc_providers=json.dumps([OKTA]), oidc_providers_file=str(file)
    )

    okta, found = settings.oidc_providers
    assert (
        okta.client_secret is not None
        and okta.client_secret.get_secret_value() == OKTA["client_secret"]
    )
    assert "portal-secret" not in repr(settings)  # a secret is never printed
    assert okta.scopes == ["openid", "profile", "email"] and okta.create_users is False
    assert okta.cli_client == "0oa-cli" and okta.label == "okta"
    assert found.name == "google" and found.cli_client == "g"  # a public client serves the CLI


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"issuer": "http://idp.example.com"}, "https URL"),
        ({"issuer": "https://idp.example.com/?tenant=1"}, "no query"),
        ({"name": "Okta Prod"}, "name"),
        ({"group_mapping": {"x": "not a group!"}}, "group name"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_provider_settings_are_refused(monkeypatch, tmp_path, change, says) -> None:
    with pytest.raises(ValidationError, match=says):
        read(monkeypatch, tmp_path, oidc_providers=json.dumps([{**OKTA, **change}]))


def test_two_providers_may_not_share_a_name(monkeypatch, tmp_path) -> None:
    with pytest.raises(ValidationError, match="same name"):
        read(monkeypatch, tmp_path, oidc_providers=json.dumps([OKTA, OKTA]))


def test_scopes_always_ask_for_openid(monkeypatch, tmp_path) -> None:
    settings = read(
        monkeypatch, tmp_path, oidc_providers=json.dumps([{**OKTA, "scopes": ["email"]}])
    )
    assert settings.oidc_providers[0].scopes == ["openid", "email"]
