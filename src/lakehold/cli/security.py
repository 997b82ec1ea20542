"""``lakehold user``, ``lakehold token`` and ``lakehold security`` (policy, revocation)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakehold.cli.durations import describe, parse_duration, parse_instant
from lakehold.cli.output import print_rows
from lakehold.cli.session import connect, console, handles_errors

if TYPE_CHECKING:
    from lakehold.client.models import Revoked

users = typer.Typer(help="Users (administrators).", no_args_is_help=True)
tokens = typer.Typer(help="API tokens.", no_args_is_help=True)
security = typer.Typer(
    help="Security policy and revocation (administrators).", no_args_is_help=True
)
policy = typer.Typer(help="Token lifetimes and the revocation cutoff.", no_args_is_help=True)
security.add_typer(policy, name="policy")

NewToken = Annotated[
    str | None,
    typer.Option(
        "--new-token",
        help="Name of a fresh token issued to you after the revocation (yours is revoked "
        "too); saved in LAKEHOLD_HOME when the command acted as the saved admin token, "
        "else printed once",
    ),
]


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
    print_rows(
        "users",
        ["username", "admin", "active", "identity provider"],
        [(u.username, u.is_admin, u.active, u.identity_provider or "") for u in rows],
    )


@users.command("revoke-credentials")
@handles_errors
def revoke_credentials(username: str, new_token: NewToken = None) -> None:
    """Revoke every web session and API token of a user (yourself; administrators: anyone),
    effective on the next request after at most 1 s on every API process.

    Example: lakehold user revoke-credentials ana
    """
    done = connect().users.revoke_credentials(username, new_token=new_token)
    _revoked(done, f"user {username}")


@users.command("deactivate")
@handles_errors
def deactivate_user(username: str) -> None:
    """Deactivate a user: no more sign-ins, every session and token revoked.

    Example: lakehold user deactivate ana
    """
    connect().users.deactivate(username)
    console.print(f"deactivated [bold]{username}[/bold]; their sessions and tokens are revoked")


@users.command("activate")
@handles_errors
def activate_user(username: str) -> None:
    """Reactivate a user (credentials revoked meanwhile stay revoked).

    Example: lakehold user activate ana && lakehold token create laptop --user ana
    """
    connect().users.activate(username)
    console.print(f"reactivated [bold]{username}[/bold]")


@tokens.command("create")
@handles_errors
def create_token(
    name: str,
    user: Annotated[str | None, typer.Option(help="Administrators: for another user")] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(
            help="Lifetime, e.g. 30d or 12h (default: the security policy's default, or never)"
        ),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="Extra right, repeatable: lineage:write, scim, metrics (administrators grant "
            "them; a metrics token reads /metrics only)"
        ),
    ] = None,
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            help="With lineage:write (required, repeatable): a lineage namespace the token may "
            "write; * matches any characters"
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            help="With scim (required): the identity provider whose users and groups the token "
            "provisions at /scim/v2 (the only place it works), e.g. okta"
        ),
    ] = None,
) -> None:
    """Issue an API token; it is printed once.

    Example: lakehold token create ol --user ana --scope lineage:write --namespace airflow
    Example: lakehold token create okta-scim --scope scim --provider okta
    Example: lakehold token create prometheus --scope metrics
    """
    expires_at = None
    if expires_in is not None:
        seconds = parse_duration(expires_in, "expires_in")
        if seconds is not None:
            expires_at = datetime.fromtimestamp(datetime.now(UTC).timestamp() + seconds, UTC)
    token = connect().tokens.create(
        name,
        username=user,
        expires_at=expires_at,
        scopes=scope or (),
        namespaces=namespace or (),
        identity_provider=provider,
    )
    expiry = f", expires {_when(token.expires_at)}" if token.expires_at else ""
    console.print(f"token for {token.username}{expiry} (shown once, keep it safe):")
    typer.echo(token.value)


@tokens.command("list")
@handles_errors
def list_tokens() -> None:
    """List your tokens (administrators: everyone's) without their values: state, expiry and
    last use (recorded at most once a minute).

    Example: lakehold token list
    """
    rows = connect().tokens.list()
    now = datetime.now(UTC)
    print_rows(
        "tokens",
        ["id", "name", "user", "state", "created", "expires", "last used", "scopes", "namespaces"],
        [
            (
                t.id,
                t.name,
                t.username,
                _state(t.revoked, t.expires_at, now),
                _when(t.created_at),
                _when(t.expires_at) if t.expires_at else "never",
                _when(t.last_used_at) if t.last_used_at else "never",
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


@policy.command("show")
@handles_errors
def show_policy() -> None:
    """Show the token lifetimes and the revocation cutoff.

    Example: lakehold security policy show
    """
    found = connect().security.policy()
    cutoff = found.credentials_valid_after
    print_rows(
        "security policy",
        ["setting", "value"],
        [
            ("max token lifetime", describe(found.max_token_lifetime_seconds)),
            (
                "default token lifetime",
                describe(found.default_token_lifetime_seconds)
                if found.default_token_lifetime_seconds is not None
                else "the maximum"
                if found.max_token_lifetime_seconds is not None
                else "never expires",
            ),
            ("credentials valid after", _when(cutoff) if cutoff else "no cutoff"),
            (
                "updated",
                f"{_when(found.updated_at)} by {found.updated_by}" if found.updated_at else "",
            ),
        ],
    )


@policy.command("set")
@handles_errors
def set_policy(
    max_token_lifetime: Annotated[
        str | None,
        typer.Option(help="Longest lifetime of a new token: 90d, 12h, 3600 (seconds) or none"),
    ] = None,
    default_token_lifetime: Annotated[
        str | None,
        typer.Option(help="Lifetime of a token asked for without one: 30d... or none"),
    ] = None,
) -> None:
    """Change token lifetimes (for tokens issued from now on); options left out keep their
    values, `none` removes a limit.

    Example: lakehold security policy set --max-token-lifetime 90d --default-token-lifetime 30d
    """
    changes: dict[str, Any] = {}
    if max_token_lifetime is not None:
        changes["max_token_lifetime_seconds"] = parse_duration(
            max_token_lifetime, "max_token_lifetime"
        )
    if default_token_lifetime is not None:
        changes["default_token_lifetime_seconds"] = parse_duration(
            default_token_lifetime, "default_token_lifetime"
        )
    if not changes:
        console.print("nothing to change: give --max-token-lifetime or --default-token-lifetime")
        raise typer.Exit(2)
    found = connect().security.set_policy(**changes)
    console.print(
        f"max token lifetime: {describe(found.max_token_lifetime_seconds)}; default: "
        f"{describe(found.default_token_lifetime_seconds)}"
    )


@security.command("revoke-before")
@handles_errors
def revoke_before(
    when: Annotated[str, typer.Argument(help="now, or an ISO 8601 time (UTC without a zone)")],
    new_token: Annotated[
        str | None,
        typer.Option(
            "--new-token",
            help="Name of the fresh token issued to you after the cutoff (yours is revoked "
            "too); '' for none",
        ),
    ] = "cli",
) -> None:
    """Revoke every session and token of every user issued at or before a time, effective on
    the next request after at most 1 s on every API process. Your own token goes too: a new
    one is issued to you (saved in LAKEHOLD_HOME when the command acted as the saved admin
    token, else printed once).

    Example: lakehold security revoke-before now
    """
    # now: the server's clock (a client's a little ahead would be "in the future")
    cutoff = None if when.strip().lower() == "now" else parse_instant(when, "before")
    done = connect().security.revoke_before(cutoff, new_token=new_token or None)
    _revoked(done, "every user")


@security.command("revoke-provider")
@handles_errors
def revoke_provider(name: str, new_token: NewToken = None) -> None:
    """Revoke every session and token of every user of an identity provider.

    Example: lakehold security revoke-provider okta
    """
    done = connect().security.revoke_provider(name, new_token=new_token)
    _revoked(done, f"identity provider {name}'s {done.users} users")


def _revoked(done: Revoked, whom: str) -> None:
    console.print(
        f"revoked {done.tokens} tokens and {done.sessions} sessions of {whom}, issued up to "
        f"{_when(done.credentials_valid_after)}"
    )
    if done.token is None or done.token.value is None:
        return
    if _acting_as_saved_token():
        from lakehold.cli.session import save_admin_token
        from lakehold.config import Settings

        path = save_admin_token(Settings(), done.token.value)
        console.print(f"your new token '{done.token.name}' is saved in {path}")
        return
    console.print(f"your new token '{done.token.name}' (shown once, keep it safe):")
    typer.echo(done.token.value)


def _acting_as_saved_token() -> bool:
    """Whether this command acted as the admin token saved in the home directory (no server
    profile, no LAKEHOLD_TOKEN): then the new token replaces it there."""
    from lakehold.client.profiles import resolve

    return resolve() is None and not os.environ.get("LAKEHOLD_TOKEN")


def _when(value: datetime | None) -> str:
    """A time as ``2027-01-04 09:00 UTC``."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _state(revoked: bool, expires_at: datetime | None, now: datetime) -> str:
    if revoked:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"
