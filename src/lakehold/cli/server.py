"""``lakehold serve`` and ``lakehold demo``."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import typer

from lakehold.cli import observe
from lakehold.cli.session import console, handles_errors, open_runtime, principal_of, token_file

if TYPE_CHECKING:
    from lakehold.config import Settings
    from lakehold.runtime import Runtime


def _serve(runtime: Runtime) -> None:
    import uvicorn

    from lakehold.cli import collector
    from lakehold.sources.scheduler import Scheduler

    collector.for_a_server()  # collected as CPython does by default from now on
    settings = runtime.settings
    app, options = _application(runtime)  # one process, or workers (ADR 33)
    runtime.webhooks.start()
    scheduler = Scheduler(runtime)
    scheduler.start()
    runtime.alerts.start()  # anomaly alerts, every LAKEHOLD_ALERT_INTERVAL_SECONDS
    runtime.sharing_refresher.start()  # filtered share snapshots (LAKEHOLD_SHARING_REFRESH_SECONDS)
    try:
        with _flight_sql(runtime):  # beside the API when LAKEHOLD_FLIGHT_PORT is set
            uvicorn.run(
                app,
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level.lower(),
                log_config=observe.log_config(settings),  # JSON or text lines (ADR 0036)
                timeout_graceful_shutdown=5,  # open event streams do not hold the shutdown
                **options,
            )
    finally:
        runtime.sharing_refresher.stop()
        runtime.alerts.stop()
        scheduler.stop()
        runtime.webhooks.stop()
        observe.stop()  # the spans not yet sent


def _flight_sql(runtime: Runtime) -> AbstractContextManager[object]:
    """The Arrow Flight SQL endpoint while the API serves, when a port is set (ADR 0038)."""
    if runtime.settings.flight_port is None:
        return nullcontext()
    from lakehold.flight.endpoint import running

    return running(runtime)


def _application(runtime: Runtime) -> tuple[Any, dict[str, Any]]:
    """What uvicorn runs, and how: the runtime's application in this process; with several
    workers, the app factory each worker calls (start-up recovery done here, once)."""
    from lakehold.api.app import create_app, recover_on_start

    workers = runtime.settings.workers
    if workers == 1:
        return create_app(runtime), {}
    recover_on_start(runtime)
    return "lakehold.cli.worker:create", {"factory": True, "workers": workers}


METRICS_DIR = "metrics"
"""The folder of the home where the processes of ``--workers N`` keep their metric values."""


class _Overrides(TypedDict, total=False):
    """Settings given on the command line (the others come from the environment)."""

    host: str
    port: int
    workers: int
    flight_port: int
    flight_host: str


def _settings(
    host: str | None,
    port: int | None,
    workers: int | None = None,
    flight_port: int | None = None,
    flight_host: str | None = None,
) -> Settings:
    """The server's settings. With several workers, their metrics directory is emptied and
    set now, before anything imports prometheus-client (ADR 33)."""
    from lakehold.config import Settings
    from lakehold.observability.multiprocess import prepare_multiprocess_dir

    overrides: _Overrides = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    if flight_port is not None:
        overrides["flight_port"] = flight_port
    if flight_host is not None:
        overrides["flight_host"] = flight_host
    settings = Settings(**overrides)
    if settings.workers > 1:
        prepare_multiprocess_dir(settings.home.resolve() / METRICS_DIR)
    return settings


HostOpt = Annotated[str | None, typer.Option(help="Bind address (LAKEHOLD_HOST)")]
PortOpt = Annotated[int | None, typer.Option(help="Port (LAKEHOLD_PORT)")]
WorkersOpt = Annotated[
    int | None, typer.Option(min=1, help="API processes (LAKEHOLD_WORKERS; default 1)")
]
FlightPortOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=65535,
        help="Also serve Arrow Flight SQL on this port (LAKEHOLD_FLIGHT_PORT; default: off)",
    ),
]
FlightHostOpt = Annotated[
    str | None,
    typer.Option(help="Bind address of Flight SQL (LAKEHOLD_FLIGHT_HOST; default: --host)"),
]


@handles_errors
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    workers: WorkersOpt = None,
    flight_port: FlightPortOpt = None,
    flight_host: FlightHostOpt = None,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs), and Arrow Flight SQL with --flight-port.

    One process, or --workers processes sharing the port (their metrics merged at /metrics);
    the Flight SQL endpoint runs in the first process.

    Example: LAKEHOLD_HOME=/srv/lakehold lakehold serve --port 8750 --workers 4 --flight-port 8815
    """
    settings = _settings(host, port, workers, flight_port, flight_host)
    observe.start(settings)  # logs and traces, before anything logs or runs a statement
    runtime, token = open_runtime(settings, create_home=True)
    if token:  # on the terminal (stdout) only: never through logging, whose records are kept
        console.print(
            f"first start: admin token (shown once, saved to {token_file(runtime.settings)}):"
        )
        typer.echo(token)
    _serve(runtime)


