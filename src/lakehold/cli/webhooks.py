"""``lakehold webhook``: endpoints notified of governance events, and their deliveries."""

from __future__ import annotations

import os
from typing import Annotated

import msgspec
import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import connect, console, handles_errors

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
        str | None,
        typer.Option(
            envvar="LAKEHOLD_WEBHOOK_SECRET",
            help="whsec_<base64> or 16-200 characters (used as bytes); signs each delivery "
            "(Standard Webhooks). Never shown again. Omitted: prompted for.",
            show_default=False,
        ),
    ] = None,
    generate_secret: Annotated[
        bool,
        typer.Option(
            "--generate-secret", help="Generate a whsec_ secret and print it, once, to stdout"
        ),
    ] = False,
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

    Example: lakehold webhook create https://ops.example.com/hook --generate-secret
    --project retail -e subscription.approved -e subscription.revoked
    """
    if generate_secret:
        from lakehold.governance import webhook_signing as signing

        secret = signing.generate()
    elif secret is None:
        secret = typer.prompt("Secret", hide_input=True)
    created = connect().webhooks.create(
        url, secret, project=project, event_types=event or None, description=description
    )
    console.print(
        f"created webhook {created.id} for {created.project or 'all projects'}: "
        f"{', '.join(created.event_types)}"
    )
    if generate_secret:
        console.print("signing secret (shown once; give it to the receiver):")
        print(secret)


@webhooks.command("list")
@handles_errors
def list_webhooks(
    project: Annotated[str | None, typer.Option(help="Only this project's webhooks")] = None,
    json: JsonOpt = False,
) -> None:
    """List the webhooks you manage.

    Example: lakehold webhook list --project retail
    """
    found = connect().webhooks.list(project=project)
    if json:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        "webhooks",
        ["id", "url", "project", "events", "active"],
        [(h.id, h.url, h.project or "(global)", ", ".join(h.event_types), h.active) for h in found],
    )


def _set_active(webhook_id: str, active: bool) -> None:
    hook = connect().webhooks.update(webhook_id, enabled=active)
    console.print(f"webhook {hook.id} is {'enabled' if hook.active else 'disabled'}")


@webhooks.command("enable")
@handles_errors
def enable(webhook_id: Annotated[str, typer.Argument(help="Webhook id")]) -> None:
    """Enable a webhook: new events are delivered to it again.

    Example: lakehold webhook enable 3f2a...
    """
    _set_active(webhook_id, True)


@webhooks.command("disable")
@handles_errors
def disable(webhook_id: Annotated[str, typer.Argument(help="Webhook id")]) -> None:
    """Disable a webhook: no new deliveries until it is enabled.

    Example: lakehold webhook disable 3f2a...
    """
    _set_active(webhook_id, False)


@webhooks.command("update")
@handles_errors
def update(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id")],
    url: Annotated[str | None, typer.Option(help="New endpoint")] = None,
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="Event types (repeat; replaces)")
    ] = None,
    rotate_secret: Annotated[
        bool,
        typer.Option(
            "--rotate-secret", help="Set the secret from LAKEHOLD_WEBHOOK_SECRET (or a prompt)"
        ),
    ] = False,
    description: Annotated[str | None, typer.Option(help='"" clears it')] = None,
) -> None:
    """Change a webhook's url, events or description, or rotate its secret.

    Example: LAKEHOLD_WEBHOOK_SECRET=... lakehold webhook update 3f2a... --rotate-secret
    """
    secret = None
    if rotate_secret:
        secret = os.environ.get("LAKEHOLD_WEBHOOK_SECRET") or typer.prompt(
            "Secret", hide_input=True
        )
    hook = connect().webhooks.update(
        webhook_id,
        url=url,
        event_types=event or None,
        secret=secret,
        description=description,
    )
    rotated = " (secret rotated)" if secret is not None else ""
    console.print(f"updated webhook {hook.id}: {hook.url}, {', '.join(hook.event_types)}{rotated}")


@webhooks.command("purge")
@handles_errors
def purge(
    older_than_days: Annotated[int, typer.Option(help="Age in days")] = 30,
) -> None:
    """Delete delivered and failed deliveries older than N days, and their events (admins).

    Example: lakehold webhook purge --older-than-days 30
    """
    done = connect().webhooks.purge(older_than_days=older_than_days)
    console.print(
        f"purged {done.deliveries} deliveries and {done.events} events "
        f"from before {done.before:%Y-%m-%d %H:%M} UTC"
    )


@webhooks.command("delete")
@handles_errors
def delete(webhook_id: Annotated[str, typer.Argument(help="Webhook id")]) -> None:
    """Delete a webhook and its deliveries.

    Example: lakehold webhook delete 3f2a...
    """
    connect().webhooks.delete(webhook_id)
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
    found = connect().webhooks.deliveries(
        webhook_id,
        status=status,  # type: ignore[arg-type]  # the server says which statuses there are
    )
    if json:
        print_json(msgspec.to_builtins(found))
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
    again = connect().webhooks.redeliver(webhook_id, delivery_id)
    console.print(f"delivery {again.id} is {again.status} again")
