"""``lakehold sql``: run a statement and print its result."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer

from lakehold.cli.output import print_values
from lakehold.cli.session import connect, console, errors, handles_errors

if TYPE_CHECKING:
    from lakehold.client.models import ResultOut

# Exit code of ``--format csv|json`` when the result was cut at LAKEHOLD_MAX_ROWS.
TRUNCATED_EXIT = 9
# Exit code when the reader of stdout went away, as for a process ended by SIGPIPE.
PIPE_CLOSED_EXIT = 141


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
    engine: Annotated[
        Literal["duckdb", "ray"] | None,
        typer.Option(
            help="duckdb (in the server's process) or ray (DuckDB tasks on the Ray cluster of "
            "LAKEHOLD_RAY_ADDRESS); default: chosen by the data's size"
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
    from lakehold.client.statements import MAX_LIMIT

    statements = connect().statements
    if format == "table":  # the first rows: --limit, else the server's synchronous limit
        shown = statements.query_json(
            statement,
            project=project,
            dialect=dialect,
            limit=limit,
            row_format="arrays",
            engine=engine,
        )
        _print_table(shown, limit)
        return
    wanted = limit or MAX_LIMIT  # every row up to --limit, else up to the server's max rows
    try:
        if format == "csv":
            text = statements.query_csv(
                statement, project=project, dialect=dialect, limit=wanted, engine=engine
            )
            rows, truncated = text.rows, text.truncated
            sys.stdout.buffer.write(text.data)
            sys.stdout.buffer.flush()
        else:
            done = statements.query_json(
                statement, project=project, dialect=dialect, limit=wanted, engine=engine
            )
            rows, truncated = len(done.rows), done.truncated
            _write_json(done)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, like cat
        _silence_stdout()
        raise typer.Exit(PIPE_CLOSED_EXIT) from None
    if truncated and (limit is None or rows < limit):  # cut at the max rows, not at --limit
        errors.print(
            f"[yellow]warning:[/yellow] the result was cut at {rows} rows "
            "(LAKEHOLD_MAX_ROWS); more rows exist"
        )
        raise typer.Exit(TRUNCATED_EXIT)


def _print_table(done: ResultOut, limit: int | None) -> None:
    """The rows as a rich table, then their count and whether more exist."""
    arrays = cast("list[list[Any]]", done.rows)  # asked with row_format=arrays
    print_values([c.name for c in done.columns], arrays)
    rows = len(done.rows)
    suffix = ""
    if done.truncated and limit is not None and rows >= limit:
        suffix = " (--limit reached; more rows exist)"
    elif done.truncated:
        suffix = " (truncated: more rows exist; use --limit, or --format csv for all)"
    console.print(f"{rows} rows{suffix}", style="dim")


def _write_json(done: ResultOut) -> None:
    """A JSON array of row objects, one a line. Repeated column names are keyed uniquely
    (a, a_1, a_2...), said on stderr."""
    renamed = [f"{c.name} -> {c.key}" for c in done.columns if c.name != c.key]
    if renamed:
        errors.print(f"note: repeated column names keyed as {', '.join(renamed)}", markup=False)
    out = sys.stdout
    out.write("[")
    for index, row in enumerate(done.rows):
        out.write(("\n" if index == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
    out.write("\n]\n" if done.rows else "]\n")
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
