"""``lakehold share``: Delta Sharing shares, their recipients and the recipients' access."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import connect, console, errors, handles_errors

if TYPE_CHECKING:
    from lakehold.client import Client
    from lakehold.client import models as m

share = typer.Typer(
    help="Delta Sharing: shares of a project's tables, recipients outside Lakehold and their "
    "access (read with any Delta Sharing client).",
    no_args_is_help=True,
)
recipients = typer.Typer(
    help="Recipients: organisations a project shares with, and their bearer tokens.",
    no_args_is_help=True,
)
grants = typer.Typer(
    help="A recipient's access to a share: requested, approved (in full or with filters), "
    "rejected, revoked.",
    no_args_is_help=True,
)
share.add_typer(recipients, name="recipient")
share.add_typer(grants, name="grant")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
ProjectOpt = Annotated[str, typer.Option("--project", "-p", help="The producer project")]
ProfileFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--profile-file",
        help="Write the profile file here (mode 0600) instead of printing it",
    ),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        help="The server's Delta Sharing endpoint as recipients reach it, e.g. "
        "https://lakehold.example.com/delta-sharing (default: the server's own)",
    ),
]


# -- shares ------------------------------------------------------------------------------------


@share.command("create")
@handles_errors
def create(
    name: Annotated[str, typer.Argument(help="The share's name, unique on the server")],
    project: ProjectOpt,
    comment: Annotated[str | None, typer.Option(help="What it offers")] = None,
) -> None:
    """Create an empty share of a project (owners).

    Example: lakehold share create retail_share --project retail
    """
    made = connect().shares.create(project, name, comment=comment)
    console.print(f"created share {made.name} of project {made.project}")


@share.command("list")
@handles_errors
def list_shares(
    project: Annotated[str | None, typer.Option(help="Only this project's shares")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the shares of your projects.

    Example: lakehold share list --project retail
    """
    found = connect().shares.list(project=project)
    if json_out:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        "shares",
        ["name", "project", "tables"],
        [(s.name, s.project, ", ".join(f"{t.schema}.{t.name}" for t in s.tables)) for s in found],
    )


@share.command("show")
@handles_errors
def show(name: Annotated[str, typer.Argument(help="The share")], json_out: JsonOpt = False) -> None:
    """Show a share and its tables.

    Example: lakehold share show retail_share
    """
    found = connect().shares.get(name)
    if json_out:
        print_json(msgspec.to_builtins(found))
        return
    console.print(f"share {found.name} of project {found.project}")
    print_rows(None, ["table", "asset"], [(f"{t.schema}.{t.name}", t.asset) for t in found.tables])


@share.command("delete")
@handles_errors
def delete(name: Annotated[str, typer.Argument(help="The share")]) -> None:
    """Delete a share: every grant of it ends.

    Example: lakehold share delete retail_share
    """
    connect().shares.delete(name)
    console.print(f"deleted share {name}")


@share.command("add-table")
@handles_errors
def add_table(
    name: Annotated[str, typer.Argument(help="The share")],
    asset: Annotated[str, typer.Argument(help="A published table of the share's project")],
    schema: Annotated[str | None, typer.Option(help="Default: the project's name")] = None,
    as_name: Annotated[
        str | None, typer.Option("--as", help="The table's name in the share")
    ] = None,
) -> None:
    """Offer a published table of the share's project as schema.table.

    Example: lakehold share add-table retail_share store_sales --schema sales
    """
    found = connect().shares.add_table(name, asset, schema=schema, name=as_name)
    console.print(f"share {found.name}: " + ", ".join(f"{t.schema}.{t.name}" for t in found.tables))


@share.command("remove-table")
@handles_errors
def remove_table(
    name: Annotated[str, typer.Argument(help="The share")],
    table: Annotated[str, typer.Argument(help="schema.table in the share")],
) -> None:
    """Stop offering a table; grants' filtered snapshots of it are removed.

    Example: lakehold share remove-table retail_share retail.store_sales
    """
    connect().shares.remove_table(name, table)
    console.print(f"share {name} no longer offers {table}")


