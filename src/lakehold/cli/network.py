"""``lakehold network``: the allow-list of hosts and ports connections and webhooks reach."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import console, handles_errors, open_runtime, principal_of

network = typer.Typer(
    help="The network allow-list (administrators): which private or internal hosts and ports "
    "connections and webhooks may reach. Also LAKEHOLD_NETWORK_ALLOW (comma-separated).",
    no_args_is_help=True,
)


@network.command("allow")
@handles_errors
def allow(
    rule: Annotated[str, typer.Argument(help="<host or CIDR>:<port or *>")],
    description: Annotated[str | None, typer.Option(help="Why it is allowed")] = None,
) -> None:
    """Allow a host or network and port.

    Example: lakehold network allow 10.0.0.0/8:5432 --description "warehouse replicas"
    """
    runtime, _ = open_runtime()
    view = runtime.network.allow(principal_of(runtime), rule, description=description)
    console.print(f"allowed {view.rule} ({view.id})")


@network.command("list")
@handles_errors
def list_rules(json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List the rules in force (from the setting and stored).

    Example: lakehold network list --json
    """
    runtime, _ = open_runtime()
    views = runtime.network.list(principal_of(runtime))
    if json:
        print_json([asdict(v) for v in views])
        return
    print_rows(
        "Network allow-list",
        ["rule", "source", "id", "description", "created by"],
        [(v.rule, v.source, v.id, v.description, v.created_by) for v in views],
    )


@network.command("remove")
@handles_errors
def remove(rule: Annotated[str, typer.Argument(help="The rule's text or id")]) -> None:
    """Remove a stored rule.

    Example: lakehold network remove 10.0.0.0/8:5432
    """
    runtime, _ = open_runtime()
    runtime.network.remove(principal_of(runtime), rule)
    console.print(f"removed {rule}")
