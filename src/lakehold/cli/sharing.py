"""Sharing commands: publish, unpublish, listing, filter, subscription and grant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
import typer
from msgspec import UNSET, UnsetType

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import connect, console, errors, handles_errors, split_qualified
from lakehold.client import models as m
from lakehold.errors import Invalid, NotFound

if TYPE_CHECKING:
    from lakehold.client import Client

listings = typer.Typer(help="Listings: published assets anyone can discover.", no_args_is_help=True)
filters = typer.Typer(help="Row and column filters of an asset.", no_args_is_help=True)
subscriptions = typer.Typer(
    help="Subscription requests: ask for published assets; owners decide.", no_args_is_help=True
)
grants = typer.Typer(help="Grants: what subscribing projects may read.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


@handles_errors
def publish(
    asset: Annotated[str, typer.Argument(help="project.table")],
    version: Annotated[
        int | None, typer.Option(help="Refuse unless this is the asset's current version")
    ] = None,
) -> None:
    """Publish an asset's latest version as a listing (contributors and owners).

    Example: lakehold publish retail.customer
    """
    project, table = split_qualified(asset)
    listing = connect().listings.publish(project, table, asset_version=version)
    console.print(
        f"published {listing.qualified_name} revision {listing.revision} "
        f"(version {listing.asset_version}) as listing {listing.id}"
    )


@handles_errors
def unpublish(asset: Annotated[str, typer.Argument(help="project.table")]) -> None:
    """Withdraw an asset's listing; grants already made stay in force.

    Example: lakehold unpublish retail.customer
    """
    project, table = split_qualified(asset)
    listing = connect().listings.unpublish(project, table)
    console.print(f"withdrew listing {listing.id} of {listing.qualified_name}")


@listings.command("list")
@handles_errors
def list_listings(
    project: Annotated[str | None, typer.Option(help="Only this project's listings")] = None,
    name: Annotated[str | None, typer.Option(help="Part of the name")] = None,
    json: JsonOpt = False,
) -> None:
    """List active listings.

    Example: lakehold listing list --project retail
    """
    found = connect().listings.list(project=project, name=name)
    if json:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        "listings",
        ["id", "asset", "revision", "version", "columns", "description"],
        [
            (
                f.id,
                f.qualified_name,
                f.revision,
                f.asset_version,
                ", ".join(c.name for c in f.columns or []),
                f.description,
            )
            for f in found
        ],
    )


@filters.command("create")
@handles_errors
def create_filter(
    asset: Annotated[str, typer.Argument(help="project.table")],
    name: Annotated[str, typer.Argument(help="Filter name, unique per asset")],
    row: Annotated[
        str | None, typer.Option("--row", help='Row filter expression, e.g. "prod_id = 1"')
    ] = None,
    column: Annotated[
        list[str] | None, typer.Option("--column", "-c", help="Included column (repeat)")
    ] = None,
) -> None:
    """Create a row filter (--row) or a column filter (--column ...) (project owners).

    Example: lakehold filter create retail.store_sales widget_a --row "prod_id = 1"
    Example: lakehold filter create retail.customer no_email -c cust_id -c cust_name
    """
    project, table = split_qualified(asset)
    if (row is None) == (not column):
        errors.print("[red]error:[/red] give either --row or --column")
        raise typer.Exit(2)
    created = connect().filters.create(
        project,
        table,
        name,
        "row" if row is not None else "column",
        expression=row,
        columns=column,
    )
    console.print(f"created {created.kind} filter {created.name} on {asset}")


@filters.command("list")
@handles_errors
def list_filters(asset: Annotated[str, typer.Argument(help="project.table")]) -> None:
    """List the filters of an asset (project members).

    Example: lakehold filter list retail.customer
    """
    project, table = split_qualified(asset)
    found = connect().filters.list(project, table)
    print_rows(
        f"filters of {asset}",
        ["name", "kind", "definition"],
        [(f.name, f.kind, f.expression or ", ".join(f.columns or [])) for f in found],
    )


@filters.command("update")
@handles_errors
def update_filter(
    asset: Annotated[str, typer.Argument(help="project.table")],
    name: Annotated[str, typer.Argument(help="Filter name")],
    row: Annotated[str | None, typer.Option("--row", help="New row filter expression")] = None,
    column: Annotated[
        list[str] | None, typer.Option("--column", "-c", help="New included column (repeat)")
    ] = None,
) -> None:
    """Change a filter; grants using it follow at once (project owners).

    Example: lakehold filter update retail.store_sales widget_a --row "prod_id = 2"
    """
    project, table = split_qualified(asset)
    connect().filters.update(project, table, name, expression=row, columns=column)
    console.print(f"updated filter {name} on {asset}")


@filters.command("delete")
@handles_errors
def delete_filter(
    asset: Annotated[str, typer.Argument(help="project.table")],
    name: Annotated[str, typer.Argument(help="Filter name")],
) -> None:
    """Delete a filter no active grant uses (project owners).

    Example: lakehold filter delete retail.store_sales widget_a
    """
    project, table = split_qualified(asset)
    connect().filters.delete(project, table, name)
    console.print(f"deleted filter {name} on {asset}")


def _listing_id(client: Client, wanted: str) -> str:
    """A listing id given as an id or as the asset's project.table."""
    if "." not in wanted:
        return wanted
    project, _, table = wanted.partition(".")
    for listing in client.listings.list(project=project, name=table):
        if listing.asset == table:
            return listing.id
    raise NotFound(f"no active listing of {wanted}", field="listings")