# -- recipients --------------------------------------------------------------------------------


def _recipient_id(client: Client, recipient: str) -> str:
    """A recipient's id from its id or ``project.name``."""
    project, dot, name = recipient.partition(".")
    if not dot:
        return recipient
    for found in client.share_recipients.list(project=project):
        if found.name == name:
            return found.id
    errors.print(f"[red]error:[/red] recipient '{recipient}' not found")
    raise typer.Exit(4)


def _hand_out(issued: m.IssuedProfile, path: Path | None, endpoint: str | None) -> None:
    """Print the profile file, or write it to ``path`` (mode 0600)."""
    profile = msgspec.to_builtins(issued.profile)
    if endpoint:
        profile["endpoint"] = endpoint.rstrip("/")
    text = json.dumps(profile, indent=2) + "\n"
    if path is None:
        typer.echo(text, nl=False)
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    console.print(
        f"wrote the profile of recipient {issued.recipient.name} to {path} "
        f"(token expires {profile['expirationTime']}); give it to the recipient"
    )


@recipients.command("create")
@handles_errors
def create_recipient(
    name: Annotated[str, typer.Argument(help="Unique in the project")],
    project: ProjectOpt,
    organisation: Annotated[str, typer.Option(help="The organisation it is")],
    days: Annotated[int | None, typer.Option(help="Lifetime of its token")] = None,
    comment: Annotated[str | None, typer.Option()] = None,
    profile_file: ProfileFileOpt = None,
    endpoint: EndpointOpt = None,
) -> None:
    """Create a recipient and print (or write) its Delta Sharing profile file.

    The profile holds its bearer token, shown this once:
    {"shareCredentialsVersion": 1, "endpoint": ..., "bearerToken": ..., "expirationTime": ...}

    Example: lakehold share recipient create acme --project retail --organisation "ACME Corp"
    --profile-file acme.share
    """
    issued = connect().share_recipients.create(
        project, name, organisation, comment=comment, days=days
    )
    _hand_out(issued, profile_file, endpoint)


