"""``lakehold user`` and ``lakehold token``."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehold.cli.output import print_rows
from lakehold.cli.session import connect, console, handles_errors

users = typer.Typer(help="Users (administrators).", no_args_is_help=True)
tokens = typer.Typer(help="API tokens.", no_args_is_help=True)


@users.command("create")
@handles_errors
def create_user(
    username: str,
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator")] = False,
) -> None:
    """Create a user; then issue a token for them with `lakehold token create`.

    Example: lakehold user create ana && lakehold token create laptop --user ana
    """
    user = connect().users.create(username, is_admin=admin)
    console.print(f"created user [bold]{user.username}[/bold]")


@users.command("list")
@handles_errors
def list_users() -> None:
    """List users.

    Example: lakehold user list
    """
    rows = connect().users.list()
    print_rows("users", ["username", "admin"], [(u.username, u.is_admin) for u in rows])


@tokens.command("create")
@handles_errors
def create_token(
    name: str,
    user: Annotated[str | None, typer.Option(help="Administrators: for another user")] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="Extra right, repeatable: lineage:write (administrators grant it)"),
    ] = None,
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            help="With lineage:write (required, repeatable): a lineage namespace the token may "
            "write; * matches any characters"
        ),
    ] = None,
) -> None:
    """Issue an API token; it is printed once.

    Example: lakehold token create ol --user ana --scope lineage:write --namespace airflow
    """
    token = connect().tokens.create(
        name, username=user, scopes=scope or (), namespaces=namespace or ()
    )
    console.print(f"token for {token.username} (shown once, keep it safe):")
    typer.echo(token.value)


@tokens.command("list")
@handles_errors
def list_tokens() -> None:
    """List your tokens (without their values).

    Example: lakehold token list
    """
    rows = connect().tokens.list()
    print_rows(
        "tokens",
        ["id", "name", "user", "created", "revoked", "scopes", "namespaces"],
        [
            (
                t.id,
                t.name,
                t.username,
                t.created_at,
                t.revoked,
                ", ".join(t.scopes or ()),
                ", ".join(t.namespaces or ()),
            )
            for t in rows
        ],
    )


@tokens.command("revoke")
@handles_errors
def revoke_token(token_id: str) -> None:
    """Revoke a token.

    Example: lakehold token revoke 3f2a...
    """
    connect().tokens.revoke(token_id)
    console.print("revoked")