@subscriptions.command("request")
@handles_errors
def request(
    listing: Annotated[list[str], typer.Argument(help="Listing ids or project.table names")],
    project: Annotated[str, typer.Option(help="The subscribing project")],
    reason: Annotated[str, typer.Option(help="Why the project needs the data")],
    form: Annotated[
        list[str] | None,
        typer.Option(
            "--form",
            help='A metadata form value as form.Field=value (repeat), e.g. "subscribe_form.Use '
            'Case=churn model"; needed when a metadata rule requires the form',
        ),
    ] = None,
) -> None:
    """Request published assets for a project (contributors and owners).

    Example: lakehold subscription request retail.customer retail.store_sales --project analysts
    --reason "need this data for analysis" --form "subscribe_form.Use Case=churn model"
    """
    client = connect()
    ids = [_listing_id(client, wanted) for wanted in listing]
    form_values: dict[str, dict[str, str]] = {}
    for given in form or []:
        key, eq, value = given.partition("=")
        form_name, dot, field_name = key.partition(".")
        if not eq or not dot or not form_name.strip() or not field_name.strip():
            raise Invalid(f"'{given}' is not of the form form.Field=value", field="form")
        form_values.setdefault(form_name.strip(), {})[field_name.strip()] = value
    created = client.subscriptions.request(project, ids, reason, form_values=form_values or None)
    console.print(f"requested {', '.join(i.asset for i in created.items or [])}: {created.id}")


def _print_requests(found: list[m.SubscriptionRequestView]) -> None:
    print_rows(
        "subscription requests",
        ["id", "status", "project", "requester", "assets", "reason"],
        [
            (
                r.id,
                r.status,
                r.project,
                r.requester,
                ", ".join(i.asset for i in r.items or []),
                r.reason,
            )
            for r in found
        ],
    )


@subscriptions.command("list")
@handles_errors
def list_requests(
    incoming: Annotated[bool, typer.Option(help="Requests for your projects' assets")] = False,
    outgoing: Annotated[bool, typer.Option(help="Requests from your projects")] = False,
    status: Annotated[str | None, typer.Option(help="requested, approved or rejected")] = None,
    json: JsonOpt = False,
) -> None:
    """List subscription requests you may see.

    Example: lakehold subscription list --incoming --status requested
    """
    direction: Literal["incoming", "outgoing"] | None = None
    if incoming != outgoing:
        direction = "incoming" if incoming else "outgoing"
    found = connect().subscriptions.list(
        direction=direction,
        status=status,  # type: ignore[arg-type]  # the server says which statuses there are
    )
    if json:
        print_json(msgspec.to_builtins(found))
    else:
        _print_requests(found)


def _decisions(
    view: m.SubscriptionRequestView, row: list[str], column: list[str]
) -> list[m.ItemIn]:
    by_key = {}
    for item in view.items or []:
        for key in (item.listing_id, item.asset, item.asset.split(".", 1)[1]):
            by_key[key] = item.listing_id
    chosen: dict[str, dict[str, str]] = {}
    for option, values in (("row_filter", row), ("column_filter", column)):
        for value in values:
            key, sep, name = value.partition("=")
            if not sep or key not in by_key:
                raise Invalid(
                    f"--{option.replace('_', '-')} takes ASSET=FILTER for an asset of the "
                    f"request, not {value!r}",
                    field=option,
                )
            chosen.setdefault(by_key[key], {})[option] = name
    return [m.ItemIn(listing_id, **options) for listing_id, options in chosen.items()]


