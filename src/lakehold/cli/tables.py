"""``lakehold table``: create, write, inspect and maintain lakehouse tables."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import connect, console, errors, handles_errors, split_qualified

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from lakehold.client.models import HistoryEntry, WriteOut

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
EngineOpt = Annotated[
    Literal["duckdb", "ray"] | None,
    typer.Option(
        help="duckdb (in process) or ray (tasks on the server's Ray cluster); default: the "
        "cluster when the data reaches the server's threshold"
    ),
]


# An upload shows its progress at once from this size, else once it has taken a second.
PROGRESS_BYTES = 4 << 20
PROGRESS_AFTER_SECONDS = 1.0


class _UploadBar:
    """A transient progress bar of bytes sent, on stderr, shown once the upload is large or
    slow; after the last byte it waits with the server (which loads the file)."""

    def __init__(self, description: str, total: int) -> None:
        self.description = description
        self.total = total
        self.sent = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._closed = False

    def show(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        with self._lock:
            if self._bar is not None or self._closed:
                return
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeElapsedColumn(),
            )
            self._bar = Progress(*columns, console=errors, transient=True)
            self._task = self._bar.add_task(self.description, total=self.total)
            self._bar.start()
            self._update()

    def advance(self, size: int) -> None:
        self.sent += size
        if self._bar is None and (
            self.total >= PROGRESS_BYTES
            or time.monotonic() - self.started >= PROGRESS_AFTER_SECONDS
        ):
            self.show()
        with self._lock:
            self._update()

    def _update(self) -> None:
        if self._bar is None or self._task is None:
            return
        done = self.sent >= self.total
        suffix = " (sent; the server is loading it)" if done else ""
        self._bar.update(self._task, completed=self.sent, description=self.description + suffix)

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            if self._bar is not None:
                self._bar.stop()


@contextmanager
def upload_progress(description: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress callback for an upload of ``total`` bytes: a bar on stderr when it is
    larger than a few megabytes or takes over a second; nothing when stderr is not a terminal
    (stdout is never touched: scripts read it)."""
    if not errors.is_terminal:
        yield None
        return
    bar = _UploadBar(description, total)
    timer = threading.Timer(PROGRESS_AFTER_SECONDS, bar.show)
    timer.daemon = True
    timer.start()
    try:
        yield bar.advance
    finally:
        timer.cancel()
        bar.stop()


def _column_types(types: str | None) -> dict[str, str] | None:
    if not types:
        return None
    try:
        parsed = json.loads(types)
    except json.JSONDecodeError as error:
        errors.print(f"[red]error:[/red] --types is not valid JSON: {error.msg}")
        raise typer.Exit(2) from None
    return parsed  # its shape is checked by the server


def _report(outcome: WriteOut) -> None:
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
    if result.engine == "ray":
        console.print("  ran on the Ray cluster")
    if result.engine_note:
        console.print(f"  ran in process: {result.engine_note}")


@tables.command("create")
@handles_errors
def create(
    name: Annotated[str, typer.Argument(help="project.table")],
    file: FileArg,
    key: KeyOpt = None,
    format: FormatOpt = None,
    types: TypesOpt = None,
    description: Annotated[str | None, typer.Option()] = None,
    change_data_feed: Annotated[
        bool,
        typer.Option(
            "--change-data-feed",
            help="Record row changes (delta.enableChangeDataFeed): a Delta Sharing recipient "
            "reads them as the table's change data feed",
        ),
    ] = False,
) -> None:
    """Create a table from a file.

    Example: lakehold table create insurance.policies policies.csv --key policy_id
    Example: lakehold table create retail.store_sales sales.csv --key sale_id --change-data-feed
    """
    project, table = split_qualified(name)
    column_types = _column_types(types)
    client = connect()
    with upload_progress(f"{file.name} → {name}", file.stat().st_size) as progress:
        outcome = client.tables.create(
            project,
            table,
            file,
            keys=key,
            format=format,
            column_types=column_types,
            description=description,
            progress=progress,
            change_data_feed=change_data_feed,
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
    engine: EngineOpt = None,
) -> None:
    """Write a batch: append, overwrite, merge (upsert on keys) or cdc, with schema evolution.

    Example: lakehold table write insurance.policies cdc.csv --mode cdc --order-column seq
    Example: lakehold table write retail.orders changes.parquet --mode cdc --engine ray
    """
    project, table = split_qualified(name)
    column_types = _column_types(types)
    client = connect()
    with upload_progress(f"{file.name} → {name} ({mode})", file.stat().st_size) as progress:
        outcome = client.tables.write(
            project,
            table,
            file,
            mode=mode,  # type: ignore[arg-type]  # checked by the server
            keys=key,
            op_column=op_column,
            order_column=order_column,
            on_duplicate=on_duplicate,  # type: ignore[arg-type]  # checked by the server
            format=format,
            column_types=column_types,
            progress=progress,
            engine=engine,
        )
    _report(outcome)


@tables.command("list")
@handles_errors
def list_tables(project: str) -> None:
    """List the tables of a project.

    Example: lakehold table list insurance
    """
    assets = connect().tables.list(project)
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
    asset = connect().tables.get(project, table)
    columns = asset.columns if isinstance(asset.columns, list) else []
    if json_output:
        shown = msgspec.to_builtins(asset, builtin_types=(datetime,))
        print_json(shown | {"columns": msgspec.to_builtins(columns)})
        return
    console.print(
        f"[bold]{asset.qualified_name}[/bold] version {asset.current_version}, "
        f"{asset.row_count} rows, {asset.size_bytes} bytes, keys: {', '.join(asset.key_columns)}"
    )
    print_rows(
        None,
        ["#", "column", "type", "nullable"],
        [(c.ordinal, c.name, c.data_type, c.nullable) for c in columns],
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
    entries = connect().tables.history(project, table, limit=limit)
    print_rows(
        f"history of {name}",
        ["version", "time (UTC)", "operation", "by", "inserted", "updated", "deleted"],
        [
            (
                e.version,
                e.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                e.operation,
                e.committer,
                *(_metric(e, f"rows_{k}") for k in ("inserted", "updated", "deleted")),
            )
            for e in entries
        ],
    )


def _metric(entry: HistoryEntry, name: str) -> object:
    metrics = entry.metrics if isinstance(entry.metrics, dict) else {}
    return metrics.get(name, "")


@tables.command("restore")
@handles_errors
def restore(name: Annotated[str, typer.Argument(help="project.table")], version: int) -> None:
    """Restore a table to an earlier version.

    Example: lakehold table restore insurance.policies 1
    """
    project, table = split_qualified(name)
    _report(connect().tables.restore(project, table, version))


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
    plan = connect().tables.vacuum(
        project, table, retention_hours=retention_hours, dry_run=dry_run, force=force
    )
    files: list[str] = plan["files"]
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb} {len(files)} files")
    for file in files if dry_run else []:
        console.print(f"  {file}")


@tables.command("optimize")
@handles_errors
def optimize(
    name: Annotated[str, typer.Argument(help="project.table")], engine: EngineOpt = None
) -> None:
    """Compact small files into larger ones.

    Example: lakehold table optimize insurance.policies
    Example: lakehold table optimize retail.orders --engine ray
    """
    project, table = split_qualified(name)
    print_json(connect().tables.optimize(project, table, engine=engine))


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
    connect().tables.drop(project, table)
    console.print(f"dropped {name}")
