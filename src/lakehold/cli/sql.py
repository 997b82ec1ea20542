"""``lakehold sql``: run a statement and print its result."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from lakehold.cli.output import print_values
from lakehold.cli.session import console, errors, handles_errors, open_runtime, principal_of

if TYPE_CHECKING:
    import pyarrow as pa

# Exit code of ``--format csv|json`` when the result was cut at LAKEHOLD_MAX_ROWS.
TRUNCATED_EXIT = 9
# Exit code when the reader of stdout went away, as for a process ended by SIGPIPE.
PIPE_CLOSED_EXIT = 141
# Rows converted and written at a time.
BATCH_ROWS = 10_000


@handles_errors
def sql(
    statement: Annotated[str, typer.Argument(help="One read statement")],
    format: Annotated[
        Literal["table", "csv", "json"],
        typer.Option(help="Output format: table (the first rows), csv or json (every row)"),
    ] = "table",
    project: Annotated[str | None, typer.Option(help="Project to act in")] = None,
    dialect: Annotated[str, typer.Option(help="duckdb, postgres, snowflake, ...")] = "duckdb",
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Row limit (table: default the server's sync limit; csv/json: every row, "
            "up to LAKEHOLD_MAX_ROWS)",
        ),
    ] = None,
) -> None:
    """Run a SQL statement over the tables you may read.

    Example: lakehold sql "select count(*) from insurance.policies" --format csv

    Time travel: select * from insurance.policies version as of 1

    --format csv and json write the whole result, up to LAKEHOLD_MAX_ROWS rows; a result cut
    at that limit is said on stderr and exits with code 9. Repeated column names are kept in
    order: in CSV and the table as they are, in JSON rows as keys a, a_1, a_2...
    """
    from lakehold.query.results import to_json_arrays

    runtime, _ = open_runtime()
    max_rows = runtime.settings.max_rows
    wanted = limit if format == "table" else (limit or max_rows)
    done = runtime.statements.execute(
        principal_of(runtime, project), statement, project=project, dialect=dialect, limit=wanted
    )
    table = done.table
    if format == "table":
        print_values(table.column_names, to_json_arrays(table))
        suffix = ""
        if done.truncated and limit is not None and limit <= max_rows:
            suffix = " (--limit reached; more rows exist)"
        elif done.truncated:
            suffix = " (truncated: more rows exist; use --limit, or --format csv for all)"
        console.print(f"{table.num_rows} rows{suffix}", style="dim")
        return
    try:
        if format == "csv":
            _write_csv(table)
        else:
            _write_json(table)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, like cat
        _silence_stdout()
        raise typer.Exit(PIPE_CLOSED_EXIT) from None
    if done.truncated and (limit is None or limit > max_rows):
        errors.print(
            f"[yellow]warning:[/yellow] the result was cut at {max_rows} rows "
            "(LAKEHOLD_MAX_ROWS); more rows exist"
        )
        raise typer.Exit(TRUNCATED_EXIT)


def _batches(table: pa.Table) -> list[pa.Table]:
    if table.num_rows == 0:
        return []
    return [table.slice(start, BATCH_ROWS) for start in range(0, table.num_rows, BATCH_ROWS)]


def _write_csv(table: pa.Table) -> None:
    """Header, then the rows a batch at a time."""
    from lakehold.query.results import to_csv_bytes

    out = sys.stdout.buffer
    out.write(to_csv_bytes(table.slice(0, 0)))
    for batch in _batches(table):
        out.write(to_csv_bytes(batch, header=False))
    out.flush()


def _write_json(table: pa.Table) -> None:
    """A JSON array of row objects, one a line, written a batch at a time. Repeated column
    names become unique keys (a, a_1, a_2...), said on stderr."""
    from lakehold.query.results import to_json_arrays, unique_keys

    names = table.column_names
    keys = unique_keys(names)
    renamed = [f"{n} -> {k}" for n, k in zip(names, keys, strict=True) if n != k]
    if renamed:
        errors.print(f"note: repeated column names keyed as {', '.join(renamed)}", markup=False)
    out = sys.stdout
    first = True
    out.write("[")
    for batch in _batches(table):
        for values in to_json_arrays(batch):
            row = dict(zip(keys, values, strict=True))
            out.write(("\n" if first else ",\n") + json.dumps(row, ensure_ascii=False))
            first = False
    out.write("\n]\n" if not first else "]\n")
    out.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing it at exit does not fail again."""
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)
