"""``lakehold serve`` and ``lakehold demo``."""

from __future__ import annotations

from typing import Annotated, TypedDict

import typer

from lakehold.cli.session import console, handles_errors, open_runtime, principal_of, token_file
from lakehold.config import Settings
from lakehold.runtime import Runtime


def _serve(runtime: Runtime) -> None:
    import uvicorn

    from lakehold.api.app import create_app
    from lakehold.sources.scheduler import Scheduler

    settings = runtime.settings
    runtime.webhooks.start()
    scheduler = Scheduler(runtime)
    scheduler.start()
    try:
        uvicorn.run(create_app(runtime), host=settings.host, port=settings.port, log_level="info")
    finally:
        scheduler.stop()
        runtime.webhooks.stop()


class _Overrides(TypedDict, total=False):
    """Settings given on the command line (the others come from the environment)."""

    host: str
    port: int


def _settings(host: str | None, port: int | None) -> Settings:
    overrides: _Overrides = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    return Settings(**overrides)


HostOpt = Annotated[str | None, typer.Option(help="Bind address (LAKEHOLD_HOST)")]
PortOpt = Annotated[int | None, typer.Option(help="Port (LAKEHOLD_PORT)")]


@handles_errors
def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Start the HTTP API (OpenAPI docs at /docs).

    Example: LAKEHOLD_HOME=/srv/lakehold lakehold serve --port 8750
    """
    runtime, token = open_runtime(_settings(host, port))
    if token:
        console.print(
            f"first start: admin token (shown once, saved to {token_file(runtime.settings)}):"
        )
        typer.echo(token)
    _serve(runtime)


@handles_errors
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the API")] = True,
) -> None:
    """Load the demo stories into LAKEHOLD_HOME and start the API.

    Example: LAKEHOLD_HOME=./demo-home lakehold demo
    """
    from lakehold.demo.loader import FIRST_QUERY, load_demo

    runtime, _ = open_runtime(_settings(host, port))
    admin = principal_of(runtime)
    loaded = load_demo(runtime, admin)
    settings = runtime.settings
    url = f"http://{settings.host}:{settings.port}"
    token = token_file(settings).read_text().strip()
    state = "loaded" if loaded else "already loaded"
    console.print(f"[bold]Lakehold demo[/bold] in {settings.home} ({state})")
    console.print(f"  metadata store : {settings.resolved_database_url.split('?')[0]}")
    console.print(f"  warehouse      : {settings.warehouse_path}")
    console.print(f"  API            : {url}")
    console.print(f"  OpenAPI docs   : {url}/docs")
    console.print("  admin token    :", style="bold", end=" ")
    typer.echo(token)
    console.print("  first query    :")
    typer.echo(f'    lakehold sql "{FIRST_QUERY}"')
    typer.echo(
        f"    curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        f'{url}/api/v1/query -d \'{{"sql": "{FIRST_QUERY}"}}\''
    )
    if serve_api:
        _serve(runtime)
