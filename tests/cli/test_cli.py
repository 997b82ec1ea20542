"""The ``lakehold`` command, run in-process with its own home and metadata store."""

from __future__ import annotations

import json

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
