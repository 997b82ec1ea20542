"""Sharing commands: publish, unpublish, listing, filter, subscription and grant."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import (
    console,
    errors,
    handles_errors,
    open_runtime,
    principal_of,
    split_qualified,
)
from lakehold.errors import Invalid, NotFound

if TYPE_CHECKING:
    # the services are imported by the commands that run (see lakehold.cli.session)
    from lakehold.governance.grants import Keep
    from lakehold.governance.subscriptions import ItemDecision, SubscriptionRequestView
    from lakehold.runtime import Runtime
    from lakehold.security.principal import Principal

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
    runtime, _ = open_runtime()
    listing = runtime.listings.publish(principal_of(runtime), project, table, asset_version=version)
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
    runtime, _ = open_runtime()
    listing = runtime.listings.unpublish(principal_of(runtime), project, table)
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
    runtime, _ = open_runtime()
    found = runtime.listings.list_listings(principal_of(runtime), project=project, name=name)
    if json:
        print_json([asdict(listing) for listing in found])
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
                ", ".join(c.name for c in f.columns),
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
    runtime, _ = open_runtime()
    created = runtime.filters.create_filter(
        principal_of(runtime),
        project,
        table,
        name,
        kind="row" if row is not None else "column",
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
    runtime, _ = open_runtime()
    found = runtime.filters.list_filters(principal_of(runtime), project, table)
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
    runtime, _ = open_runtime()
    runtime.filters.update_filter(
        principal_of(runtime), project, table, name, expression=row, columns=column
    )
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
    runtime, _ = open_runtime()
    runtime.filters.delete_filter(principal_of(runtime), project, table, name)
    console.print(f"deleted filter {name} on {asset}")


def _listing_id(runtime: Runtime, principal: Principal, wanted: str) -> str:
    """A listing id given as an id or as the asset's project.table."""
    if "." not in wanted:
        return wanted
    project, _, table = wanted.partition(".")
    for listing in runtime.listings.list_listings(principal, project=project, name=table):
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
    runtime, _ = open_runtime()
    principal = principal_of(runtime)
    ids = [_listing_id(runtime, principal, wanted) for wanted in listing]
    form_values: dict[str, dict[str, str]] = {}
    for given in form or []:
        key, eq, value = given.partition("=")
        form_name, dot, field_name = key.partition(".")
        if not eq or not dot or not form_name.strip() or not field_name.strip():
            raise Invalid(f"'{given}' is not of the form form.Field=value", field="form")
        form_values.setdefault(form_name.strip(), {})[field_name.strip()] = value
    created = runtime.subscriptions.request(
        principal, project, ids, reason, form_values=form_values or None
    )
    console.print(f"requested {', '.join(i.asset for i in created.items)}: {created.id}")


def _print_requests(found: list[SubscriptionRequestView]) -> None:
    print_rows(
        "subscription requests",
        ["id", "status", "project", "requester", "assets", "reason"],
        [
            (r.id, r.status, r.project, r.requester, ", ".join(i.asset for i in r.items), r.reason)
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
    direction = "incoming" if incoming and not outgoing else None
    direction = "outgoing" if outgoing and not incoming else direction
    runtime, _ = open_runtime()
    found = runtime.subscriptions.list_requests(
        principal_of(runtime),
        direction=direction,  # type: ignore[arg-type]
        status=status,
    )
    if json:
        print_json([asdict(r) for r in found])
    else:
        _print_requests(found)


def _decisions(
    view: SubscriptionRequestView, row: list[str], column: list[str]
) -> list[ItemDecision]:
    from lakehold.governance.subscriptions import ItemDecision

    by_key = {}
    for item in view.items:
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
    return [ItemDecision(listing_id, **options) for listing_id, options in chosen.items()]


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
    runtime, _ = open_runtime()
    principal = principal_of(runtime)
    view = runtime.subscriptions.get_request(principal, request_id)
    decided = runtime.subscriptions.approve(
        principal,
        request_id,
        items=_decisions(view, row_filter or [], column_filter or []),
        comment=comment,
    )
    for item in decided.items:
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
    runtime, _ = open_runtime()
    decided = runtime.subscriptions.reject(principal_of(runtime), request_id, comment=comment)
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
    runtime, _ = open_runtime()
    found = runtime.grants.list_grants(principal_of(runtime), project=project, include_revoked=all)
    if json:
        print_json([asdict(g) for g in found])
        return
    print_rows(
        "grants",
        ["id", "asset", "project", "status", "row filter", "column filter"],
        [(g.id, g.asset, g.project, g.status, g.row_filter, g.column_filter) for g in found],
    )


def _filter_choice(name: str | None, remove: bool, option: str) -> str | Keep | None:
    """A filter name, None (``--no-<option>``) or KEEP (neither given)."""
    from lakehold.governance.grants import KEEP

    if name is not None and remove:
        raise Invalid(f"give --{option} or --no-{option}, not both", field=option.replace("-", "_"))
    if remove:
        return None
    return KEEP if name is None else name


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
    from lakehold.governance.grants import KEEP

    row = _filter_choice(row_filter, no_row_filter, "row-filter")
    column = _filter_choice(column_filter, no_column_filter, "column-filter")
    if row is KEEP and column is KEEP:
        raise Invalid(
            "nothing to change: give --row-filter/--no-row-filter or "
            "--column-filter/--no-column-filter",
            field="row_filter",
        )
    runtime, _ = open_runtime()
    changed = runtime.grants.change_filters(
        principal_of(runtime), grant_id, row_filter=row, column_filter=column
    )
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
    runtime, _ = open_runtime()
    ended = runtime.grants.revoke(principal_of(runtime), grant_id)
    console.print(f"revoked {ended.asset} from {ended.project}")


@grants.command("unsubscribe")
@handles_errors
def unsubscribe(grant_id: Annotated[str, typer.Argument(help="Grant id")]) -> None:
    """End a grant to your project (owners of the subscribing project).

    Example: lakehold grant unsubscribe 9c1e...
    """
    runtime, _ = open_runtime()
    ended = runtime.grants.unsubscribe(principal_of(runtime), grant_id)
    console.print(f"unsubscribed {ended.project} from {ended.asset}")
