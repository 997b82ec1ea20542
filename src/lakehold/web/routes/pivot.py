"""``/pivot``: a pivot table over a table or a query, levels loaded as they are opened.

Every query is a governed statement run through ``runtime.statements`` as the signed-in
principal, so a subscriber's pivot aggregates only their granted rows and columns. The source's
columns are read once (a ``LIMIT 0`` statement, kept a minute per user and source) and every
field chosen in the page is checked against them (:mod:`lakehold.web.pivot_sql`). Building the
pivot runs one statement (the top level with its totals); expanding a member runs one more (its
children, with their row totals), inserted under it through htmx.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from lakehold.errors import Invalid, LakeholdError
from lakehold.security.principal import Principal
from lakehold.web import pivot_sql
from lakehold.web.pivot_sql import AGGREGATES, ColumnKey, Level, Member, Pivot
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

RESULT_ROWS = 50_000
"""Result rows one level may read; members past it are not shown (the page says so)."""
COLUMNS_TTL_S = 60.0
"""How long a source's columns are kept for one user (the statements still check access)."""

Kind = Literal["table", "query"]
FormText = Annotated[str, Form()]
FormList = Annotated[list[str], Form()]


@dataclass
class Choice:
    """What the form chose: the source and the fields (not checked yet)."""

    kind: Kind = "table"
    table: str = ""
    query: str = ""
    project: str = ""
    rows: list[str] = field(default_factory=list)
    cols: list[str] = field(default_factory=list)
    agg: str = "sum"
    measure: str = ""

    @property
    def source_field(self) -> str:
        return self.kind

    def source(self) -> str:
        return pivot_sql.source_sql(self.kind, self.table if self.kind == "table" else self.query)


def _choice(
    kind: str, table: str, query: str, project: str, rows: list[str], cols: list[str], agg: str,
    measure: str,
) -> Choice:  # fmt: skip
    checked: Kind = "query" if kind == "query" else "table"
    return Choice(checked, table.strip(), query, project, rows, cols, agg, measure)


class _Columns:
    """The columns of each source, per user and acting project, for a short while."""

    def __init__(self, size: int = 256) -> None:
        self._kept: OrderedDict[tuple[str, str, str], tuple[float, dict[str, pa.DataType]]]
        self._kept = OrderedDict()
        self._size = size

    def get(self, request: Request, principal: Principal, choice: Choice) -> dict[str, pa.DataType]:
        source = choice.source()
        key = (principal.user_id, choice.project, source)
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        schema = _run(request, principal, choice, pivot_sql.probe_sql(source), 1).schema
        columns = {f.name: f.type for f in schema}
        self._kept[key] = (now + COLUMNS_TTL_S, columns)
        self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return columns


COLUMNS = _Columns()


def _run(request: Request, principal: Principal, choice: Choice, sql: str, limit: int) -> pa.Table:
    """One governed statement as ``principal``; its errors name the source's field."""
    statements = request.app.state.runtime.statements
    try:
        return statements.execute(principal, sql, project=choice.project or None, limit=limit).table
    except LakeholdError as error:
        if error.details.get("field") in (None, "sql"):
            error.details["field"] = choice.source_field
        raise


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# -- routes -------------------------------------------------------------------------------------


@router.get("/pivot")
def pivot_page(request: Request, principal: PagePrincipal) -> Response:
    """The form: a source, then its fields."""
    return _page(request, principal, Choice())


@router.post("/pivot/fields")
def fields(
    request: Request,
    principal: PagePrincipal,
    kind: FormText = "table",
    table: FormText = "",
    query: FormText = "",
    project: FormText = "",
) -> Response:
    """Read the source's columns and offer them as fields."""
    choice = _choice(kind, table, query, project, [], [], "sum", "")
    try:
        columns = COLUMNS.get(request, principal, choice)
    except LakeholdError as error:
        return _refused(request, principal, choice, error)
    if _htmx(request):
        return render(request, "pivot/_fields.html", _fields_context(choice, list(columns)))
    return _page(request, principal, choice, columns=list(columns))


@router.post("/pivot")
def build(
    request: Request,
    principal: PagePrincipal,
    kind: FormText = "table",
    table: FormText = "",
    query: FormText = "",
    project: FormText = "",
    rows: FormList = [],  # noqa: B006 - FastAPI copies defaults
    cols: FormList = [],  # noqa: B006
    agg: FormText = "sum",
    measure: FormText = "",
) -> Response:
    """The top level of the pivot, with its totals: one statement."""
    choice = _choice(kind, table, query, project, rows, cols, agg, measure)
    columns: list[str] = []
    try:
        known = COLUMNS.get(request, principal, choice)
        columns = list(known)
        pivot = pivot_sql.check(known, choice.source(), rows, cols, agg, measure)
        table, truncated = _level(request, principal, choice, pivot, [])
        level = pivot_sql.read_level(table, pivot)
    except LakeholdError as error:
        return _refused(request, principal, choice, error, columns)
    result = _result_context(choice, pivot, level, truncated)
    if _htmx(request):
        return render(request, "pivot/_result.html", {"result": result})
    return _page(request, principal, choice, columns=columns, result=result)


