"""``lakehold sql``: run a statement and print its result."""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import console, handles_errors, open_runtime, principal_of
from lakehold.query.results import to_csv_bytes, to_json_rows


@handles_errors
def sql(
    statement: Annotated[str, typer.Argument(help="One read statement")],
    format: Annotated[
        Literal["table", "csv", "json"], typer.Option(help="Output format")
    ] = "table",
    project: Annotated[str | None, typer.Option(help="Project to act in")] = None,
    dialect: Annotated[str, typer.Option(help="duckdb, postgres, snowflake, ...")] = "duckdb",
    limit: Annotated[int | None, typer.Option(help="Row limit")] = None,
) -> None:
    """Run a SQL statement over the tables you may read.

    Example: lakehold sql "select count(*) from insurance.policies" --format csv
    Time travel: select * from insurance.policies version as of 1
    """
    runtime, _ = open_runtime()
    done = runtime.statements.execute(
        principal_of(runtime, project), statement, project=project, dialect=dialect, limit=limit
    )
    table = done.table
    if format == "csv":
        sys.stdout.buffer.write(to_csv_bytes(table))
    elif format == "json":
        print_json(to_json_rows(table))
    else:
        print_rows(None, table.column_names, (r.values() for r in table.to_pylist()))
        suffix = " (truncated)" if done.truncated else ""
        console.print(f"{table.num_rows} rows{suffix}", style="dim")
