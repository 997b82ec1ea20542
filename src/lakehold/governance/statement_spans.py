"""A governed statement's spans, while tracing is on (ADR 0036).

The runtime builds :class:`TracedStatementService` only when tracing is on, so the statement
path pays nothing when it is off. Spans, under the request's:

- ``lakehold.statement``: a submitted or executed statement, with its id, project, final (or,
  submitted, current) state, rows and the principal's user name;
- ``lakehold.statement.plan``: parse and check (its child ``lakehold.statement.prepare``, from
  the engine), authorize and bind, with the number of tables read;
- ``lakehold.statement.execute``: the run, on the runner's thread for a submitted statement.

Never the statement's text, a hash of it (a short literal's hash is guessed by trying values)
or an error's message: a failure is its error code (``error.type``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from lakehold.governance.statement_views import ExecutedStatement, StatementView
from lakehold.governance.statements import StatementService
from lakehold.observability import tracing

if TYPE_CHECKING:
    from lakehold.governance.statement_engine import Engine
    from lakehold.governance.statements import _Planned
    from lakehold.security.principal import Principal

STATEMENT = "lakehold.statement"
PLAN = "lakehold.statement.plan"
EXECUTE = "lakehold.statement.execute"
T = TypeVar("T")


def statement_service_type() -> type[StatementService]:
    """The statement service to build: traced while tracing is on."""
    return TracedStatementService if tracing.ENABLED else StatementService


def _describe(view: StatementView) -> dict[str, str | int | bool]:
    described: dict[str, str | int | bool] = {
        "lakehold.statement.id": view.id,
        "lakehold.statement.state": view.status,
        "lakehold.statement.truncated": view.truncated,
    }
    if view.project is not None:
        described["lakehold.project"] = view.project
    if view.result_rows is not None:
        described["lakehold.statement.rows"] = view.result_rows
    return described


class TracedStatementService(StatementService):
    """The statement service with spans around each statement and its steps."""

    def execute(self, principal: Principal, sql: str, **options: Any) -> ExecutedStatement:
        run = partial(super().execute, principal, sql, **options)
        return _in_statement_span(principal, options, run, lambda done: done.statement)

    def submit(self, principal: Principal, sql: str, **options: Any) -> StatementView:
        run = partial(super().submit, principal, sql, **options)
        return _in_statement_span(principal, options, run, lambda view: view)

    def _plan(
        self,
        principal: Principal,
        sql: str,
        project: str | None,
        dialect: str,
        *,
        allow_ctas: bool = False,
        engine: Engine | None = None,
    ) -> _Planned:
        with tracing.span(PLAN) as span:
            planned = super()._plan(
                principal, sql, project, dialect, allow_ctas=allow_ctas, engine=engine
            )
            span.set_attribute("lakehold.statement.tables", len(planned.assets))
            span.set_attribute("lakehold.statement.engine", planned.engine)
            return planned

    def _work(
        self,
        principal: Principal,
        planned: _Planned,
        limit: int | None,
        timeout_seconds: float | None,
        on_fallback: Callable[[], None] | None = None,
    ) -> Any:
        work = super()._work(principal, planned, limit, timeout_seconds, on_fallback)
        parent = tracing.current_context()  # the statement's, also on the runner's thread

        def traced(*args: Any) -> Any:
            with tracing.span(EXECUTE, context=parent) as span:
                out = work(*args)
                rows = getattr(getattr(out, "table", None), "num_rows", None)
                if isinstance(rows, int):  # a query's rows (not a CREATE TABLE's summary)
                    span.set_attribute("lakehold.statement.rows", rows)
                return out

        return traced


def _in_statement_span(
    principal: Principal,
    options: dict[str, Any],
    run: Callable[[], T],
    view_of: Callable[[T], StatementView],
) -> T:
    """``run()`` inside the statement's span, which ends with the statement's state."""
    with tracing.span(STATEMENT, _acting(principal, options)) as span:
        try:
            out = run()
        except BaseException:
            span.set_attribute("lakehold.statement.state", "FAILED")
            raise
        span.set_attributes(_describe(view_of(out)))
        return out


def _acting(principal: Principal, options: dict[str, Any]) -> dict[str, str]:
    attributes = {
        "lakehold.principal": principal.username,
        "lakehold.statement.dialect": str(options.get("dialect", "duckdb")),
    }
    project = options.get("project") or principal.project
    if project:
        attributes["lakehold.project"] = str(project)
    return attributes