@router.post("/pivot/expand")
def expand(
    request: Request,
    principal: PagePrincipal,
    kind: FormText = "table",
    table: FormText = "",
    query: FormText = "",
    project: FormText = "",
    rows: FormList = [],  # noqa: B006
    cols: FormList = [],  # noqa: B006
    agg: FormText = "sum",
    measure: FormText = "",
    path: FormText = "[]",
    columns: FormText = "[]",
) -> Response:
    """The children of one member (rows under it): one statement."""
    choice = _choice(kind, table, query, project, rows, cols, agg, measure)
    keys: list[ColumnKey] = []
    members: list[Member] = []
    try:
        members = _members(path)
        keys = _column_keys(columns, len([c for c in cols if c]))
        known = COLUMNS.get(request, principal, choice)
        pivot = pivot_sql.check(known, choice.source(), rows, cols, agg, measure)
        table, truncated = _level(request, principal, choice, pivot, members)
        level = pivot_sql.read_level(table, pivot, keys)
    except LakeholdError as error:
        context = {"error": _error(error), "width": 2 + len(keys)}
        context["depth"] = max(len(members), 1)
        return render(request, "pivot/_expand_error.html", context, status_code=error.status_code)
    shown = _rows(pivot, level, members)
    context = {"rows": shown, "truncated": truncated, "width": 2 + len(keys), "depth": len(members)}
    return render(request, "pivot/_rows.html", context)


# -- running a level ----------------------------------------------------------------------------


def _level(
    request: Request, principal: Principal, choice: Choice, pivot: Pivot, path: Sequence[Member]
) -> tuple[pa.Table, bool]:
    """A level's rows, and whether members past the row limit were left out."""
    table = _run(request, principal, choice, pivot.level_sql(path), RESULT_ROWS + 1)
    if table.num_rows <= RESULT_ROWS:
        return table, False
    # Past the limit: only member rows (totals come last), the last member's possibly cut.
    members = table.filter(pc.equal(table.column("g_row"), 0))
    keys = members.column("k_row").slice(0, RESULT_ROWS).to_pylist()
    cut = keys.count(keys[-1])
    return members.slice(0, len(keys) - cut), True


def _members(text: str) -> list[Member]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(m is None or isinstance(m, str) for m in value):
        raise Invalid("the path must be a JSON list of members (text or null)", field="path")
    return value


def _column_keys(text: str, width: int) -> list[ColumnKey]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    good = isinstance(value, list) and len(value) <= pivot_sql.MAX_COLUMNS
    keys = value if good else []
    if not good or not all(
        isinstance(k, list) and len(k) == width and all(m is None or isinstance(m, str) for m in k)
        for k in keys
    ):
        raise Invalid("the columns must be a JSON list of column keys", field="columns")
    return [tuple(k) for k in keys]


# -- what the templates show --------------------------------------------------------------------


def _result_context(choice: Choice, pivot: Pivot, level: Level, truncated: bool) -> dict[str, Any]:
    totals = level.totals
    return {
        "choice": choice,
        "pivot": pivot,
        "value_label": _value_label(pivot),
        "columns": [list(k) for k in level.columns],
        "columns_json": json.dumps([list(k) for k in level.columns]),
        "rows": _rows(pivot, level, []),
        "totals": {"cells": totals.cells, "total": totals.total} if totals else None,
        "truncated": truncated,
    }


def _rows(pivot: Pivot, level: Level, path: Sequence[Member]) -> list[dict[str, Any]]:
    depth = len(path)
    expandable = depth + 1 < len(pivot.rows)
    return [
        {
            "member": row.member,
            "depth": depth,
            "path": json.dumps([*path, row.member]) if expandable else "",
            "expandable": expandable,
            "cells": row.cells if pivot.cols else [],
            "total": row.total,
        }
        for row in level.rows
    ]


def _value_label(pivot: Pivot) -> str:
    if pivot.measure == pivot_sql.COUNT_ROWS:
        return "count of rows"
    return f"{pivot.agg} of {pivot.measure}"


def _fields_context(choice: Choice, columns: list[str]) -> dict[str, Any]:
    return {
        "choice": choice,
        "columns": columns,
        "aggregates": AGGREGATES,
        "row_slots": pivot_sql.MAX_ROW_FIELDS,
        "col_slots": pivot_sql.MAX_COLUMN_FIELDS,
        "errors": {},
    }


def _error(error: LakeholdError) -> dict[str, Any]:
    return {
        "message": error.message,
        "field": error.details.get("field"),
        "status": error.status_code,
    }


def _sources(request: Request, principal: Principal) -> tuple[list[str], list[str]]:
    """The projects the principal may act in and the tables offered as sources: their own
    projects' tables and those granted to their projects."""
    runtime = request.app.state.runtime
    projects = [p.name for p in runtime.catalog.list_projects(principal)]
    tables: set[str] = set()
    for project in projects:
        try:
            tables.update(a.qualified_name for a in runtime.catalog.list_assets(principal, project))
        except LakeholdError:
            continue
    try:
        grants = runtime.grants.list_grants(principal)
    except LakeholdError:
        grants = []
    tables.update(g.asset for g in grants if g.status == "active")
    return projects, sorted(tables)


def _page(
    request: Request,
    principal: Principal,
    choice: Choice,
    *,
    columns: list[str] | None = None,
    result: Mapping[str, Any] | None = None,
    error: LakeholdError | None = None,
) -> Response:
    projects, tables = _sources(request, principal)
    fields = _fields_context(choice, columns or [])
    shown = _error(error) if error is not None else None
    if shown is not None and shown["field"]:
        fields["errors"] = {shown["field"]: shown["message"]}
    context = {
        **fields,
        "projects": projects,
        "tables": tables,
        "result": result,
        "error": shown,
    }
    status = error.status_code if error is not None else 200
    return render(request, "pivot.html", context, status_code=status)


def _refused(
    request: Request,
    principal: Principal,
    choice: Choice,
    error: LakeholdError,
    columns: list[str] | None = None,
) -> Response:
    """The service's or the check's message, next to the field it names."""
    if _htmx(request):
        context = {"error": _error(error)}
        return render(request, "pivot/_error.html", context, status_code=error.status_code)
    return _page(request, principal, choice, columns=columns, error=error)