def masked_url(url: str) -> str:
    """A database URL fit to print: no password, no query (it may carry one)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # not a URL SQLAlchemy reads: show nothing of it
        return "<database URL not shown>"
    return parsed.set(query={}).render_as_string(hide_password=True)


def _has_secret(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return True
    return parsed.password is not None or any("pass" in key.lower() for key in parsed.query)


def _lakehold_command() -> tuple[str | None, str]:
    """The folder to put on PATH and the command to type: this process's ``lakehold``
    (found from ``sys.argv[0]``, next to the Python running it, or on PATH), else
    ``<python> -m lakehold.cli``."""
    argv0 = Path(sys.argv[0])
    candidates = [argv0.resolve()] if argv0.name == "lakehold" else []
    candidates.append(Path(sys.executable).absolute().parent / "lakehold")
    found = shutil.which("lakehold")
    if found:
        candidates.append(Path(found).resolve())
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate.parent), "lakehold"
    return None, f"{shlex.quote(sys.executable)} -m lakehold.cli"


def shell_setup(settings: Settings, tokens: dict[str, str]) -> list[str]:
    """The lines that make a new shell ready for the printed commands."""
    lines = [f"export LAKEHOLD_HOME={shlex.quote(str(settings.home.resolve()))}"]
    folder, _ = _lakehold_command()
    if folder is not None:
        lines.append(f'export PATH={shlex.quote(folder)}:"$PATH"')
    if settings.database_url:
        if _has_secret(settings.database_url):
            lines.append(
                "# and LAKEHOLD_DATABASE_URL as in this shell (its password is not shown): "
                f"{masked_url(settings.database_url)}"
            )
        else:
            lines.append(f"export LAKEHOLD_DATABASE_URL={shlex.quote(settings.database_url)}")
    if settings.warehouse is not None:
        lines.append(f"export LAKEHOLD_WAREHOUSE={shlex.quote(str(settings.warehouse_path))}")
    lines.append("unset LAKEHOLD_TOKEN  # act as the admin whose token is in LAKEHOLD_HOME")
    if tokens:
        lines.append(
            "export " + " ".join(f"{user.upper()}={value}" for user, value in tokens.items())
        )
    return lines


def walk_through(settings: Settings, federated: str | None = None) -> list[tuple[str, str]]:
    """The demo's story as (what it shows, command) pairs, run in a shell set up as above;
    with the join of the ``federated`` table once the demo has connected it."""
    from lakehold.demo import loader

    _, lakehold = _lakehold_command()
    steward, analyst = f"${loader.STEWARD.upper()}", f"${loader.ANALYST.upper()}"
    sales = f"{loader.SHOP}.store_sales"
    totals = f"select count(*) as sales, sum(sale_amount) as amount from {sales}"
    team = f"--project {loader.TEAM}"
    derived = f"dataset:{settings.lineage_namespace}:{loader.TEAM}.{loader.DERIVED}"
    steps = [
        (
            f"the steward owns {sales} and sees every sale",
            f'LAKEHOLD_TOKEN={steward} {lakehold} sql "{totals}"',
        ),
        (
            f"the analyst reads it through a grant with row filter {loader.ROW_FILTER} "
            f"({loader.ROW_EXPRESSION})",
            f'LAKEHOLD_TOKEN={analyst} {lakehold} sql "{totals}" {team}',
        ),
        (
            f"column filter {loader.COLUMN_FILTER}: the analyst never sees cust_email",
            f'LAKEHOLD_TOKEN={analyst} {lakehold} sql "select * from {loader.SHOP}.customer" '
            f"{team}",
        ),
        (
            "the listings the analyst can discover and request",
            f"LAKEHOLD_TOKEN={analyst} {lakehold} listing list",
        ),
        (
            f"the analyst's request for {loader.SHOP}.inventory waits for the steward",
            f"LAKEHOLD_TOKEN={steward} {lakehold} subscription list --incoming --status requested",
        ),
        (
            f"lineage of {loader.TEAM}.{loader.DERIVED}, made by CREATE TABLE AS SELECT",
            f"LAKEHOLD_TOKEN={analyst} {lakehold} lineage show {derived}",
        ),
    ]
    if federated:
        steps.append(
            (
                f"{federated} is read in place from PostgreSQL, joined with {sales}",
                f'LAKEHOLD_TOKEN={steward} {lakehold} sql "{loader.FEDERATED_QUERY}"',
            )
        )
    return steps


@handles_errors
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the API")] = True,
) -> None:
    """Load the demo stories into LAKEHOLD_HOME and start the API.

    Prints the admin's token and the demo users' (steward, analyst) new tokens on the terminal
    only, the lines that set up a new shell, and a walk-through of the sharing story. When a
    PostgreSQL answers (LAKEHOLD_DEMO_SOURCE, default the local one; "off" skips it), the
    steward also joins a table read in place from it.

    Example: LAKEHOLD_HOME=./demo-home lakehold demo
    """
    from lakehold.demo.federated import source_from_env
    from lakehold.demo.loader import FIRST_QUERY, load_demo

    settings = _settings(host, port)
    observe.start(settings)
    runtime, _ = open_runtime(settings, create_home=True)
    admin = principal_of(runtime)
    story = load_demo(runtime, admin, source_from_env(os.environ))
    settings = runtime.settings
    url = f"http://{settings.host}:{settings.port}"
    token = token_file(settings).read_text().strip()
    _, lakehold = _lakehold_command()
    state = "loaded" if story.loaded else "already loaded"
    console.print(f"[bold]Lakehold demo[/bold] in {settings.home.resolve()} ({state})")
    console.print(f"  metadata store : {masked_url(settings.resolved_database_url)}")
    console.print(f"  warehouse      : {settings.warehouse_path}")
    console.print(f"  API            : {url}")
    console.print(f"  OpenAPI docs   : {url}/docs")
    if story.source_note:  # one line, as is: rich would fold it
        typer.echo(f"  federated      : {story.source_note}")
    # Tokens go to the terminal (stdout) only, never through logging.
    console.print("  admin token    :", style="bold", end=" ")
    typer.echo(token)
    for user, value in story.tokens.items():
        console.print(f"  {user + ' token':<15}:", style="bold", end=" ")
        typer.echo(value)
    console.print("\n[bold]In a new shell[/bold]:")
    for line in shell_setup(settings, story.tokens):
        typer.echo(f"  {line}")
    console.print("\n[bold]First query[/bold] (as the admin):")
    typer.echo(f'  {lakehold} sql "{FIRST_QUERY}"')
    typer.echo(
        f"  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        f'{url}/api/v1/query -d \'{{"sql": "{FIRST_QUERY}"}}\''
    )
    if story.tokens:
        console.print("\n[bold]Walk-through[/bold] (the sharing story):")
        for shows, command in walk_through(settings, story.federated):
            typer.echo(f"  # {shows}")
            typer.echo(f"  {command}")
    else:
        console.print(
            "\n(this home was made by an earlier demo without the sharing story: start the demo "
            "on a new LAKEHOLD_HOME to see it)"
        )
    if serve_api:
        _serve(runtime)
