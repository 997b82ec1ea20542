"""The ``cli`` fixture: run ``lakehold`` in-process with its own home and metadata store."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from lakehold.cli.main import app


@pytest.fixture
def cli_env(tmp_path, database_url) -> dict[str, str]:
    """The environment of every command; a module may extend it by overriding this fixture."""
    return {
        "LAKEHOLD_HOME": str(tmp_path / "home"),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_TOKEN": "",
        "COLUMNS": "200",
        "LAKEHOLD_DEMO_SOURCE": "off",  # `demo` writes no source table into the local PostgreSQL
    }


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Callable[..., str]:
    """``cli(*args, code=0, token="")``: run a command, assert its exit code, return its output."""
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, token: str = "") -> str:
        result = runner.invoke(app, list(args), env={**cli_env, "LAKEHOLD_TOKEN": token})
        assert result.exit_code == code, result.output
        return result.output

    return invoke