@recipients.command("list")
@handles_errors
def list_recipients(
    project: Annotated[str | None, typer.Option(help="Only this project's recipients")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the recipients of your projects and their tokens.

    Example: lakehold share recipient list --project retail
    """
    found = connect().share_recipients.list(project=project)
    if json_out:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        "recipients",
        ["id", "recipient", "organisation", "active tokens"],
        [
            (
                r.id,
                f"{r.project}.{r.name}",
                r.organisation,
                ", ".join(t.prefix for t in r.tokens if not t.revoked),
            )
            for r in found
        ],
    )


@recipients.command("token")
@handles_errors
def issue_token(
    recipient: Annotated[str, typer.Argument(help="The recipient: its id, or project.name")],
    days: Annotated[int | None, typer.Option(help="Lifetime of the token")] = None,
    profile_file: ProfileFileOpt = None,
    endpoint: EndpointOpt = None,
) -> None:
    """Issue another token of a recipient, in a new profile file.

    Example: lakehold share recipient token retail.acme --days 30 --profile-file acme.share
    """
    client = connect()
    issued = client.share_recipients.issue_token(_recipient_id(client, recipient), days=days)
    _hand_out(issued, profile_file, endpoint)


@recipients.command("revoke-token")
@handles_errors
def revoke_token(
    recipient: Annotated[str, typer.Argument(help="The recipient: its id, or project.name")],
    token: Annotated[str, typer.Argument(help="The token's id (share recipient list --json)")],
) -> None:
    """Revoke one token of a recipient: refused from its next request on.

    Example: lakehold share recipient revoke-token retail.acme 3f2c...
    """
    client = connect()
    client.share_recipients.revoke_token(_recipient_id(client, recipient), token)
    console.print(f"revoked token {token}")


@recipients.command("delete")
@handles_errors
def delete_recipient(
    recipient: Annotated[str, typer.Argument(help="The recipient: its id, or project.name")],
) -> None:
    """Delete a recipient: its tokens and grants end.

    Example: lakehold share recipient delete retail.acme
    """
    client = connect()
    client.share_recipients.delete(_recipient_id(client, recipient))
    console.print(f"deleted recipient {recipient}")


# -- grants ------------------------------------------------------------------------------------


def _print_grant(grant: m.ShareGrantView) -> None:
    console.print(
        f"grant {grant.id}: recipient {grant.recipient} ({grant.organisation}) on share "
        f"{grant.share}: {grant.status}"
    )
    for table in grant.tables:
        chosen = [f for f in (table.row_filter, table.column_filter) if f]
        how = f"with {', '.join(chosen)}" if chosen else "in full"
        console.print(f"  {table.table}: {how}")


@grants.command("request")
@handles_errors
def request(
    name: Annotated[str, typer.Argument(help="The share")],
    recipient: Annotated[str, typer.Argument(help="The recipient: its id, or project.name")],
    reason: Annotated[str, typer.Option(help="Why the recipient needs the data")],
) -> None:
    """Ask the project's owners to give a recipient access to a share.

    Example: lakehold share grant request retail_share retail.acme --reason "monthly sales"
    """
    client = connect()
    _print_grant(client.share_grants.request(name, _recipient_id(client, recipient), reason))


@grants.command("list")
@handles_errors
def list_grants(
    share_name: Annotated[str | None, typer.Option("--share", help="Only this share's")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project's shares")] = None,
    status: Annotated[str | None, typer.Option(help="requested, approved, ...")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List recipients' grants of your projects' shares.

    Example: lakehold share grant list --share retail_share --status requested
    """
    found = connect().share_grants.list(share=share_name, project=project, status=status)
    if json_out:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        "share grants",
        ["id", "share", "recipient", "status", "reason"],
        [(g.id, g.share, g.recipient, g.status, g.reason) for g in found],
    )


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """``schema.table=filter`` options as a mapping."""
    pairs: dict[str, str] = {}
    for value in values or []:
        table, equals, name = value.partition("=")
        if not equals or not table or not name:
            errors.print(f"[red]error:[/red] {option} takes schema.table=filter, not '{value}'")
            raise typer.Exit(2)
        pairs[table] = name
    return pairs


@grants.command("approve")
@handles_errors
def approve(
    grant: Annotated[str, typer.Argument(help="The grant's id")],
    row_filter: Annotated[
        list[str] | None,
        typer.Option(help="schema.table=filter: serve the table through a row filter"),
    ] = None,
    column_filter: Annotated[
        list[str] | None,
        typer.Option(help="schema.table=filter: serve the table through a column filter"),
    ] = None,
    comment: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Approve a recipient's access (owners): tables in full unless filters are named.

    Example: lakehold share grant approve 9d1e... --row-filter retail.store_sales=widget_a
    """
    from lakehold.client.shares import TableFilters

    rows = _pairs(row_filter, "--row-filter")
    columns = _pairs(column_filter, "--column-filter")
    tables = [TableFilters(t, rows.get(t), columns.get(t)) for t in sorted({*rows, *columns})]
    _print_grant(connect().share_grants.approve(grant, tables=tables, comment=comment))


@grants.command("reject")
@handles_errors
def reject(
    grant: Annotated[str, typer.Argument(help="The grant's id")],
    comment: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Reject a request for access.

    Example: lakehold share grant reject 9d1e... --comment "not for resale"
    """
    _print_grant(connect().share_grants.reject(grant, comment=comment))


@grants.command("revoke")
@handles_errors
def revoke(grant: Annotated[str, typer.Argument(help="The grant's id")]) -> None:
    """Revoke an approved grant: reads and file URLs are refused from now on.

    Example: lakehold share grant revoke 9d1e...
    """
    _print_grant(connect().share_grants.revoke(grant))
