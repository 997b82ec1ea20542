"""``lakehold doctor``: check the catalog against the warehouse; ``--repair`` fixes it."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import console, handles_errors, open_runtime, principal_of


@handles_errors
def doctor(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what is found (otherwise only report)")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Find what a crashed process left (administrators): interrupted table creates and drops,
    orphan table folders, catalog counts behind the Delta log, statements whose process is gone.
    Without --repair nothing changes and the exit code is 1 when something is found.

    Example: lakehold doctor --repair
    """
    from lakehold.kernel import Action, authorize

    runtime, _ = open_runtime()
    authorize(principal_of(runtime), Action.RECONCILE)
    report = runtime.reconcile(repair=repair)
    if json:
        print_json(report.to_dict())
    elif not report.findings:
        console.print("nothing to repair: the catalog and the warehouse agree")
    else:
        rows = [(f.kind, f.subject, f.action) for f in report.findings]
        print_rows("repaired" if repair else "found", ("kind", "subject", "action"), rows)
    if report.findings and not repair:
        raise typer.Exit(1)
