"""``lakehold demo``: the whole story out of the box, and printed commands that work verbatim."""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehold.cli.main import app
from lakehold.cli.server import masked_url, shell_setup
from lakehold.cli.session import console, require_home
from lakehold.config import Settings
from lakehold.demo import loader
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

SETUP = "In a new shell:"
FIRST_QUERY = "First query (as the admin):"
WALK = "Walk-through (the sharing story):"


def _counts(runtime: Runtime, admin: Principal) -> dict[str, int]:
    return {
        "users": len(runtime.security.list_users(admin)),
        "projects": len(runtime.catalog.list_projects(admin)),
        "listings": len(runtime.listings.list_listings(admin)),
        "requests": len(runtime.subscriptions.list_requests(admin)),
        "grants": len(runtime.grants.list_grants(admin, include_revoked=True)),
        "sales_versions": len(runtime.table_service.history(admin, "retail", "store_sales")),
    }


def test_the_demo_tells_the_sharing_story(runtime: Runtime, admin: Principal) -> None:
    started = time.monotonic()
    story = loader.load_demo(runtime, admin)
    assert time.monotonic() - started < 10
    assert story.loaded
    assert set(story.tokens) == {"steward", "analyst"}
    steward = runtime.security.authenticate(story.tokens["steward"])
    analyst = runtime.security.authenticate(story.tokens["analyst"]).in_project("analysts")
    assert {u.username for u in runtime.security.list_users(admin)} == {
        "admin",
        "steward",
        "analyst",
    }
    assert runtime.catalog.get_project(admin, "retail").owner == "steward"
    assert runtime.catalog.get_project(admin, "analysts").owner == "analyst"

    listed = {v.qualified_name for v in runtime.listings.list_listings(analyst)}
    assert listed == {"retail.customer", "retail.inventory", "retail.store_sales"}

    grants = {g.asset: g for g in runtime.grants.list_grants(analyst, project="analysts")}
    assert set(grants) == {"retail.store_sales", "retail.customer"}
    assert grants["retail.store_sales"].row_filter == "widget_a"
    assert grants["retail.store_sales"].row_filter_expression == '"prod_id" = 1'
    assert grants["retail.customer"].column_filter == "no_email"
    assert "cust_email" not in (grants["retail.customer"].columns or [])

    pending = runtime.subscriptions.list_requests(steward, direction="incoming", status="requested")
    assert [r.id for r in pending] == [story.pending_request]
    assert [i.asset for i in pending[0].items] == ["retail.inventory"]

    totals = "select count(*) as n from retail.store_sales"
    full = runtime.statements.execute(steward, totals).table.to_pylist()
    filtered = runtime.statements.execute(analyst, totals, project="analysts").table.to_pylist()
    assert full == [{"n": 20}] and filtered == [{"n": 7}]
    customers = runtime.statements.execute(
        analyst, "select * from retail.customer", project="analysts"
    )
    assert customers.table.column_names == ["cust_id", "cust_name", "cust_country"]

    graph = runtime.lineage.lineage(analyst, "dataset:lakehold:analysts.widget_customers", depth=1)
    job = next(
        n for n in graph["graph"] if n["id"] == "job:lakehold:analysts.ctas.widget_customers"
    )
    assert {e["origin"] for e in job["inEdges"]} == {
        "dataset:lakehold:retail.store_sales",
        "dataset:lakehold:retail.customer",
    }

    # A second start loads nothing twice; it replaces the users' demo tokens.
    before = _counts(runtime, admin)
    again = loader.load_demo(runtime, admin)
    assert not again.loaded
    assert _counts(runtime, admin) == before
    assert again.pending_request == story.pending_request
    assert again.tokens["analyst"] != story.tokens["analyst"]
    with pytest.raises(Exception, match="not valid"):
        runtime.security.authenticate(story.tokens["analyst"])
    runtime.security.authenticate(again.tokens["analyst"])


def _section(output: str, title: str) -> list[str]:
    """The lines of one section of the banner (up to the next blank line)."""
    lines = output.splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return [line.strip() for line in lines[start:end]]


def _shell_env(setup: list[str], base: dict[str, str | None]) -> dict[str, str | None]:
    """The environment the printed set-up lines make (exports; ``unset``; comments)."""
    env = dict(base)
    for line in setup:
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "unset":
            for name in words[1:]:
                env.pop(name, None)
            continue
        assert words[0] == "export", line
        for word in words[1:]:
            name, _, value = word.partition("=")
            env[name] = os.path.expandvars(value) if name == "PATH" else value
    assert env.get("STEWARD") and env.get("ANALYST")
    return env


