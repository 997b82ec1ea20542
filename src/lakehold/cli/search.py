"""``lakehold search``: find listings and assets of your projects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, cast

import msgspec
import typer
from rich.markup import escape

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import connect, console, handles_errors

if TYPE_CHECKING:
    from lakehold.client.catalog import SearchScope


@handles_errors
def search(
    q: Annotated[
        str, typer.Argument(help='Words, "quoted phrases" and prefixes (cust*); blank to browse')
    ] = "",
    project: Annotated[list[str] | None, typer.Option(help="Any of these projects")] = None,
    domain_unit: Annotated[
        list[str] | None, typer.Option(help="Any of these domain units (path), with sub-units")
    ] = None,
    asset_type: Annotated[list[str] | None, typer.Option(help="Any of these asset types")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Every one of these tags")] = None,
    glossary_term: Annotated[
        list[str] | None, typer.Option(help="Every one of these glossary terms")
    ] = None,
    scope: Annotated[str, typer.Option(help="listings, inventory or all")] = "all",
    limit: Annotated[int, typer.Option(help="Results per page (1-100)")] = 20,
    offset: Annotated[int, typer.Option(help="Results to skip")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    reindex: Annotated[
        bool, typer.Option("--reindex", help="Rebuild the search index (administrators)")
    ] = False,
) -> None:
    """Search active listings and your projects' assets, with facet counts.

    Example: lakehold search "customer email" --project retail --tag pii
    """
    service = connect().search
    if reindex:
        console.print(f"indexed {service.reindex()} documents")
        return
    found = service.find(
        q,
        project=project,
        domain_unit=domain_unit,
        asset_type=asset_type,
        tag=tag,
        glossary_term=glossary_term,
        scope=cast("SearchScope", scope),
        limit=limit,
        offset=offset,
    )
    if as_json:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        f"{found.total} found",
        ["kind", "name", "type", "domain unit", "score", "match"],
        [
            (
                hit.kind,
                hit.qualified_name,
                hit.asset_type,
                hit.domain_unit,
                f"{hit.score:.3f}" if hit.score is not None else "",
                escape(hit.snippet or hit.description or ""),
            )
            for hit in found.items or []
        ],
    )
    for name, counts in (found.facets or {}).items():
        if counts:
            listed = ", ".join(f"{c.value} ({c.count})" for c in counts)
            console.print(f"{name}: {escape(listed)}")
