"""The query engine in two calls: :func:`prepare` a statement, then :func:`run` it.

``prepare`` needs no catalog: parse -> check_sandbox -> qualify -> rewrite -> verify. It
returns the table references the statement reads (``PreparedQuery.table_refs``); the service
layer authorizes them and binds each to storage (a :class:`BoundTable`, with the granted
columns and row filter), then calls ``run``: resolve -> bind -> execute, the data files read
through links private to the statement (:mod:`lakehold.query.scan_files`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from sqlglot import exp

from lakehold.errors import Invalid, NotFound
from lakehold.observability import tracing
from lakehold.query import sandboxes
from lakehold.query.bind import bind
from lakehold.query.cancel import CancelHandle
from lakehold.query.check_sandbox import check_sandbox
from lakehold.query.databases import default_threads
from lakehold.query.execute import execute, execute_in
from lakehold.query.model import BoundTable, CtasTarget, Plan, QueryResult, TableRef
from lakehold.query.ordering import order_free
from lakehold.query.parse import parse, to_duckdb
from lakehold.query.qualify import qualify, table_ref
from lakehold.query.resolve import resolve
from lakehold.query.results import column_metadata
from lakehold.query.rewrite import rewrite, view_names
from lakehold.query.sandboxes import SandboxKey
from lakehold.query.scan_files import DEFAULT_ROOT, ScanFiles
from lakehold.query.verify import verify


@dataclass(frozen=True)
class PreparedQuery:
    """A checked statement, ready to be bound to storage and run.

    ``table_refs`` are the distinct tables it reads, in order of appearance; ``ctas`` is
    the target of an admitted ``CREATE TABLE ... AS SELECT`` (``run`` returns the rows of
    the SELECT; writing them is the caller's job). ``duckdb_sql`` reads the views named
    in ``view_names``; ``order_free``: its answer does not depend on the order rows are read in
    (:mod:`lakehold.query.ordering`), so DuckDB may read them in parallel without keeping it.
    """

    sql: str
    dialect: str
    table_refs: tuple[TableRef, ...]
    duckdb_sql: str
    view_names: Mapping[TableRef, str] = field(repr=False)
    ctas: CtasTarget | None = None
    order_free: bool = False


def prepare(
    sql: str,
    *,
    dialect: str = "duckdb",
    default_project: str | None = None,
    allow_ctas: bool = False,
) -> PreparedQuery:
    """Parse and check a statement; raise Invalid, Forbidden or NotFound when it cannot run.

    Prepared statements are cached by their arguments (dashboards repeat the same SQL); a
    refused statement is not cached, nor a long one (the cache must stay small whatever
    statements users send).
    """
    if len(sql) > CACHED_SQL_CHARS:
        return _prepare.__wrapped__(sql, dialect, default_project, allow_ctas)
    if tracing.ENABLED:  # a span, under the statement's (ADR 0036)
        return tracing.call(
            "lakehold.statement.prepare", _prepare, sql, dialect, default_project, allow_ctas
        )
    return _prepare(sql, dialect, default_project, allow_ctas)


CACHED_SQL_CHARS = 16_384
"""The longest statement text kept in the prepare cache (1,024 entries: at most ~16 MB)."""


@lru_cache(maxsize=1024)
def _prepare(
    sql: str, dialect: str, default_project: str | None, allow_ctas: bool
) -> PreparedQuery:
    expression = parse(sql, dialect)
    checked = check_sandbox(expression, sql, allow_ctas=allow_ctas)
    ctas = _ctas_target(checked.ctas, default_project) if checked.ctas is not None else None
    qualified = qualify(checked.query, default_project)
    names = view_names(qualified.refs)
    rewrite(qualified, names)
    free = order_free(checked.query)
    duckdb_sql = to_duckdb(checked.query)
    verify(duckdb_sql, names.values())
    return PreparedQuery(
        sql=sql,
        dialect=dialect,
        table_refs=qualified.refs,
        duckdb_sql=duckdb_sql,
        view_names=MappingProxyType(names),
        ctas=ctas,
        order_free=free,
    )


def plan(
    prepared: PreparedQuery,
    resolved: Mapping[TableRef, BoundTable],
    scan: ScanFiles | None = None,
) -> Plan:
    """The executable plan of a prepared statement over the caller's bound tables; with
    ``scan``, its views read the statement's private links to the data files (as :func:`run`
    does), else the files themselves (for inspection and tests)."""
    bound = resolve(prepared.table_refs, resolved)
    if scan is None:
        return bind(prepared.duckdb_sql, prepared.view_names, bound)
    return bind(prepared.duckdb_sql, prepared.view_names, bound, scan.link)


def run(
    prepared: PreparedQuery,
    resolved: Mapping[TableRef, BoundTable],
    *,
    max_rows: int,
    timeout_s: float | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    cancel: CancelHandle | None = None,
    scan_root: Path | None = None,
) -> QueryResult:
    """Run a prepared statement; at most ``max_rows`` rows (``truncated`` if more existed).

    The statement reads its data files through private links made under ``scan_root`` (on
    the warehouse's file system, so that they are hard links) and removed when it ends. A
    statement over lakehouse tables runs in a reused, locked sandbox
    (:mod:`lakehold.query.sandboxes`) whose private directory holds those links; one that
    reads a federated source, on a database of its own (:mod:`lakehold.query.execute`).
    """
    if threads is not None and threads < 1:
        raise Invalid("threads must be 1 or more", field="threads")
    keep_order = not prepared.order_free
    if any(table.remote is not None for table in resolved.values()):
        with ScanFiles(scan_root) as scan:
            table, truncated = execute(
                plan(prepared, resolved, scan),
                max_rows=max_rows,
                timeout_s=timeout_s,
                threads=threads,
                memory_limit=memory_limit,
                cancel=cancel,
                keep_order=keep_order,
            )
    else:
        root = scan_root or DEFAULT_ROOT
        key = SandboxKey(root, threads or default_threads(), memory_limit, keep_order)
        sandbox = sandboxes.borrow(key)
        scan = ScanFiles(sandbox.directory, inside=True)  # the sandbox's own directory
        try:
            table, truncated = execute_in(
                sandbox,
                plan(prepared, resolved, scan),
                max_rows=max_rows,
                timeout_s=timeout_s,
                cancel=cancel,
            )
        finally:
            sandboxes.give_back(sandbox, scan.close)
    return QueryResult(table=table, truncated=truncated, columns=column_metadata(table.schema))


def _ctas_target(create: exp.Create, default_project: str | None) -> CtasTarget:
    target = create.this
    assert isinstance(target, exp.Table)
    if target.args.get("version") or target.args.get("when"):
        raise Invalid("the new table of CREATE TABLE ... AS SELECT cannot have a version")
    try:
        ref = table_ref(target, default_project)
    except NotFound:
        raise Invalid(
            "name the new table of CREATE TABLE ... AS SELECT as project.table", field="sql"
        ) from None
    return CtasTarget(
        ref=ref,
        replace=bool(create.args.get("replace")),
        if_not_exists=bool(create.args.get("exists")),
    )
