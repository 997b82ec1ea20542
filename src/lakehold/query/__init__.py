"""The SQL engine: parse, check, bind and run governed queries on DuckDB over Delta files.

Passes, one module each (like sqlglot's optimizer):
parse -> check_sandbox -> qualify -> rewrite -> verify (:func:`prepare`), then
resolve -> bind -> execute (:func:`run`). Statements run asynchronously with
:class:`StatementRunner`; :mod:`lakehold.query.results` pages and formats their rows.

This package knows nothing of HTTP, users or the metadata store: the service layer decides
which tables a statement may read and binds them to storage (:class:`BoundTable`).
"""

from lakehold.errors import Cancelled
from lakehold.query.cancel import CancelHandle
from lakehold.query.engine import PreparedQuery, plan, prepare, run
from lakehold.query.execute import execute
from lakehold.query.model import BoundTable, CtasTarget, Plan, QueryResult, TableRef, View
from lakehold.query.results import (
    column_metadata,
    read_page,
    row_count,
    to_arrow_ipc_stream,
    to_csv_bytes,
    to_json_rows,
)
from lakehold.query.statements import StatementRunner, StatementState, StatementUpdate

__all__ = [
    "BoundTable",
    "CancelHandle",
    "Cancelled",
    "CtasTarget",
    "Plan",
    "PreparedQuery",
    "QueryResult",
    "StatementRunner",
    "StatementState",
    "StatementUpdate",
    "TableRef",
    "View",
    "column_metadata",
    "execute",
    "plan",
    "prepare",
    "read_page",
    "row_count",
    "run",
    "to_arrow_ipc_stream",
    "to_csv_bytes",
    "to_json_rows",
]
