"""``lakehold network``: the allow-list of hosts and ports connections and webhooks reach."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehold.cli.output import print_records
from lakehold.cli.session import connect, console, handles_errors

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
    view = connect().network_rules.allow(rule, description)
    console.print(f"allowed {view.rule} ({view.id})")


@network.command("list")
@handles_errors
def list_rules(json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List the rules in force (from the setting and stored).

    Example: lakehold network list --json
    """
    print_records(
        connect().network_rules.list(),
        json,
        "Network allow-list",
        ["rule", "source", "id", "description", "created by"],
        lambda v: (v.rule, v.source, v.id, v.description, v.created_by),
    )


@network.command("remove")
@handles_errors
def remove(rule: Annotated[str, typer.Argument(help="The rule's text or id")]) -> None:
    """Remove a stored rule.

    Example: lakehold network remove 10.0.0.0/8:5432
    """
    connect().network_rules.remove(rule)
    console.print(f"removed {rule}")
