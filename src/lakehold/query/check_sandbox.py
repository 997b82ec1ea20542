"""Sandbox pass: refuse statements that do anything but read tables by name.

Refused (Forbidden, naming what was refused):

- every statement but a query (SELECT, set operations, WITH ... SELECT, VALUES): DDL and
  DML, ATTACH/DETACH, COPY, EXPORT, INSTALL, LOAD, PRAGMA, SET, CALL, USE, DESCRIBE, SHOW,
  SUMMARIZE, transactions, ``SELECT ... INTO``, ``FOR UPDATE``; ``CREATE TABLE project.x AS
  SELECT ...`` only when ``allow_ctas`` is true;
- anything in FROM/JOIN that is not a table name: table functions (``read_csv``,
  ``read_parquet``, ``delta_scan``, ``glob``, ...) except ``range``/``generate_series``
  (and ``unnest``), and string literals used as tables (``FROM 'file.csv'``);
- system catalogs and schemas: ``information_schema``, ``pg_catalog``, ``main``,
  ``system``, ``temp``, and unqualified ``duckdb_*``, ``sqlite_*``, ``pragma_*``, ``pg_*``;
- query parameters (``?``, ``$1``).

Functions are checked against the allow-list by :mod:`lakehold.query.verify`, on the DuckDB
SQL that will actually run, so that what sqlglot reads and what DuckDB executes cannot
differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from lakehold.errors import Forbidden, Invalid
from lakehold.query.allowlist import is_allowed_table_function
from lakehold.query.identifiers import fold
from lakehold.query.verify import READ_ONLY

SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "main", "system", "temp", "memory"})
SYSTEM_PREFIXES = ("duckdb_", "sqlite_", "pragma_", "pg_")

_QUERY_ROOTS = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)


def _classes(*names: str) -> tuple[type[exp.Expression], ...]:
    return tuple(getattr(exp, n) for n in names if isinstance(getattr(exp, n, None), type))


_REFUSED = _classes(
    # statements
    "DDL", "DML", "Command", "Pragma", "Set", "SetItem", "Copy", "Export", "Attach", "Detach",
    "Install", "Use", "Describe", "Show", "Summarize", "Transaction", "Commit", "Rollback",
    "Create", "Insert", "Update", "Delete", "Merge", "Drop", "Alter", "TruncateTable",
    "Undrop", "Comment", "Analyze", "Grant", "Revoke", "LoadData", "Kill", "Declare",
    "Execute", "ExecuteSql", "UserDefinedFunction", "AlterSession", "SwapTable", "Cache",
    "Uncache", "Refresh", "Put", "Get", "ListStage", "StoredProcedure", "Block", "IfBlock",
    "LoopBlock", "WhileBlock", "RepeatBlock", "Return", "Leave", "Iterate",
    "MultitableInserts", "ConditionalInsert", "LockingStatement", "ConnectTo", "Disconnect",
    # clauses that write or lock
    "Into", "Lock", "NextValueFor", "Directory", "DirectoryStage",
)  # fmt: skip


@dataclass(frozen=True)
class Checked:
    """A statement that passed: the query to run, and the CTAS statement around it if any."""

    query: exp.Expression
    ctas: exp.Create | None = None


def check_sandbox(
    expression: exp.Expression, sql: str = "", *, allow_ctas: bool = False
) -> Checked:
    """Refuse anything but a read statement (or an admitted CTAS); ``sql`` is the text the
    expression was parsed from, used to tell ``FROM 'file'`` from ``FROM "name"``."""
    ctas = None
    query = expression
    if isinstance(expression, exp.Create):
        ctas = _check_ctas(expression, allow_ctas)
        query = ctas.expression
    while isinstance(query, exp.Subquery) and not any(
        value for key, value in query.args.items() if key != "this"
    ):
        query = query.this  # "(SELECT ...)" is "SELECT ..."
    if isinstance(query, exp.Pivot):
        raise Forbidden("write a PIVOT statement as SELECT * FROM (PIVOT ... IN (...) ...)")
    if not isinstance(query, _QUERY_ROOTS):
        name = _statement_name(query) if isinstance(query, _REFUSED) else "this statement"
        raise Forbidden(f"{name} is not accepted: {READ_ONLY}")
    for node in query.walk():
        if isinstance(node, _REFUSED):
            raise Forbidden(f"{_statement_name(node)} is not accepted: {READ_ONLY}")
        if isinstance(node, exp.Table):
            _check_table(node, sql)
        elif isinstance(node, exp.CTE):
            _check_name(node.alias_or_name)
        elif isinstance(node, exp.Placeholder | exp.Parameter):
            raise Invalid("query parameters are not supported", field="sql")
    return Checked(query=query, ctas=ctas)


def _check_ctas(create: exp.Create, allow_ctas: bool) -> exp.Create:
    if not allow_ctas:
        raise Forbidden(
            f"CREATE is not accepted: {READ_ONLY} (write with CREATE TABLE ... AS SELECT "
            "where it is allowed, or the table APIs)"
        )
    target = create.this
    properties = create.args.get("properties")
    if (
        str(create.args.get("kind", "")).upper() != "TABLE"
        or not isinstance(target, exp.Table)
        or not isinstance(create.expression, _QUERY_ROOTS)
        or (properties is not None and properties.expressions)
    ):
        raise Forbidden("only CREATE TABLE project.table AS SELECT ... is accepted")
    return create


def _check_table(table: exp.Table, sql: str) -> None:
    source = table.this
    if isinstance(source, exp.Func):
        name = source.name if isinstance(source, exp.Anonymous) else source.sql_name()
        if isinstance(source, exp.GenerateSeries) or is_allowed_table_function(name):
            return
        raise Forbidden(
            f"table function {name.lower()} is not allowed; query tables by name "
            "(only range, generate_series and unnest may be used in FROM)"
        )
    if isinstance(source, exp.Identifier) and source.quoted and _written_as_string(source, sql):
        raise Forbidden(
            f"files cannot be read directly ({source.name!r}); query a table as project.table"
        )
    parts = [fold(p.name) for p in (table.args.get("catalog"), table.args.get("db")) if p]
    if any(p in SYSTEM_SCHEMAS for p in parts):
        raise Forbidden(f"system catalog {table.sql(dialect='duckdb')!r} is not accessible")
    if not parts:
        _check_name(table.name)


def _check_name(name: str) -> None:
    lowered = fold(name)
    if lowered in SYSTEM_SCHEMAS or lowered.startswith(SYSTEM_PREFIXES):
        raise Forbidden(f"system table {name!r} is not accessible")


def _written_as_string(identifier: exp.Identifier, sql: str) -> bool:
    start = identifier.meta.get("start")
    return isinstance(start, int) and 0 <= start < len(sql) and sql[start] in "'$"


def _statement_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Into):
        return "SELECT ... INTO"
    if isinstance(node, exp.Lock):
        return "FOR UPDATE/SHARE"
    return node.key.upper()
