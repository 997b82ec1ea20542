"""The root command loads only the command that runs; its help still lists every command."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys

from typer.testing import CliRunner

from lakehold.cli.main import COMMANDS, app, build


def test_the_listed_help_is_each_commands_own() -> None:
    for name, entry in COMMANDS.items():
        command = build(name)
        assert command.name == name
        assert inspect.cleandoc(command.help or "").split("\n\n")[0] == entry.help, name


def test_root_help_lists_every_command() -> None:
    out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "300"}).output
    for name, entry in COMMANDS.items():
        assert f" {name} " in out and entry.help.splitlines()[0] in out, name
    assert "--profile" in out


def test_a_command_imports_its_own_module_only(tmp_path) -> None:
    probe = (
        "import sys\n"
        "from typer.main import get_command\n"
        "from lakehold.cli.main import app\n"
        "get_command(app).main(['profile', 'list'], prog_name='lakehold', standalone_mode=False)\n"
        "print(sorted(m for m in sys.modules if m.startswith('lakehold.cli.')))\n"
        "print('pydantic' in sys.modules)\n"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "profiles" in out[0]
    assert ast.literal_eval(out[-2]) == [
        "lakehold.cli.main",
        "lakehold.cli.output",
        "lakehold.cli.profile",
        "lakehold.cli.session",
    ]
    assert out[-1] == "False"  # plain str and bool options need no pydantic


def test_profile_option_picks_the_profile_for_the_command_only(tmp_path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "LAKEHOLD_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(app, ["--profile", "nowhere", "domain", "list"], env=env)
    assert result.exit_code != 0
    assert "no profile 'nowhere'" in result.output
    assert "LAKEHOLD_PROFILE" not in os.environ
