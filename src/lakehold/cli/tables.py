"""``lakehold table``: create, write, inspect and maintain lakehouse tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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

if TYPE_CHECKING:
    from lakehold.catalog.tables import DataSource, WriteOutcome

tables = typer.Typer(help="Lakehouse tables (Delta Lake).", no_args_is_help=True)

FileArg = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="CSV, Parquet, JSON lines or Arrow")
]
KeyOpt = Annotated[list[str] | None, typer.Option("--key", "-k", help="Key column (repeat)")]
FormatOpt = Annotated[
    str | None, typer.Option(help="csv, parquet, jsonl or arrow; default: from the suffix")
]
TypesOpt = Annotated[
    str | None, typer.Option("--types", help='Explicit column types, JSON: {"id": "BIGINT"}')
]


def _source(file: Path, fmt: str | None, types: str | None) -> DataSource:
    column_types = None
    if types:
        try:
            column_types = json.loads(types)
        except json.JSONDecodeError as error:
            errors.print(f"[red]error:[/red] --types is not valid JSON: {error.msg}")
            raise typer.Exit(2) from None
    from lakehold.catalog.tables import DataSource

    return DataSource(file, fmt=fmt, column_types=column_types)


@contextmanager
def _busy(description: str) -> Iterator[None]:
    """A transient spinner and the elapsed time on stderr while a file loads; nothing when
    stderr is not a terminal, and stdout is never touched (scripts read it)."""
    if not errors.is_terminal:
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as bar:
        bar.add_task(description, total=None)
        yield


def _report(outcome: WriteOutcome) -> None:
    result, asset = outcome.result, outcome.asset
    if result.no_op:
        console.print(
            f"{asset.qualified_name} version {result.version} unchanged: {result.message}"
        )
        return
    console.print(
        f"{asset.qualified_name} version {result.version} ({result.operation}): "
        f"{result.rows_inserted} inserted, {result.rows_updated} updated, "
        f"{result.rows_deleted} deleted; {asset.row_count} rows"
    )
    if result.duplicates_collapsed:
        console.print(
            f"  {result.duplicates_collapsed} duplicate key rows collapsed (the last row of "
            "each key won; --on-duplicate error refuses such a batch)"
        )
    for change in result.schema_changes:
        console.print(f"  schema: {change}")


@tables.command("create")
@handles_errors
def create(
    name: Annotated[str, typer.Argument(help="project.table")],
    file: FileArg,
    key: KeyOpt = None,
    format: FormatOpt = None,
    types: TypesOpt = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a table from a file.

    Example: lakehold table create insurance.policies policies.csv --key policy_id
    """
    project, table = split_qualified(name)
    runtime, _ = open_runtime()
    source = _source(file, format, types)
    with _busy(f"loading {file.name} into {name}"):
        outcome = runtime.table_service.create_table(
            principal_of(runtime),
            project,
            table,
            source,
            keys=key,
            description=description,
        )
    _report(outcome)


@tables.command("write")
@handles_errors
def write(
    name: Annotated[str, typer.Argument(help="project.table")],
    file: FileArg,
    mode: Annotated[str, typer.Option(help="append, overwrite, merge or cdc")] = "append",
    key: KeyOpt = None,
    op_column: Annotated[str, typer.Option(help="CDC operation column (I/U/D)")] = "op",
    order_column: Annotated[
        str | None, typer.Option(help="CDC: orders changes to one key within the batch")
    ] = None,
    format: FormatOpt = None,
    types: TypesOpt = None,
    on_duplicate: Annotated[
        str,
        typer.Option(
            help="merge/cdc: a key twice in the batch keeps its last row (last) or refuses "
            "the batch (error)"
        ),
    ] = "last",
) -> None:
    """Write a batch: append, overwrite, merge (upsert on keys) or cdc, with schema evolution.

    Example: lakehold table write insurance.policies cdc.csv --mode cdc --order-column seq
    """
    project, table = split_qualified(name)
    runtime, _ = open_runtime()
    source = _source(file, format, types)
    with _busy(f"writing {file.name} to {name} ({mode})"):
        outcome = runtime.table_service.write(
            principal_of(runtime),
            project,
            table,
            source,
            mode=mode,
            keys=key,
            op_column=op_column,
            order_column=order_column,
            on_duplicate=on_duplicate,  # checked by the engine
        )
    _report(outcome)


