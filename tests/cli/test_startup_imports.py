"""What a command imports at start-up (ADR 26): in process, the routers of its paths alone, no
query engine for a catalog listing, no lakehouse or connections for a statement reading no
table; against a server, no pydantic for plain option values."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from typing import Literal

import pytest
from typer import _adapters
from typer.models import OptionInfo

from lakehold.cli.collector import COMMAND_THRESHOLDS
from lakehold.cli.main import _NOT_PLAIN, plain_value

PROBE = """
import sys
from typer.main import get_command
from lakehold.cli.main import app
try:
    get_command(app).main(sys.argv[1:], prog_name="lakehold", standalone_mode=False)
except BaseException as error:  # a refused connection, an exit code
    print(type(error).__name__, file=sys.stderr)
loaded = [m for m in sys.modules if m.startswith("lakehold.api.routers.")]
print(sorted(loaded))
print(sorted(m for m in ("pydantic", "pyarrow", "duckdb", "sqlglot", "pandas", "lakehold.web")
             if m in sys.modules))
"""


def _imports(tmp_path, env: dict[str, str], *args: str) -> tuple[list[str], list[str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOLD_")}
    env = {**base, "XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200", **env}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, check=True
    )
    routers, heavy = done.stdout.splitlines()[-2:]
    return ast.literal_eval(routers), ast.literal_eval(heavy)


def test_in_process_a_listing_loads_its_router_only(tmp_path) -> None:
    env = {"LAKEHOLD_HOME": str(tmp_path / "home")}
    routers, heavy = _imports(tmp_path, env, "domain", "list")
    assert routers == ["lakehold.api.routers.domains"]
    assert heavy == ["pydantic"]  # FastAPI's; no query engine, Arrow or portal


def test_in_process_sql_loads_the_statements_router_only(tmp_path) -> None:
    env = {"LAKEHOLD_HOME": str(tmp_path / "home")}
    routers, heavy = _imports(tmp_path, env, "sql", "select 1")
    assert routers == ["lakehold.api.routers.statements"]
    assert "pandas" not in heavy and "lakehold.web" not in heavy


NOT_FOR_A_STATEMENT_READING_NO_TABLE = (
    "lakehold.lakehouse.tables",  # delta-rs and pyarrow.compute
    "lakehold.catalog.tables",
    "lakehold.catalog.reconcile",
    "lakehold.lineage.service",
    "lakehold.sources.connections",  # the scanners' drivers, httpx, the network policy
    "lakehold.sources.certificates",
    "deltalake",
    "pyarrow.compute",
    "httpx",
    "cryptography.x509",
)


def test_in_process_select_1_builds_no_lakehouse_and_no_connections(tmp_path, database_url) -> None:
    """The statement service builds the Delta tables, the table service and the connections
    at their first use: a statement that reads no table imports none of them (ADR 26)."""
    probe = (
        "import sys\n"
        "from typer.main import get_command\n"
        "from lakehold.cli.main import app\n"
        "get_command(app).main(sys.argv[1:], prog_name='lakehold', standalone_mode=False)\n"
        f"print(sorted(m for m in {NOT_FOR_A_STATEMENT_READING_NO_TABLE!r} if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOLD_")}
    env |= {
        "LAKEHOLD_HOME": str(tmp_path / "home"),
        "LAKEHOLD_DATABASE_URL": database_url,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe, "sql", "select 41 + 1 as answer"],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=True,
    )
    *shown, loaded = done.stdout.splitlines()
    assert "42" in "\n".join(shown) and "1 rows" in shown[-1]
    assert ast.literal_eval(loaded) == []


def test_run_as_the_program_a_command_collects_as_a_short_one(tmp_path) -> None:
    """``app()`` (the ``lakehold`` script) sets the collector's thresholds for a short
    command and freezes what exists when the command has run (``lakehold.cli.collector``)."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print(gc.get_threshold(), gc.get_freeze_count() > 0))\n"
        "from lakehold.cli.main import app\n"
        "sys.argv = ['lakehold', 'profile', 'list']\n"
        "app()\n"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == f"{COMMAND_THRESHOLDS} True"


def test_against_a_server_sql_options_need_no_pydantic(tmp_path) -> None:
    env = {"LAKEHOLD_URL": "http://127.0.0.1:9", "LAKEHOLD_TOKEN": "lh_nothing"}
    args = ("sql", "select 1", "--format", "csv", "--limit", "5", "--dialect", "postgres")
    routers, heavy = _imports(tmp_path, env, *args)
    assert routers == []
    assert heavy == []


INT_VALUES = ["1", "5", "10", "0", "-1", "+3", "007", " 4", "4 ", "٣", "1_000", "x", ""]
CHOICES = ["table", "csv", "TABLE", "Table", "xml", ""]


@pytest.mark.parametrize("value", INT_VALUES)
def test_a_plain_int_is_what_typer_makes_of_it(value: str) -> None:
    info = OptionInfo(min=1)
    _same_as_typer(int, info, value)
    _same_as_typer(int, OptionInfo(), value)
    _same_as_typer(int, OptionInfo(min=1, max=5, clamp=True), value)


@pytest.mark.parametrize("value", CHOICES)
def test_a_plain_choice_is_what_typer_makes_of_it(value: str) -> None:
    annotation = Literal["table", "csv", "json"]
    _same_as_typer(annotation, OptionInfo(), value)
    _same_as_typer(annotation, OptionInfo(case_sensitive=False), value)


def _same_as_typer(annotation: object, info: OptionInfo, value: str) -> None:
    """A value taken without pydantic is the one typer's adapter returns."""
    plain = plain_value(annotation, info, value, None)
    if plain is _NOT_PLAIN:
        return
    expected = _adapters.build_adapter(annotation, info).validate_python(value)
    assert plain == expected and type(plain) is type(expected), (annotation, value)
