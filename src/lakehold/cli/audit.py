"""``lakehold audit``: read the audit log (administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from lakehold.cli.output import print_records
from lakehold.cli.session import connect, handles_errors


@handles_errors
def audit(
    user: Annotated[str | None, typer.Option(help="Only this user's events")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project's events")] = None,
    action: Annotated[
        str | None, typer.Option(help="An action, or a family such as 'table.*'")
    ] = None,
    denied: Annotated[bool, typer.Option("--denied", help="Only refusals")] = False,
    allowed: Annotated[bool, typer.Option("--allowed", help="Only what was allowed")] = False,
    asset: Annotated[str | None, typer.Option(help="project.table")] = None,
    resource: Annotated[str | None, typer.Option(help="e.g. project:retail")] = None,
    request_id: Annotated[str | None, typer.Option(help="An X-Request-ID")] = None,
    since: Annotated[datetime | None, typer.Option(help="From this time (UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time (UTC)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Queries, decisions and changes, newest first (administrators).

    Example: lakehold audit --action 'table.*' --project retail --denied
    """
    if denied and allowed:
        raise typer.BadParameter("--denied and --allowed exclude each other")
    events = connect().audit.events(
        username=user,
        project=project,
        action=action,
        allowed=False if denied else True if allowed else None,
        asset=asset,
        resource=resource,
        request_id=request_id,
        since=since,
        until=until,
        limit=limit,
    )
    print_records(
        events,
        json,
        "Audit log",
        ["at", "user", "project", "action", "allowed", "resource", "reason", "request"],
        lambda e: (
            e.at.isoformat(timespec="seconds"),
            e.username,
            e.project,
            e.action,
            "yes" if e.allowed else "no",
            e.resource,
            e.reason,
            e.request_id,
        ),
    )