def test_printed_commands_work_with_the_printed_environment(
    cli: Callable[..., str],
    cli_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A wide terminal (the console measures it once, when imported), so that rich does not
    # fold names across lines.
    monkeypatch.setattr(console, "width", 250)
    caplog.set_level(logging.DEBUG)
    output = cli("demo", "--no-serve")
    tokens = re.findall(r"\blh_[0-9a-f]+_[\w-]+", output)
    assert len(set(tokens)) == 3  # the admin's, the steward's and the analyst's
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    assert not any(token.split("_", 2)[-1] in logged for token in tokens)
    setup = _section(output, SETUP)
    assert any(line.startswith("export LAKEHOLD_HOME=/") for line in setup)
    assert any(line.startswith("export PATH=") for line in setup)
    walk = _section(output, WALK)
    commands = [line for line in walk if not line.startswith("#")]
    assert 5 <= len(commands) <= 8

    shell = _shell_env(setup, {"COLUMNS": "200", "LAKEHOLD_DATABASE_URL": None})
    assert Path(str(shell["LAKEHOLD_HOME"])) == Path(cli_env["LAKEHOLD_HOME"]).resolve()
    runner = CliRunner()
    outputs = []
    for command in [_section(output, FIRST_QUERY)[0], *commands]:
        words = shlex.split(command)
        env = dict(shell)
        while re.fullmatch(r"[A-Z_]+=.*", words[0]):  # VAR=value before the command
            name, _, value = words.pop(0).partition("=")
            env[name] = re.sub(r"\$([A-Z]+)", lambda m: str(shell[m[1]]), value)
        assert words.pop(0) == "lakehold", command
        result = runner.invoke(app, words, env={**env, "LAKEHOLD_TOKEN": env.get("LAKEHOLD_TOKEN")})
        assert result.exit_code == 0, f"{command}\n{result.output}"
        outputs.append(result.output)
    first, steward_sales, analyst_sales, customers, listings, requests, lineage = outputs
    assert "East" in first
    assert re.search(r"\b20\b.*3530\.5", steward_sales)
    assert re.search(r"\b7\b.*1500", analyst_sales)
    assert "cust_country" in customers and "cust_email" not in customers
    assert "retail.inventory" in listings and "retail.store_sales" in listings
    assert "requested" in requests and "retail.inventory" in requests
    assert "job:lakehold:analysts.ctas.widget_customers" in lineage


def test_printed_commands_work_verbatim_in_a_new_shell(tmp_path: Path) -> None:
    """The set-up lines and commands, pasted into bash with nothing of this environment."""
    home = tmp_path / "demo-home"
    result = CliRunner().invoke(
        app,
        ["demo", "--no-serve"],
        env={"LAKEHOLD_HOME": str(home), "LAKEHOLD_TOKEN": None, "LAKEHOLD_DATABASE_URL": None},
    )
    assert result.exit_code == 0, result.output
    walk = _section(result.output, WALK)
    script = "\n".join(
        [
            "set -eu",
            *_section(result.output, SETUP),
            _section(result.output, FIRST_QUERY)[0],
            *walk[2:4],  # the analyst's filtered result (each command starts a process)
        ]
    )
    clean = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    shell = subprocess.run(
        ["bash", "-c", script], env=clean, capture_output=True, text=True, timeout=60
    )
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert "East" in shell.stdout
    assert re.search(r"\b7\b.*1500", shell.stdout)
    assert not (tmp_path / ".lakehold").exists()


def test_the_database_password_is_never_printed(tmp_path: Path) -> None:
    url = "postgresql+psycopg://lake:s3cret@db.internal:5432/meta?sslmode=require"
    assert masked_url(url) == "postgresql+psycopg://lake:***@db.internal:5432/meta"
    assert "s3cret" not in masked_url("postgresql://lake@db/meta?password=s3cret")
    settings = Settings(home=tmp_path, database_url=url)
    lines = "\n".join(shell_setup(settings, {}))
    assert "s3cret" not in lines and "lake:***@db.internal" in lines
    plain = Settings(home=tmp_path, database_url="postgresql://lake@db/meta?options=-cx")
    exported = "export LAKEHOLD_DATABASE_URL='postgresql://lake@db/meta?options=-cx'"
    assert exported in shell_setup(plain, {})


def test_no_home_is_created_silently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without LAKEHOLD_HOME and ~/.lakehold a command stops (exit 2); demo and serve create it."""
    env = {k: v for k, v in os.environ.items() if k.upper() != "LAKEHOLD_HOME"}
    env["HOME"] = str(tmp_path)
    found = subprocess.run(
        [sys.executable, "-m", "lakehold.cli", "domain", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 2, found.stdout + found.stderr
    assert "no Lakehold home at ~/.lakehold: set LAKEHOLD_HOME or run" in found.stderr
    assert not (tmp_path / ".lakehold").exists()

    monkeypatch.delenv("LAKEHOLD_HOME", raising=False)
    missing = Settings(home=tmp_path / "missing")
    with pytest.raises(Exception) as stopped:
        require_home(missing)
    assert getattr(stopped.value, "exit_code", None) == 2
    monkeypatch.setenv("LAKEHOLD_HOME", str(tmp_path / "missing"))
    require_home(Settings())  # set explicitly: the command creates it, as before
    help_text = CliRunner().invoke(app, ["--help"])
    assert help_text.exit_code == 0
