"""``lakehold connection`` and ``lakehold datasource``: happy path, errors, --help examples."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehold.cli.main import app
from lakehold.runtime import Runtime
from tests.sources.conftest import NETWORK_ALLOW, SourceDb, Team

PASSWORD = "cli-pass-Qx81"


@pytest.fixture
def cli(runtime: Runtime, database_url: str) -> Callable[..., str]:
    """``cli(*args, code=0, token=..., input=None)`` on the runtime's home and store."""
    runner = CliRunner()
    env = {
        "LAKEHOLD_HOME": str(runtime.settings.home),
        "LAKEHOLD_DATABASE_URL": database_url,
        "COLUMNS": "200",
        "CRM_PASSWORD": PASSWORD,
        "LAKEHOLD_NETWORK_ALLOW": ",".join(NETWORK_ALLOW),
    }

    def invoke(*args: str, code: int = 0, token: str, input: str | None = None) -> str:
        result = runner.invoke(app, list(args), env={**env, "LAKEHOLD_TOKEN": token}, input=input)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_connection_and_datasource_commands(
    cli, runtime: Runtime, team: Team, admin_token: str, pg_source: SourceDb
) -> None:
    token = team.owner_token
    p = pg_source.params
    out = cli(
        "connection", "create", "sales.pg", "--kind", "postgresql", "--host", p["host"],
        "--port", str(p["port"]), "--database", p["database"], "--user", p["user"],
        "--password-stdin", token=token, input=PASSWORD + "\n",
    )  # fmt: skip
    assert "created connection sales.pg" in out and PASSWORD not in out
    shown = json.loads(cli("connection", "show", "sales.pg", "--json", token=token))
    assert shown[0]["has_secret"] and PASSWORD not in json.dumps(shown)
    assert runtime.connections.spec(shown[0]["id"]).secret == PASSWORD
    assert "sales.pg" in cli("connection", "list", "sales", token=token)
    assert "PostgreSQL" in cli("connection", "test", "sales.pg", token=token)
    cli("connection", "update", "sales.pg", "--password-env", "CRM_PASSWORD", token=token)
    cli(
        "datasource", "create", "sales.crawl", "--connection", "pg", "--schema", pg_source.schema,
        "--exclude", "tmp_*", "--schedule", "0 3 * * *", token=token,
    )  # fmt: skip
    assert "0 3 * * *" in cli("datasource", "list", "sales", token=token)
    run = json.loads(cli("datasource", "run", "sales.crawl", "--json", token=token))
    assert run[0]["status"] == "succeeded" and run[0]["tables_added"] == 3
    runs = json.loads(cli("datasource", "runs", "sales.crawl", "--json", token=token))
    assert [r["status"] for r in runs] == ["succeeded"]
    assert "run" in cli("datasource", "runs", "sales.crawl", token=token)  # a table
    assert "re-encrypted 1 secret" in cli("connection", "rotate-key", token=admin_token)
    cli("connection", "rotate-key", token=token, code=3)
    assert runtime.connections.spec(shown[0]["id"]).secret == PASSWORD


def test_cli_errors(cli, team: Team, tmp_path: Path) -> None:
    token = team.owner_token
    bad = cli("connection", "create", "sales.x", "--kind", "oracle", token=token, code=2)
    assert "kind" in bad
    cli(
        "connection", "create", "sales.down", "--kind", "mysql", "--port", "1", "--database",
        "test", "--user", "u", "--password-env", "CRM_PASSWORD", token=token,
    )  # fmt: skip
    down = cli("connection", "test", "sales.down", token=token, code=8)
    assert "'down'" in down and PASSWORD not in down
    cli("datasource", "create", "sales.c", "--connection", "down", token=token)
    failed = cli("datasource", "run", "sales.c", token=token, code=8)
    assert "'down'" in failed and PASSWORD not in failed
    cron = cli(
        "datasource", "create", "sales.d", "--connection", "down", "--schedule", "x", token=token,
        code=2,
    )  # fmt: skip
    assert "schedule" in cron
    cli("connection", "show", "sales.down", token=team.outsider_token, code=4)
    cli("connection", "show", "sales.down", token=team.viewer_token, code=3)
    missing_env = cli(
        "connection", "update", "sales.down", "--password-env", "NOPE_UNSET", token=token, code=2
    )
    assert "NOPE_UNSET" in missing_env


@pytest.mark.parametrize(
    "command",
    [
        ("connection", "create"),
        ("connection", "list"),
        ("connection", "show"),
        ("connection", "update"),
        ("connection", "delete"),
        ("connection", "test"),
        ("connection", "rotate-key"),
        ("datasource", "create"),
        ("datasource", "list"),
        ("datasource", "run"),
        ("datasource", "runs"),
        ("datasource", "delete"),
    ],
)
def test_help_has_an_example(command: tuple[str, str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
