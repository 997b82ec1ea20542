"""``lakehold webhook``: endpoints notified of governance events, and their deliveries."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import console, handles_errors, open_runtime, principal_of

webhooks = typer.Typer(
    help="Webhooks: POST governance events (subscription requested, approved, rejected, "
    "revoked) to your endpoints, signed and retried.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


@webhooks.command("create")
@handles_errors
def create(
    url: Annotated[str, typer.Argument(help="http:// or https:// endpoint")],
    secret: Annotated[
        str,
        typer.Option(
            envvar="LAKEHOLD_WEBHOOK_SECRET",
            help="16-200 characters; signs each body (X-Lakehold-Signature). Never shown again.",
            prompt=True,
            hide_input=True,
        ),
    ],
    project: Annotated[
        str | None, typer.Option(help="The project's events (owners); omitted: global (admins)")
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help="Event type (repeat); omitted: all"),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the endpoint does")] = None,
) -> None:
    """Create a webhook of a project (its owners) or a global one (administrators).

    Example: LAKEHOLD_WEBHOOK_SECRET=... lakehold webhook create https://ops.example.com/hook
    --project retail -e subscription.approved -e subscription.revoked
    """
    runtime, _ = open_runtime()
    created = runtime.webhooks.create(
        principal_of(runtime),
        url,
        secret,
        project=project,
        event_types=event or None,
        description=description,
    )
    console.print(
        f"created webhook {created.id} for {created.project or 'all projects'}: "
        f"{', '.join(created.event_types)}"
    )


@webhooks.command("list")
@handles_errors
def list_webhooks(
    project: Annotated[str | None, typer.Option(help="Only this project's webhooks")] = None,
    json: JsonOpt = False,
) -> None:
    """List the webhooks you manage.

    Example: lakehold webhook list --project retail
    """
    runtime, _ = open_runtime()
    found = runtime.webhooks.list_webhooks(principal_of(runtime), project=project)
    if json:
        print_json([asdict(hook) for hook in found])
        return
    print_rows(
        "webhooks",
        ["id", "url", "project", "events", "active"],
        [(h.id, h.url, h.project or "(global)", ", ".join(h.event_types), h.active) for h in found],
    )


@webhooks.command("delete")
@handles_errors
def delete(webhook_id: Annotated[str, typer.Argument(help="Webhook id")]) -> None:
    """Delete a webhook and its deliveries.

    Example: lakehold webhook delete 3f2a...
    """
    runtime, _ = open_runtime()
    runtime.webhooks.delete(principal_of(runtime), webhook_id)
    console.print(f"deleted webhook {webhook_id}")


@webhooks.command("deliveries")
@handles_errors
def deliveries(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id")],
    status: Annotated[str | None, typer.Option(help="pending, delivered or failed")] = None,
    json: JsonOpt = False,
) -> None:
    """List a webhook's deliveries, newest first.

    Example: lakehold webhook deliveries 3f2a... --status failed
    """
    runtime, _ = open_runtime()
    found = runtime.webhooks.deliveries(principal_of(runtime), webhook_id, status=status)
    if json:
        print_json([asdict(d) for d in found])
        return
    print_rows(
        f"deliveries of webhook {webhook_id}",
        ["id", "event", "status", "attempts", "last code", "last error", "next attempt"],
        [
            (
                d.id,
                d.event_type,
                d.status,
                d.attempts,
                d.last_status_code,
                d.last_error,
                d.next_attempt_at,
            )
            for d in found
        ],
    )


@webhooks.command("redeliver")
@handles_errors
def redeliver(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id")],
    delivery_id: Annotated[str, typer.Argument(help="Id of a failed delivery")],
) -> None:
    """Send a failed delivery again (a fresh series of attempts, by the server's dispatcher).

    Example: lakehold webhook redeliver 3f2a... 9c1d...
    """
    runtime, _ = open_runtime()
    again = runtime.webhooks.redeliver(principal_of(runtime), webhook_id, delivery_id)
    console.print(f"delivery {again.id} is {again.status} again")