@tables.command("list")
@handles_errors
def list_tables(project: str) -> None:
    """List the tables of a project.

    Example: lakehold table list insurance
    """
    runtime, _ = open_runtime()
    assets = runtime.catalog.list_assets(principal_of(runtime), project)
    print_rows(
        f"tables in {project}",
        ["name", "rows", "bytes", "version", "keys", "updated"],
        [
            (
                a.name,
                a.row_count,
                a.size_bytes,
                a.current_version,
                ",".join(a.key_columns),
                a.updated_at,
            )
            for a in assets
        ],
    )


@tables.command("show")
@handles_errors
def show(
    name: Annotated[str, typer.Argument(help="project.table")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show a table's columns and metadata.

    Example: lakehold table show insurance.policies
    """
    project, table = split_qualified(name)
    runtime, _ = open_runtime()
    asset = runtime.catalog.get_asset(principal_of(runtime), project, table)
    if json_output:
        print_json(asset.__dict__ | {"columns": [c.__dict__ for c in asset.columns]})
        return
    console.print(
        f"[bold]{asset.qualified_name}[/bold] version {asset.current_version}, "
        f"{asset.row_count} rows, {asset.size_bytes} bytes, keys: {', '.join(asset.key_columns)}"
    )
    print_rows(
        None,
        ["#", "column", "type", "nullable"],
        [(c.ordinal, c.name, c.data_type, c.nullable) for c in asset.columns],
    )


@tables.command("history")
@handles_errors
def history(
    name: Annotated[str, typer.Argument(help="project.table")],
    limit: Annotated[int | None, typer.Option(help="At most this many versions")] = None,
) -> None:
    """List versions with operation, time, committer and metrics.

    Example: lakehold table history insurance.policies --limit 5
    """
    project, table = split_qualified(name)
    runtime, _ = open_runtime()
    entries = runtime.table_service.history(principal_of(runtime), project, table, limit)
    print_rows(
        f"history of {name}",
        ["version", "time (UTC)", "operation", "by", "inserted", "updated", "deleted"],
        [
            (
                e.version,
                e.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                e.operation,
                e.committer,
                *(e.metrics.get(f"rows_{k}", "") for k in ("inserted", "updated", "deleted")),
            )
            for e in entries
        ],
    )


@tables.command("restore")
@handles_errors
def restore(name: Annotated[str, typer.Argument(help="project.table")], version: int) -> None:
    """Restore a table to an earlier version.

    Example: lakehold table restore insurance.policies 1
    """
    project, table = split_qualified(name)
    runtime, _ = open_runtime()
    _report(runtime.table_service.restore(principal_of(runtime), project, table, version))


@tables.command("vacuum")
@handles_errors
def vacuum(
    name: Annotated[str, typer.Argument(help="project.table")],
    retention_hours: Annotated[int, typer.Option(help="Keep files newer than this")] = 168,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, do not delete")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Administrators: allow a retention below 168 hours")
    ] = False,
) -> None:
    """Delete data files that no version within the retention period needs.

    A retention below 168 hours needs --force (administrators only); a dry run lists what
    would go. Example: lakehold table vacuum insurance.policies --retention-hours 0 --dry-run
    """
    project, table = split_qualified(name)
    runtime, _ = open_runtime()
    plan = runtime.table_service.vacuum(
        principal_of(runtime),
        project,
        table,
        retention_hours=retention_hours,
        dry_run=dry_run,
        force=force,
    )
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb} {len(plan.files)} files")
    for file in plan.files if dry_run else []:
        console.print(f"  {file}")


@tables.command("optimize")
@handles_errors
def optimize(name: Annotated[str, typer.Argument(help="project.table")]) -> None:
    """Compact small files into larger ones.

    Example: lakehold table optimize insurance.policies
    """
    project, table = split_qualified(name)
    runtime, _ = open_runtime()
    print_json(runtime.table_service.optimize(principal_of(runtime), project, table))


@tables.command("drop")
@handles_errors
def drop(
    name: Annotated[str, typer.Argument(help="project.table")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False,
) -> None:
    """Drop a table and its data.

    Example: lakehold table drop scratch.tmp --yes
    """
    project, table = split_qualified(name)
    if not yes:
        typer.confirm(f"drop {name} and its data?", abort=True)
    runtime, _ = open_runtime()
    runtime.table_service.drop_table(principal_of(runtime), project, table)
    console.print(f"dropped {name}")
