"""The ``lakehold`` command, run in-process with its own home and metadata store."""

from __future__ import annotations

import io
import json

from rich.console import Console
from typer.testing import CliRunner

from lakehold.cli import output
from lakehold.cli.main import app
from tests.conftest import SCENARIOS


def test_table_lifecycle_and_sql(cli, tmp_path) -> None:
    cli("domain", "create", "Insurance")
    cli("project", "create", "insurance", "--domain", "Insurance")
    out = cli(
        "table",
        "create",
        "insurance.policies",
        str(SCENARIOS / "insurance_full_load.csv"),
        "--key",
        "policy_id",
    )
    assert "25 rows" in out
    out = cli(
        "table",
        "write",
        "insurance.policies",
        str(SCENARIOS / "insurance_cdc_1.csv"),
        "--mode",
        "cdc",
    )
    assert "27 rows" in out
    out = cli(
        "table",
        "write",
        "insurance.policies",
        str(SCENARIOS / "insurance_cdc_2.csv"),
        "--mode",
        "cdc",
        "--order-column",
        "seq",
    )
    assert "26 rows" in out
    csv = cli("sql", "select count(*) as n from insurance.policies", "--format", "csv")
    assert csv.splitlines() == ["n", "26"]
    rows = json.loads(
        cli(
            "sql",
            "select policy_id from insurance.policies version as of 0 where policy_id = 200242",
            "--format",
            "json",
        )
    )
    assert rows == [{"policy_id": 200242}]
    assert "CDC" in cli("table", "history", "insurance.policies")
    shown = json.loads(cli("table", "show", "insurance.policies", "--json"))
    assert shown["row_count"] == 26 and shown["current_version"] == 2
    assert "policies" in cli("table", "list", "insurance")
    cli("table", "restore", "insurance.policies", "0")
    assert cli("sql", "select count(*) as n from insurance.policies", "--format", "csv").endswith(
        "25\n"
    )
    cli("table", "optimize", "insurance.policies")
    assert "would remove" in cli(
        "table", "vacuum", "insurance.policies", "--retention-hours", "0", "--dry-run"
    )


def test_errors_exit_with_codes_and_messages(cli, tmp_path) -> None:
    cli("domain", "create", "D")
    cli("project", "create", "p", "--domain", "D")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    out = cli("table", "create", "p.t", str(bad), code=2)
    assert "line=3" in out
    assert "not found" in cli("sql", "select * from p.nope", code=4)
    assert "position" in cli("sql", "select * fro p.t", code=2)
    cli("table", "create", "p", str(bad), code=2)


def test_table_write_reports_no_ops_overflows_and_duplicate_keys(cli, tmp_path) -> None:
    # Issue 11: types and writes.
    cli("domain", "create", "D")
    cli("project", "create", "p", "--domain", "D")
    first = tmp_path / "first.csv"
    first.write_text("id,name\n1,a\n")
    cli("table", "create", "p.t", str(first), "--key", "id")
    header = tmp_path / "header.csv"
    header.write_text("id,name\n")
    out = cli("table", "write", "p.t", str(header))
    assert "version 0 unchanged: the batch has no rows: nothing was written" in out
    huge = tmp_path / "huge.csv"
    huge.write_text("id,name\n7,g\n100000000000000000000000,i\n")
    out = cli("table", "write", "p.t", str(huge), code=2)
    assert "line 3" in out and "'id'" in out
    twice = tmp_path / "twice.csv"
    twice.write_text("id,name\n2,b\n2,b2\n3,c\n")
    out = cli(
        "table", "write", "p.t", str(twice), "--mode", "merge", "--on-duplicate", "error", code=2
    )
    assert "duplicate key (id=2) on rows 1 and 2 of the batch (lines 2 and 3)" in out
    out = cli("table", "write", "p.t", str(twice), "--mode", "merge")
    assert "version 1 (MERGE)" in out and "1 duplicate key rows collapsed" in out
    history = cli("table", "history", "p.t")
    assert "MERGE" in history and "APPEND" not in history


def test_an_engine_other_than_duckdb_or_ray_is_refused_by_the_cli(tmp_path) -> None:
    """``--engine`` on table write and optimize takes the choices of ``sql --engine``; any
    other value is a usage error (exit 2) before a server is asked: none listens at
    LAKEHOLD_URL, and a valid engine goes on to find that out (exit 8)."""
    env = {
        "LAKEHOLD_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "LAKEHOLD_URL": "http://127.0.0.1:9",
        "LAKEHOLD_TOKEN": "lh_nothing",
        "COLUMNS": "200",
    }
    rows = tmp_path / "rows.csv"
    rows.write_text("id\n1\n")
    runner = CliRunner()
    for command in (["table", "write", "p.t", str(rows)], ["table", "optimize", "p.t"]):
        refused = runner.invoke(app, [*command, "--engine", "bogus"], env=env)
        assert refused.exit_code == 2, refused.output
        assert "Invalid value for '--engine'" in refused.output
        assert "'bogus' is not one of 'duckdb', 'ray'" in refused.output
        unreachable = runner.invoke(app, [*command, "--engine", "ray"], env=env)
        assert unreachable.exit_code == 8 and "cannot reach" in unreachable.output


