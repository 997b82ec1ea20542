"""``lakehold sync``: sync jobs copying a source table or query into a lakehouse table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer

from lakehold.cli.output import as_dict, print_json, print_records, print_rows
from lakehold.cli.session import connect, console, handles_errors, split_qualified

if TYPE_CHECKING:
    from lakehold.client.models import SyncRunView

sync = typer.Typer(
    help="Sync jobs: full or incremental copies of source tables.", no_args_is_help=True
)

JobArg = Annotated[str, typer.Argument(help="project.job")]
ColumnsOpt = Annotated[list[str] | None, typer.Option(help="Column name (repeat)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _report(run: SyncRunView) -> None:
    colour = "green" if run.status == "succeeded" else "red"
    console.print(
        f"run {run.id} [{colour}]{run.status}[/{colour}] in {run.duration_seconds or 0:.2f}s: "
        f"{run.rows_read} read, {run.rows_inserted} inserted, {run.rows_updated} updated, "
        f"{run.rows_deleted} deleted, {run.rows_rejected} rejected; "
        f"watermark {run.watermark_after or '-'}"
    )


@sync.command("create")
@handles_errors
def create(
    name: JobArg,
    connection: Annotated[str, typer.Option(help="A connection of the project")],
    target: Annotated[str, typer.Option(help="The lakehouse table to write")],
    table: Annotated[
        str | None,
        typer.Option(help="Source table: schema.table (delta_sharing: share.schema.table)"),
    ] = None,
    query: Annotated[str | None, typer.Option(help="Source query, in the source's SQL")] = None,
    mode: Annotated[
        Literal["full", "incremental"], typer.Option(help="full or incremental")
    ] = "incremental",
    watermark: Annotated[str | None, typer.Option(help="Watermark column")] = None,
    key: Annotated[
        list[str] | None, typer.Option("--key", "-k", help="Key column (repeat)")
    ] = None,
    delete_column: Annotated[
        str | None, typer.Option(help="Boolean column: true = deleted")
    ] = None,
    operation_column: Annotated[str | None, typer.Option(help="Column holding I, U or D")] = None,
    not_null: ColumnsOpt = None,
    schedule: Annotated[str | None, typer.Option(help="Cron expression (UTC)")] = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a sync job; the source is read (no rows) to check the columns.

    Example: lakehold sync create sales.accounts --connection crm --table public.account
    --target account --watermark last_modified --key id --delete-column is_deleted
    --schedule '*/15 * * * *'
    """
    project, job = split_qualified(name)
    view = connect().sync_jobs.create(
        project,
        job,
        connection=connection,
        target_table=target,
        source_table=table,
        source_query=query,
        mode=mode,
        watermark_column=watermark,
        key_columns=key,
        delete_column=delete_column,
        operation_column=operation_column,
        not_null_columns=not_null,
        schedule=schedule,
        description=description,
    )
    console.print(f"created sync job {view.project}.{view.name} -> {view.target_table}")


@sync.command("list")
@handles_errors
def list_jobs(project: str) -> None:
    """List the sync jobs of a project.

    Example: lakehold sync list sales
    """
    jobs = connect().sync_jobs.list(project)
    print_rows(
        f"sync jobs in {project}",
        ["name", "connection", "source", "target", "mode", "schedule", "watermark"],
        [
            (
                j.name,
                j.connection,
                j.source_table or "(query)",
                j.target_table,
                j.mode,
                j.schedule,
                j.last_watermark,
            )
            for j in jobs
        ],
    )


@sync.command("show")
@handles_errors
def show(name: JobArg, json_output: JsonOpt = False) -> None:
    """Show a sync job.

    Example: lakehold sync show sales.accounts --json
    """
    project, job = split_qualified(name)
    fields = as_dict(connect().sync_jobs.get(project, job))
    if json_output:
        print_json(fields)
        return
    for field, value in fields.items():
        console.print(f"[bold]{field}[/bold]: {'' if value is None else value}")


@sync.command("run")
@handles_errors
def run(name: JobArg) -> None:
    """Run a sync job now and wait for its run (exit code 8 when the source is down).

    Example: lakehold sync run sales.accounts
    """
    project, job = split_qualified(name)
    with console.status(f"syncing {name}"):
        view = connect().sync_jobs.run(project, job)
    _report(view)


@sync.command("runs")
@handles_errors
def runs(
    name: JobArg,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs")] = 20,
    json_output: JsonOpt = False,
) -> None:
    """Show a sync job's runs, newest first.

    Example: lakehold sync runs sales.accounts --limit 5
    """
    project, job = split_qualified(name)
    found = connect().sync_jobs.runs(project, job, limit=limit)
    print_records(
        found,
        json_output,
        f"runs of {name}",
        ["started", "status", "s", "read", "ins", "upd", "del", "rej", "watermark", "error"],
        lambda r: (
            r.started_at,
            r.status,
            r.duration_seconds,
            r.rows_read,
            r.rows_inserted,
            r.rows_updated,
            r.rows_deleted,
            r.rows_rejected,
            r.watermark_after,
            r.error,
        ),
    )


@sync.command("delete")
@handles_errors
def delete(name: JobArg) -> None:
    """Delete a sync job and its run history (the target table stays).

    Example: lakehold sync delete sales.accounts
    """
    project, job = split_qualified(name)
    connect().sync_jobs.delete(project, job)
    console.print(f"deleted sync job {name}")
