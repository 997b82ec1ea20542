"""``lakehold alert``: anomaly alerts of projects (failure rate, sync lag, ingest volume)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import connect, console, handles_errors
from lakehold.errors import Invalid

alerts = typer.Typer(
    help="Alerts: anomalies of a project's statement failure rate, sync lag and ingest volume.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


@alerts.command("list")
@handles_errors
def list_alerts(
    project: Annotated[str | None, typer.Option(help="The project's alerts (its members)")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every project's alerts (administrators)")
    ] = False,
    state: Annotated[
        Literal["open", "resolved"] | None, typer.Option(help="Only open or resolved ones")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 100,
    json: JsonOpt = False,
) -> None:
    """List alerts, newest first: a project's (--project) or every project's (--all).

    Example: lakehold alert list --project retail --state open
    """
    lakehold = connect()
    if every:
        found = lakehold.alerts.list_all(state=state, project=project, limit=limit)
    elif project is not None:
        found = lakehold.alerts.list(project, state=state, limit=limit)
    else:
        raise Invalid("name a project (--project), or --all (administrators)", field="project")
    if json:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        "alerts",
        ["opened", "project", "signal", "subject", "state", "message"],
        [
            (
                f"{a.opened_at:%Y-%m-%d %H:%M}",
                a.project,
                a.signal,
                a.subject,
                a.state if a.resolved_at is None else f"resolved {a.resolved_at:%Y-%m-%d %H:%M}",
                a.message,
            )
            for a in found
        ],
    )


@alerts.command("evaluate")
@handles_errors
def evaluate(json: JsonOpt = False) -> None:
    """Evaluate every project's signals now, as the server does periodically (administrators).

    Example: lakehold alert evaluate
    """
    done = connect().alerts.evaluate()
    if json:
        print_json(msgspec.to_builtins(done))
        return
    for alert in done.opened:
        console.print(f"opened: {alert.message}", markup=False)
    for alert in done.resolved:
        console.print(f"resolved: {alert.message}", markup=False)
    console.print(
        f"{len(done.opened)} opened, {len(done.resolved)} resolved, {done.open} open", markup=False
    )
