"""``lakehold webhook``: create, list, deliveries, delete, with --help examples."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from lakehold.cli.main import app

SECRET = "cli-secret-0123456789"


@pytest.fixture
def cli_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "LAKEHOLD_WEBHOOK_SECRET": SECRET}


def test_webhook_commands(cli) -> None:
    cli("domain", "create", "Retail")
    cli("project", "create", "retail", "--domain", "Retail")
    out = cli(
        "webhook",
        "create",
        "https://example.com/hook",
        "--project",
        "retail",
        "-e",
        "subscription.approved",
    )
    hook_id = re.search(r"([0-9a-f]{32})", out).group(1)
    assert SECRET not in out
    listed = json.loads(cli("webhook", "list", "--json"))
    assert [h["id"] for h in listed] == [hook_id]
    assert listed[0]["event_types"] == ["subscription.approved"]
    assert "secret" not in listed[0] and SECRET not in cli("webhook", "list")
    assert json.loads(cli("webhook", "deliveries", hook_id, "--json")) == []
    bad = cli("webhook", "create", "not a url", "--project", "retail", code=2)
    assert "url" in bad
    cli("webhook", "delete", hook_id)
    assert json.loads(cli("webhook", "list", "--json")) == []
    cli("webhook", "delete", hook_id, code=4)


def test_enable_disable_update_and_purge(cli) -> None:
    cli("domain", "create", "Retail")
    cli("project", "create", "retail", "--domain", "Retail")
    out = cli("webhook", "create", "https://example.com/hook", "--project", "retail")
    hook_id = re.search(r"([0-9a-f]{32})", out).group(1)
    assert "disabled" in cli("webhook", "disable", hook_id)
    assert json.loads(cli("webhook", "list", "--json"))[0]["active"] is False
    assert "enabled" in cli("webhook", "enable", hook_id)
    out = cli("webhook", "update", hook_id, "--rotate-secret", "-e", "subscription.revoked")
    assert "subscription.revoked" in out and "rotated" in out and SECRET not in out
    assert "url" in cli("webhook", "update", hook_id, "--url", "ftp://x", code=2)
    cli("webhook", "enable", "nope", code=4)
    assert "purged 0 deliveries" in cli("webhook", "purge", "--older-than-days", "30")
    assert "older_than_days" in cli("webhook", "purge", "--older-than-days", "0", code=2)
    cli("user", "create", "bob")
    bob = cli("token", "create", "t", "--user", "bob").strip().splitlines()[-1]
    cli("webhook", "purge", token=bob, code=3)


@pytest.mark.parametrize(
    "command",
    ["create", "list", "delete", "deliveries", "redeliver", "enable", "disable", "update", "purge"],
)
def test_help_has_an_example(command) -> None:
    result = CliRunner().invoke(app, ["webhook", command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
