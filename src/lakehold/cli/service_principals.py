"""``lakehold project service-principal``: a project's non-human identities for jobs and
external engines (ADR 32)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

import typer

from lakehold.cli.output import print_rows
from lakehold.cli.session import connect, console, handles_errors

if TYPE_CHECKING:
    from lakehold.client.service_principals import Role

service_principals = typer.Typer(
    help="Service principals: a project's identities for jobs and engines, with a client id "
    "and secrets exchanged at POST /oauth/token for short-lived tokens.",
    no_args_is_help=True,
)

RoleOpt = Annotated[str, typer.Option(help="Its role in the project: owner, contributor, viewer")]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else ""


def _credentials(client_id: str, secret: str) -> None:
    console.print("client secret (shown once, keep it safe):")
    typer.echo(f"LAKEHOLD_CLIENT_ID={client_id}")
    typer.echo(f"LAKEHOLD_CLIENT_SECRET={secret}")


@service_principals.command("create")
@handles_errors
def create(project: str, name: str, role: RoleOpt = "viewer") -> None:
    """Create a service principal and its first secret, printed once (project owners).

    Example: lakehold project service-principal create retail nightly-etl --role contributor
    """
    created = connect().service_principals.create(project, name, role=cast("Role", role))
    console.print(
        f"created service principal [bold]{created.name}[/bold] ({created.username}), "
        f"{created.role} of [bold]{project}[/bold]"
    )
    _credentials(created.client_id, created.client_secret)


@service_principals.command("list")
@handles_errors
def list_service_principals(project: str) -> None:
    """List a project's service principals (its members).

    Example: lakehold project service-principal list retail
    """
    rows = connect().service_principals.list(project)
    print_rows(
        f"service principals of {project}",
        ["name", "client id", "role", "active secrets", "created by", "created"],
        [
            (p.name, p.client_id, p.role, p.active_secrets, p.created_by, _when(p.created_at))
            for p in rows
        ],
    )


@service_principals.command("secrets")
@handles_errors
def list_secrets(project: str, name: str) -> None:
    """List a service principal's secrets, without their values (members).

    Example: lakehold project service-principal secrets retail nightly-etl
    """
    rows = connect().service_principals.secrets(project, name)
    print_rows(
        f"secrets of {name}",
        ["id", "state", "created", "expires", "revoked"],
        [
            (
                s.id,
                "active" if s.active else ("revoked" if s.revoked_at else "expired"),
                _when(s.created_at),
                _when(s.expires_at),
                _when(s.revoked_at),
            )
            for s in rows
        ],
    )


@service_principals.command("rotate")
@handles_errors
def rotate(
    project: str,
    name: str,
    overlap_seconds: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="How long the older secrets keep working (default: the server's, 24 h); "
            "0 ends them now",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make a new secret, printed once; the older ones stop after the overlap (owners).

    Example: lakehold project service-principal rotate retail nightly-etl --overlap-seconds 3600
    """
    issued = connect().service_principals.rotate(project, name, overlap_seconds=overlap_seconds)
    if issued.previous_expire_at is not None:
        console.print(f"older secrets stop at {_when(issued.previous_expire_at)}")
    _credentials(issued.client_id, issued.client_secret)


@service_principals.command("revoke-secret")
@handles_errors
def revoke_secret(project: str, name: str, secret_id: str) -> None:
    """Revoke one secret at once, and the tokens issued for it (project owners).

    Example: lakehold project service-principal revoke-secret retail nightly-etl 9f2d0c1b...
    """
    connect().service_principals.revoke_secret(project, name, secret_id)
    console.print(f"revoked secret {secret_id} of [bold]{name}[/bold]")


@service_principals.command("delete")
@handles_errors
def delete(project: str, name: str) -> None:
    """Delete a service principal: its secrets and tokens stop working at once (owners).

    Example: lakehold project service-principal delete retail nightly-etl
    """
    connect().service_principals.delete(project, name)
    console.print(f"deleted service principal [bold]{name}[/bold] of [bold]{project}[/bold]")
