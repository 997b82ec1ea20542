"""``lakehold demo``: the whole story out of the box, and printed commands that work verbatim.

The federated table comes from the test PostgreSQL, in a schema of each test's own (dropped
after it); the demo's source is given a password, which must never be printed."""

from __future__ import annotations

import csv
import logging
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from typer.testing import CliRunner

from lakehold.cli.main import app
from lakehold.cli.server import masked_url, shell_setup
from lakehold.cli.session import console, require_home, token_file
from lakehold.config import Settings
from lakehold.demo import federated, loader
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.conftest import POSTGRES
from tests.sources.conftest import SOURCES_PG, ensure_sources_database

SETUP = "In a new shell:"
FIRST_QUERY = "First query (as the admin):"
WALK = "Walk-through (the sharing story):"
FEDERATED = "federated      :"
SOURCE_PASSWORD = "s3cret-demo-source"
"""Given with the demo's source (trust authentication ignores it): never printed."""
UNREACHABLE = "postgresql://lake:s3cret-demo-source@127.0.0.1:1/demo"


@pytest.fixture
def demo_schema() -> Iterator[str]:
    """A schema of the test's own for the demo's source table, dropped after the test."""
    schema = f"lh_demo_{uuid.uuid4().hex[:10]}"
    ensure_sources_database()
    yield schema
    with psycopg.connect(SOURCES_PG, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _source_dsn() -> str:
    """The test PostgreSQL's source database, with a password unless it has one."""
    if "password" in conninfo_to_dict(SOURCES_PG):
        return SOURCES_PG
    return make_conninfo(SOURCES_PG, password=SOURCE_PASSWORD)


@pytest.fixture
def cli_env(cli_env: dict[str, str], demo_schema: str) -> dict[str, str]:
    """The CLI's environment, with the demo's source in the test's own schema."""
    return {
        **cli_env,
        federated.SOURCE_ENV: _source_dsn(),
        federated.SCHEMA_ENV: demo_schema,
    }


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
    with pytest.raises(Exception, match="has been revoked"):
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
    assert SOURCE_PASSWORD not in output
    assert f"{FEDERATED} retail.product_lines reads postgresql://lakehold_demo_reader@" in output
    walk = _section(output, WALK)
    commands = [line for line in walk if not line.startswith("#")]
    assert 5 <= len(commands) <= 8
    assert "retail.product_lines" in commands[-1]

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
    first, steward_sales, analyst_sales, customers, listings, requests, lineage, joined = outputs
    assert "East" in first
    assert re.search(r"\b20\b.*3530\.5", steward_sales)
    assert re.search(r"\b7\b.*1500", analyst_sales)
    assert "cust_country" in customers and "cust_email" not in customers
    assert "retail.inventory" in listings and "retail.store_sales" in listings
    assert "requested" in requests and "retail.inventory" in requests
    assert "job:lakehold:analysts.ctas.widget_customers" in lineage
    assert _figures(joined) == _expected_figures()

    # A second start loads nothing again: no second connection, crawl or line about it.
    again = cli("demo", "--no-serve")
    assert "(already loaded)" in again and FEDERATED not in again
    assert _section(again, WALK)[-1] == walk[-1]
    home = Path(cli_env["LAKEHOLD_HOME"])
    settings = Settings(home=home, database_url=cli_env["LAKEHOLD_DATABASE_URL"])
    runtime = Runtime(settings)
    try:
        admin = runtime.security.authenticate(token_file(settings).read_text().strip())
        runs = runtime.data_sources.runs(admin, loader.SHOP, federated.DATA_SOURCE)
        assert [r.tables_added for r in runs] == [1]
        assert len(runtime.connections.list(admin, loader.SHOP)) == 1
    finally:
        runtime.close()


def _figures(output: str) -> list[tuple[str, int, float]]:
    """(product line, sales, amount) rows of the printed join, in order."""
    found = re.findall(r"│\s*([A-Z]\w+)\s*│\s*(\d+)\s*│\s*([\d.]+)\s*│", output)
    return [(line, int(sales), float(amount)) for line, sales, amount in found]


def _expected_figures() -> list[tuple[str, int, float]]:
    """The join computed here, from the demo's sales file and the source's rows."""
    lines = {prod_id: line for prod_id, line, _ in federated.ROWS}
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    with (loader.DATA / "retail_store_sales.csv").open() as sales:
        for sale in csv.DictReader(sales):
            total = totals[lines[int(sale["prod_id"])]]
            total[0] += 1
            total[1] += float(sale["sale_amount"])
    rows = [(line, int(n), round(amount, 2)) for line, (n, amount) in totals.items()]
    return sorted(rows, key=lambda row: -row[2])


def test_printed_commands_work_verbatim_in_a_new_shell(tmp_path: Path) -> None:
    """The set-up lines and commands, pasted into bash with nothing of this environment;
    the demo's source is down: it says so in one line and goes on without it."""
    home = tmp_path / "demo-home"
    env = {"LAKEHOLD_HOME": str(home), "LAKEHOLD_TOKEN": None, "LAKEHOLD_DATABASE_URL": None}
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["demo", "--no-serve"], env={**env, federated.SOURCE_ENV: UNREACHABLE}
    )
    assert result.exit_code == 0, result.output
    notes = [line.strip() for line in result.output.splitlines() if FEDERATED in line]
    assert notes == [
        f"{FEDERATED} no PostgreSQL reachable at postgresql://lake@127.0.0.1:1/demo within 2 s: "
        f"federated table skipped (set {federated.SOURCE_ENV}=postgresql://user@host:port/db)"
    ]
    assert SOURCE_PASSWORD not in result.output and "product_lines" not in result.output
    assert time.monotonic() - started < 60
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


def test_the_demo_never_writes_into_the_metadata_database(
    runtime: Runtime, admin: Principal, database_url: str, demo_schema: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite metadata store is no server a source could point at")
    source = federated.DemoSource(make_conninfo(POSTGRES), demo_schema)
    story = loader.load_demo(runtime, admin, source)
    assert story.federated is None
    assert "is Lakehold's own metadata database" in str(story.source_note)
    with psycopg.connect(POSTGRES) as conn:
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [demo_schema])
        assert found.fetchone() is None
