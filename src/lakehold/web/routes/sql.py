"""``/sql``: the SQL editor. A statement runs asynchronously through ``runtime.statements`` as
the signed-in principal; its status fragment polls itself every 500 ms until it ends, then
shows a page of the result, downloads (:mod:`.sql_downloads`) and a quick chart
(:mod:`.sql_chart`). Every read of a statement goes through the service, so another user's
statement is "not found"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from lakehold.errors import Conflict, LakeholdError
from lakehold.governance.statement_views import StatementView
from lakehold.query.results import column_metadata, to_json_arrays
from lakehold.security.principal import Principal
from lakehold.web.routes import sql_chart, sql_downloads
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

PAGE_ROWS = 100
"""Rows of the result grid per page."""
FINAL = frozenset({"FINISHED", "FAILED", "ABORTED"})
DEFAULT_DIALECT = "duckdb"

FormText = Annotated[str, Form()]


@cache
def dialects() -> tuple[str, ...]:
    """The SQL dialects statements accept (every dialect sqlglot reads; DuckDB first)."""
    from sqlglot.dialects.dialect import Dialects  # loaded with the page, not the app

    names = sorted(d.value for d in Dialects if d.value and d.value != DEFAULT_DIALECT)
    return (DEFAULT_DIALECT, *names)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _statements(request: Request) -> Any:
    return request.app.state.runtime.statements


# -- the page -------------------------------------------------------------------------------


def _page(
    request: Request,
    principal: Principal,
    *,
    sql: str = "",
    project: str | None = None,
    dialect: str = DEFAULT_DIALECT,
    statement: Mapping[str, Any] | None = None,
    error: LakeholdError | None = None,
    status_code: int = 200,
) -> Response:
    projects = [p.name for p in request.app.state.runtime.catalog.list_projects(principal)]
    context = {
        "sql": sql,
        "projects": projects,
        "project": project if project is not None else (principal.project or ""),
        "dialects": dialects(),
        "dialect": dialect,
        "statement": statement,
        "error": _error(error) if error is not None else None,
    }
    return render(request, "sql.html", context, status_code=status_code)


@router.get("/sql")
def sql_page(
    request: Request,
    principal: PagePrincipal,
    sql: str = "",
    project: str | None = None,
    dialect: str = DEFAULT_DIALECT,
) -> Response:
    """The editor: a query, its acting project and dialect."""
    return _page(request, principal, sql=sql, project=project, dialect=dialect)


@router.post("/sql/statements")
def submit(
    request: Request,
    principal: PagePrincipal,
    sql: FormText = "",
    project: FormText = "",
    dialect: FormText = DEFAULT_DIALECT,
) -> Response:
    """Submit the query as an asynchronous statement; its status fragment (htmx) or page."""
    try:
        view = _statements(request).submit(
            principal, sql, project=project or None, dialect=dialect or DEFAULT_DIALECT
        )
    except LakeholdError as error:
        if _htmx(request):
            return _error_fragment(request, error)
        return _page(
            request,
            principal,
            sql=sql,
            project=project,
            dialect=dialect,
            error=error,
            status_code=error.status_code,
        )
    where = f"/sql/statements/{view.id}"
    if not _htmx(request):
        return RedirectResponse(where, status_code=303)
    response = _statement_fragment(request, principal, view)
    response.headers["HX-Push-Url"] = where
    return response


# -- one statement --------------------------------------------------------------------------


@router.get("/sql/statements/{statement_id}")
def statement(
    request: Request,
    statement_id: str,
    principal: PagePrincipal,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
) -> Response:
    """A statement's status (and when finished, a page of its result): the fragment that
    polls itself while the statement runs (htmx), or the editor page showing it."""
    try:
        view = _statements(request).describe(principal, statement_id)
    except LakeholdError as error:
        if _htmx(request):
            return _error_fragment(request, error)
        return _page(request, principal, error=error, status_code=error.status_code)
    if _htmx(request):
        return _statement_fragment(request, principal, view, offset)
    shown = _statement_context(request, principal, view, offset)
    return _page(
        request,
        principal,
        sql=view.sql,
        project=view.project or "",
        dialect=view.dialect,
        statement=shown,
    )


@router.get("/sql/statements/{statement_id}/result")
def result_page(
    request: Request,
    statement_id: str,
    principal: PagePrincipal,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
) -> Response:
    """One page of the result grid (a fragment)."""
    try:
        grid = _grid(request, principal, statement_id, offset)
    except LakeholdError as error:
        return _error_fragment(request, error)
    return render(request, "sql/_result.html", {"grid": grid})


@router.post("/sql/statements/{statement_id}/cancel")
def cancel(request: Request, statement_id: str, principal: PagePrincipal) -> Response:
    """Cancel a running statement; one that ended meanwhile is shown as it ended."""
    service = _statements(request)
    try:
        try:
            view = service.cancel(principal, statement_id)
        except Conflict:
            view = service.describe(principal, statement_id)
    except LakeholdError as error:
        return _error_fragment(request, error)
    if not _htmx(request):
        return RedirectResponse(f"/sql/statements/{statement_id}", status_code=303)
    return _statement_fragment(request, principal, view)


@router.get("/sql/statements/{statement_id}/download/{fmt}")
def download(
    request: Request,
    statement_id: str,
    fmt: Literal["csv", "parquet", "arrow"],
    principal: PagePrincipal,
) -> Response:
    """The whole result as a file, streamed page by page as the principal reads it."""
    try:
        body = sql_downloads.stream(_statements(request), principal, statement_id, fmt)
    except LakeholdError as error:
        return _error_fragment(request, error)
    filename = f"statement-{statement_id}.{sql_downloads.EXTENSIONS[fmt]}"
    return StreamingResponse(
        body,
        media_type=sql_downloads.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/sql/statements/{statement_id}/chart")
def chart(
    request: Request,
    statement_id: str,
    principal: PagePrincipal,
    x: Annotated[int, Query(ge=0)] = 0,
    y: Annotated[list[int] | None, Query()] = None,
) -> Response:
    """The chart's data (JSON): the x column and the y columns (by position) of the first
    rows of the result."""
    try:
        page = _statements(request).result(
            principal, statement_id, offset=0, limit=sql_chart.CHART_ROWS
        )
        data = sql_chart.series(page.table, x, y or [], total_rows=page.total_rows)
    except LakeholdError as error:
        return JSONResponse(error.to_dict(), status_code=error.status_code)
    return JSONResponse(data)


# -- fragments ------------------------------------------------------------------------------


def _statement_fragment(
    request: Request, principal: Principal, view: StatementView, offset: int = 0
) -> Response:
    try:
        shown = _statement_context(request, principal, view, offset)
    except LakeholdError as error:
        return _error_fragment(request, error)
    return render(request, "sql/_statement.html", {"statement": shown})


def _statement_context(
    request: Request, principal: Principal, view: StatementView, offset: int
) -> dict[str, Any]:
    """What the status fragment shows; a finished statement's page of rows included."""
    grid = None
    if view.status == "FINISHED":
        grid = _grid(request, principal, view.id, offset)
    return {
        "id": view.id,
        "status": view.status,
        "running": view.status not in FINAL,
        "elapsed": _elapsed(view),
        "error": view.error,
        "grid": grid,
    }


