"""SQL statements, in the style of the Redshift Data API, plus a synchronous query endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Header, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic_core import to_json

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.api.disconnects import run_while_connected
from lakehold.api.schemas import utc
from lakehold.governance.statement_engine import Engine
from lakehold.governance.statement_events import (
    StatementEvent,
    StatementEvents,
    stream,
    wait_for_change,
)
from lakehold.governance.statement_views import StatementView
from lakehold.observability import request_context
from lakehold.query.results import (
    column_metadata,
    to_arrow_ipc_stream,
    to_csv_bytes,
    to_json_arrays,
    to_json_rows,
)

if TYPE_CHECKING:
    from lakehold.query.cancel import CancelHandle
    from lakehold.runtime import Runtime
    from lakehold.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["statements"])

Format = Literal["json", "csv", "arrow"]
RowFormat = Literal["objects", "arrays"]
State = Literal["SUBMITTED", "STARTED", "FINISHED", "FAILED", "ABORTED"]
EVENT_STREAM = "text/event-stream"
HEARTBEAT_S = 15.0
"""A comment line on an idle event stream this often keeps proxies from closing it."""
ARROW_STREAM = "application/vnd.apache.arrow.stream"

FORMAT_HELP = (
    "json (columns and rows), csv (a header of the column names, repeated names kept in "
    "order) or arrow (an Arrow IPC stream; repeated field names kept)"
)
ROW_FORMAT_HELP = (
    "How JSON rows are shaped. objects (default): one object per row keyed by each column's "
    "`key` — its name, or `a_1`, `a_2`... where a name repeats (`select 1 as a, 2 as a`, a "
    "`select *` over a join). arrays: one array per row, values in the order of `columns`, "
    "as the Snowflake and Databricks SQL APIs return them."
)


class StatementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, description="One read statement, e.g. select * from p.t")
    project: str | None = Field(default=None, description="Project to act in; resolves bare names")
    dialect: str = Field(default="duckdb", description="SQL dialect; others are transpiled")
    timeout_seconds: float | None = Field(default=None, gt=0)
    engine: Engine | None = Field(
        default=None,
        description="duckdb (in process) or ray (DuckDB tasks on the Ray cluster of "
        "LAKEHOLD_RAY_ADDRESS); default: ray when the statement reads at least "
        "LAKEHOLD_RAY_THRESHOLD_BYTES and splits, else duckdb",
    )


class QueryIn(StatementIn):
    limit: int | None = Field(
        default=None, ge=1, le=1_000_000_000, description="Row limit (default: server's)"
    )


class ColumnMeta(BaseModel):
    name: str = Field(description="The column's name as the statement gave it; may repeat")
    key: str = Field(
        description="Unique among the columns: the name, or the name with a suffix `_1`, `_2`... "
        "where it repeats. The key of this column's value in rows as objects"
    )
    type: str = Field(description="SQL type, e.g. BIGINT, DECIMAL(18,2), VARCHAR")
    nullable: bool


class ResultOut(BaseModel):
    statement_id: str
    columns: list[ColumnMeta] = Field(description="Every column of the result, in order")
    row_format: RowFormat = Field(
        default="objects", description="Shape of `rows`: objects keyed by column key, or arrays"
    )
    rows: list[dict[str, Any] | list[Any]] = Field(
        description="Objects keyed by each column's `key` (row_format=objects), or arrays of "
        "values in column order (row_format=arrays). DECIMAL values are strings (exact), "
        "dates and times ISO 8601 strings, NULL is null"
    )
    total_rows: int
    offset: int
    next_offset: int | None = Field(description="Pass as offset for the next page; null at the end")
    truncated: bool = Field(description="The statement hit the max-rows limit")


def _render(
    table: pa.Table,
    fmt: Format,
    *,
    statement_id: str,
    total: int,
    offset: int,
    next_offset: int | None,
    truncated: bool,
    row_format: RowFormat = "objects",
) -> Response:
    """The page in ``fmt``, encoded here (in the caller's worker thread): the JSON body is
    ``ResultOut``'s shape built from values that are already JSON-safe
    (:mod:`lakehold.query.results`), so it skips a second validation of every row."""
    headers = {
        "X-Statement-Id": statement_id,
        "X-Total-Rows": str(total),
        "X-Truncated": str(truncated).lower(),
    }
    if next_offset is not None:
        headers["X-Next-Offset"] = str(next_offset)
    if fmt == "csv":
        return Response(to_csv_bytes(table), media_type="text/csv", headers=headers)
    if fmt == "arrow":
        return Response(to_arrow_ipc_stream(table), media_type=ARROW_STREAM, headers=headers)
    body = {
        "statement_id": statement_id,
        "columns": column_metadata(table.schema),
        "row_format": row_format,
        "rows": to_json_arrays(table) if row_format == "arrays" else to_json_rows(table),
        "total_rows": total,
        "offset": offset,
        "next_offset": next_offset,
        "truncated": truncated,
    }
    return Response(to_json(body), media_type="application/json", headers=headers)


@router.post("/statements", response_model=StatementView, status_code=status.HTTP_201_CREATED)
def submit(body: StatementIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Submit a statement to run in the background; poll it with GET /statements/{id}.

    Syntax errors (400, with the position) and unknown tables (404) are reported at once.
    """
    request_context.in_project(body.project)  # for the request's log lines
    return runtime.statements.submit(
        principal,
        body.sql,
        project=body.project,
        dialect=body.dialect,
        timeout_seconds=body.timeout_seconds,
        engine=body.engine,
    )


@router.get("/statements", response_model=list[StatementView])
def list_statements(
    runtime: RuntimeDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50
):
    """Your recent statements, newest first."""
    return runtime.statements.list_statements(principal, limit=limit)


_VIEW: TypeAdapter[StatementView] = TypeAdapter(StatementView)


def _sse(event: StatementEvent | None) -> bytes:
    if event is None:
        return b": keep-alive\n\n"
    data = _VIEW.dump_json(utc(event.view)).decode()  # times in UTC with a Z, as GET gives them
    return f"id: {event.id}\nevent: statement\ndata: {data}\n\n".encode()


async def _event_stream(
    events: StatementEvents, user_id: str, last_event_id: str | None
) -> AsyncIterator[bytes]:
    async for event in stream(events, user_id, last_event_id, HEARTBEAT_S):
        yield _sse(event)


@router.get(
    "/statements/events",
    response_class=StreamingResponse,
    responses={200: {"content": {EVENT_STREAM: {}}, "description": "An endless event stream"}},
)
async def statement_events(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    last_event_id: Annotated[
        str | None,
        Header(max_length=64, description="Resume after this event (its `id:`), if still kept"),
    ] = None,
):
    """Server-sent events: each state change of your statements, as it happens.

    One `event: statement` per change, its data the statement (as GET /statements/{id}
    answers it), its `id:` for resuming with `Last-Event-ID`. A comment line starts the stream
    once it listens, and keeps an idle stream open. Only the statements run by the server
    process that holds the stream are heard of.
    """
    events = runtime.statements.events
    return StreamingResponse(
        _event_stream(events, principal.user_id, last_event_id),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/statements/{statement_id}", response_model=StatementView)
async def describe(
    statement_id: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    wait_seconds: Annotated[
        float | None,
        Query(
            gt=0,
            le=60,
            description="Long-poll: answer once the state is none of `seen_status` (or the "
            "statement ends), at the latest after this many seconds",
        ),
    ] = None,
    seen_status: Annotated[
        list[State] | None,
        Query(
            description="With wait_seconds: the state you last saw (default: its state now); "
            "repeat it to wait out several, e.g. SUBMITTED and STARTED to wait for the end"
        ),
    ] = None,
):
    """Status, timings, row count and error of a statement; with `wait_seconds`, once its
    state changes."""
    read = partial(runtime.statements.describe, principal, statement_id)
    if wait_seconds is None:
        return await run_in_threadpool(read)
    events = runtime.statements.events
    return await wait_for_change(
        events, statement_id, read, seen=seen_status or (), wait_seconds=wait_seconds
    )


@router.get(
    "/statements/{statement_id}/result",
    response_model=ResultOut,
    responses={200: {"content": {"text/csv": {}, ARROW_STREAM: {}}}},
)
def result(
    statement_id: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 1000,
    format: Annotated[Format, Query(description=FORMAT_HELP)] = "json",
    row_format: Annotated[RowFormat, Query(description=ROW_FORMAT_HELP)] = "objects",
):
    """One page of a finished statement's result: JSON, CSV or Arrow IPC stream.

    Every column is returned, in order, also where names repeat: see `row_format`.
    """
    page = runtime.statements.result(principal, statement_id, offset=offset, limit=limit)
    return _render(
        page.table,
        format,
        statement_id=statement_id,
        total=page.total_rows,
        offset=offset,
        next_offset=page.next_offset,
        truncated=page.truncated,
        row_format=row_format,
    )


@router.post("/statements/{statement_id}/cancel", response_model=StatementView)
def cancel(statement_id: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Cancel a submitted or running statement."""
    return runtime.statements.cancel(principal, statement_id)


@router.post(
    "/query",
    response_model=ResultOut,
    responses={200: {"content": {"text/csv": {}, ARROW_STREAM: {}}}},
)
async def query(
    request: Request,
    body: QueryIn,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    format: Annotated[Format, Query(description=FORMAT_HELP)] = "json",
    row_format: Annotated[RowFormat, Query(description=ROW_FORMAT_HELP)] = "objects",
) -> Response:
    """Run a statement and wait for its result, up to a row limit.

    Every column is returned, in order, also where names repeat: see `row_format`. A client
    that disconnects before the answer cancels the statement (it ends ABORTED).
    """
    request_context.in_project(body.project)  # for the request's log lines
    # One worker thread runs the statement and encodes its page (the event loop stays free).
    work = partial(_run_query, runtime, principal, body, format, row_format)
    return await run_while_connected(request, work)


def _run_query(
    runtime: Runtime,
    principal: Principal,
    body: QueryIn,
    fmt: Format,
    row_format: RowFormat,
    cancel: CancelHandle,
) -> Response:
    done = runtime.statements.execute(
        principal,
        body.sql,
        project=body.project,
        dialect=body.dialect,
        limit=body.limit,
        timeout_seconds=body.timeout_seconds,
        engine=body.engine,
        cancel=cancel,
    )
    rows = done.table.num_rows
    return _render(
        done.table,
        fmt,
        statement_id=done.statement.id,
        total=rows,
        offset=0,
        next_offset=None,
        truncated=done.truncated,
        row_format=row_format,
    )