@subscriptions.command("approve")
@handles_errors
def approve(
    request_id: Annotated[str, typer.Argument(help="Subscription request id")],
    row_filter: Annotated[
        list[str] | None, typer.Option(help="ASSET=FILTER: a row filter for one asset")
    ] = None,
    column_filter: Annotated[
        list[str] | None, typer.Option(help="ASSET=FILTER: a column filter for one asset")
    ] = None,
    comment: Annotated[str | None, typer.Option(help="Decision comment")] = None,
) -> None:
    """Approve a request (owners of the assets' project); assets without filters: full access.

    Example: lakehold subscription approve 3f2a... --row-filter store_sales=widget_a
    """
    client = connect()
    view = client.subscriptions.get(request_id)
    decided = client.subscriptions.approve(
        request_id, _decisions(view, row_filter or [], column_filter or []), comment=comment
    )
    for item in decided.items or []:
        limits = [f for f in (item.row_filter, item.column_filter) if f]
        console.print(
            f"granted {item.asset} to {decided.project}"
            + (f" with {', '.join(limits)}" if limits else " (full access)")
        )


@subscriptions.command("reject")
@handles_errors
def reject(
    request_id: Annotated[str, typer.Argument(help="Subscription request id")],
    comment: Annotated[str | None, typer.Option(help="Why")] = None,
) -> None:
    """Reject a request (owners of the assets' project).

    Example: lakehold subscription reject 3f2a... --comment "use the aggregated table"
    """
    decided = connect().subscriptions.reject(request_id, comment=comment)
    console.print(f"rejected request {decided.id}")


@grants.command("list")
@handles_errors
def list_grants(
    project: Annotated[
        str | None, typer.Option(help="Grants to this project or on its assets")
    ] = None,
    all: Annotated[bool, typer.Option("--all", help="Include revoked grants")] = False,
    json: JsonOpt = False,
) -> None:
    """List grants on your projects' assets and to your projects.

    Example: lakehold grant list --project analysts
    """
    found = connect().grants.list(project=project, include_revoked=all)
    if json:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        "grants",
        ["id", "asset", "project", "status", "row filter", "column filter"],
        [(g.id, g.asset, g.project, g.status, g.row_filter, g.column_filter) for g in found],
    )


def _filter_choice(name: str | None, remove: bool, option: str) -> str | UnsetType | None:
    """A filter name, None (``--no-<option>``) or UNSET: kept (neither given)."""
    if name is not None and remove:
        raise Invalid(f"give --{option} or --no-{option}, not both", field=option.replace("-", "_"))
    if remove:
        return None
    return UNSET if name is None else name


@grants.command("update")
@handles_errors
def update(
    grant_id: Annotated[str, typer.Argument(help="Grant id")],
    row_filter: Annotated[
        str | None, typer.Option("--row-filter", help="A row filter of the asset, by name")
    ] = None,
    no_row_filter: Annotated[
        bool, typer.Option("--no-row-filter", help="Remove the grant's row filter")
    ] = False,
    column_filter: Annotated[
        str | None, typer.Option("--column-filter", help="A column filter of the asset, by name")
    ] = None,
    no_column_filter: Annotated[
        bool, typer.Option("--no-column-filter", help="Remove the grant's column filter")
    ] = False,
) -> None:
    """Change a grant's filters in place (owners of the asset's project); the subscribing
    project reads through them from its next statement. Filters not named stay as they are.

    Example: lakehold grant update 9c1e... --row-filter widgets_2 --no-column-filter
    """
    row = _filter_choice(row_filter, no_row_filter, "row-filter")
    column = _filter_choice(column_filter, no_column_filter, "column-filter")
    if row is UNSET and column is UNSET:
        raise Invalid(
            "nothing to change: give --row-filter/--no-row-filter or "
            "--column-filter/--no-column-filter",
            field="row_filter",
        )
    changed = connect().grants.update(grant_id, row_filter=row, column_filter=column)
    limits = [f for f in (changed.row_filter, changed.column_filter) if f]
    console.print(
        f"{changed.asset} to {changed.project} now reads"
        + (f" with {', '.join(limits)}" if limits else " in full (no filters)")
    )


@grants.command("revoke")
@handles_errors
def revoke(grant_id: Annotated[str, typer.Argument(help="Grant id")]) -> None:
    """Revoke a grant (owners of the asset's project); effective at once.

    Example: lakehold grant revoke 9c1e...
    """
    ended = connect().grants.revoke(grant_id)
    console.print(f"revoked {ended.asset} from {ended.project}")


@grants.command("unsubscribe")
@handles_errors
def unsubscribe(grant_id: Annotated[str, typer.Argument(help="Grant id")]) -> None:
    """End a grant to your project (owners of the subscribing project).

    Example: lakehold grant unsubscribe 9c1e...
    """
    ended = connect().grants.unsubscribe(grant_id)
    console.print(f"unsubscribed {ended.project} from {ended.asset}")