def _elapsed(view: StatementView) -> str:
    if view.duration_ms is not None:
        return f"{view.duration_ms / 1000:.1f} s"
    since = view.started_at or view.created_at
    started = since if since.tzinfo else since.replace(tzinfo=UTC)
    return f"{max((datetime.now(UTC) - started).total_seconds(), 0.0):.1f} s"


def _grid(request: Request, principal: Principal, statement_id: str, offset: int) -> dict[str, Any]:
    """A page of the result as the grid shows it: every column (repeated names too), each
    cell its text or None for NULL."""
    page = _statements(request).result(principal, statement_id, offset=offset, limit=PAGE_ROWS)
    columns = column_metadata(page.table.schema)
    for column, field in zip(columns, page.table.schema, strict=True):
        column["numeric"] = sql_chart.numeric(field.type)
    rows = [[_cell(value) for value in row] for row in to_json_arrays(page.table)]
    return {
        "statement_id": statement_id,
        "columns": columns,
        "chartable": [i for i, c in enumerate(columns) if c["numeric"]],
        "rows": rows,
        "offset": offset,
        "first": offset + 1 if rows else offset,
        "last": offset + len(rows),
        "total": page.total_rows,
        "truncated": page.truncated,
        "previous": max(offset - PAGE_ROWS, 0) if offset > 0 else None,
        "next": page.next_offset,
    }


def _cell(value: Any) -> str | None:
    """A JSON-safe value as the grid's text; None stays None (NULL, shown as a badge)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _error(error: LakeholdError) -> dict[str, Any]:
    details = error.details
    return {
        "message": error.message,
        "field": details.get("field"),
        "line": details.get("line"),
        "column": details.get("column"),
        "status": error.status_code,
    }


def _error_fragment(request: Request, error: LakeholdError) -> Response:
    """The service's message (with line and column when given), with its 4xx status."""
    return render(
        request, "sql/_error.html", {"error": _error(error)}, status_code=error.status_code
    )