def test_users_and_tokens(cli) -> None:
    cli("user", "create", "ana")
    out = cli("token", "create", "laptop", "--user", "ana")
    assert "lh_" in out
    assert "laptop" in cli("token", "list")
    assert "ana" in cli("user", "list")


def test_every_command_has_help_with_an_example(cli) -> None:
    commands = [
        ["serve"],
        ["demo"],
        ["sql"],
        ["domain", "create"],
        ["domain", "list"],
        ["project", "create"],
        ["project", "list"],
        ["table", "create"],
        ["table", "write"],
        ["table", "list"],
        ["table", "show"],
        ["table", "history"],
        ["table", "restore"],
        ["table", "vacuum"],
        ["table", "optimize"],
        ["table", "drop"],
        ["user", "create"],
        ["user", "list"],
        ["token", "create"],
        ["token", "list"],
        ["token", "revoke"],
    ]
    for command in commands:
        assert "Example" in cli(*command, "--help"), command


def test_demo_loads_the_stories(cli) -> None:
    out = cli("demo", "--no-serve")
    assert "admin token" in out and "/docs" in out and "lakehold sql" in out
    assert cli("sql", "select count(*) as n from insurance.policies", "--format", "csv").endswith(
        "26\n"
    )
    assert cli("sql", "select count(*) as n from replication.object", "--format", "csv").endswith(
        "4\n"
    )
    assert "already loaded" in cli("demo", "--no-serve")


def _sql(cli_env: dict[str, str], *args: str, **env: str):
    return CliRunner().invoke(app, ["sql", *args], env={**cli_env, **env})


def test_sql_table_keeps_repeated_columns_and_shows_null(cli_env, monkeypatch) -> None:
    result = _sql(cli_env, "select 1 as a, 2 as a, null as a, '' as e, 'NULL' as t, '[b]x' as m")
    assert result.exit_code == 0, result.output
    header, values = (
        [cell.strip() for cell in line.strip("│┃ ").split("│" if "│" in line else "┃")]
        for line in result.stdout.splitlines()
        if ("│" in line or "┃" in line)
    )
    assert header == ["a", "a", "a", "e", "t", "m"]
    assert values == ["1", "2", "NULL", "", "NULL", "[b]x"]
    # NULL is styled (dim) unlike the text 'NULL' on a terminal.
    screen = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=80)
    monkeypatch.setattr(output, "console", screen)
    output.print_values(["a", "b"], [[None, "NULL"]])
    row = next(line for line in screen.file.getvalue().splitlines() if "NULL" in line)
    null, text = row.split("NULL")[:2]
    assert "\x1b[2" in null and "\x1b[2" not in text


def test_sql_csv_and_json_give_every_row_and_column(cli_env) -> None:
    csv = _sql(cli_env, "select range as n, 1 as a, 2 as a from range(2500)", "--format", "csv")
    assert csv.exit_code == 0, csv.output
    lines = csv.stdout.splitlines()
    assert lines[0] == "n,a,a" and lines[1] == "0,1,2" and len(lines) == 2501
    assert lines[-1] == "2499,1,2"
    out = _sql(cli_env, "select range as n, null as a, 2 as a from range(1500)", "--format", "json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert len(rows) == 1500 and rows[0] == {"n": 0, "a": None, "a_1": 2}
    assert "a -> a_1" in out.stderr
    assert json.loads(_sql(cli_env, "select 1 as n where false", "--format", "json").stdout) == []


def test_sql_csv_and_json_say_when_cut_at_max_rows(cli_env) -> None:
    for fmt in ("csv", "json"):
        cut = _sql(cli_env, "select * from range(50)", "--format", fmt, LAKEHOLD_MAX_ROWS="20")
        assert cut.exit_code == 9, cut.output
        assert "cut at 20 rows" in cut.stderr and "LAKEHOLD_MAX_ROWS" in cut.stderr
        rows = cut.stdout.splitlines() if fmt == "csv" else json.loads(cut.stdout)
        assert len(rows) == (21 if fmt == "csv" else 20)
        asked = _sql(cli_env, "select * from range(50)", "--format", fmt, "--limit", "5")
        assert asked.exit_code == 0 and asked.stderr == "", asked.output
        whole = _sql(cli_env, "select * from range(20)", "--format", fmt, LAKEHOLD_MAX_ROWS="20")
        assert whole.exit_code == 0 and whole.stderr == "", whole.output
