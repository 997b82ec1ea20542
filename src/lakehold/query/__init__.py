"""The SQL engine: parse, check, bind and run governed queries on DuckDB over Delta files.

Passes, one module each (like sqlglot's optimizer):
parse -> check_sandbox -> qualify -> rewrite -> verify (:func:`prepare`), then
resolve -> bind -> execute (:func:`run`). Statements run asynchronously with
:class:`StatementRunner`; :mod:`lakehold.query.results` pages and formats their rows.

This package knows nothing of HTTP, users or the metadata store: the service layer decides
which tables a statement may read and binds them to storage (:class:`BoundTable`).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lakehold.errors import Cancelled

if TYPE_CHECKING:
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

_HOMES = {  # each name of the package: its module, imported when the name is first used
    "CancelHandle": "cancel",
    "PreparedQuery": "engine",
    "plan": "engine",
    "prepare": "engine",
    "run": "engine",
    "execute": "execute",
    "BoundTable": "model",
    "CtasTarget": "model",
    "Plan": "model",
    "QueryResult": "model",
    "TableRef": "model",
    "View": "model",
    "column_metadata": "results",
    "read_page": "results",
    "row_count": "results",
    "to_arrow_ipc_stream": "results",
    "to_csv_bytes": "results",
    "to_json_rows": "results",
    "StatementRunner": "statements",
    "StatementState": "statements",
    "StatementUpdate": "statements",
}


def __getattr__(name: str) -> Any:
    """A name of the package, from its module (PEP 562): importing a light module such as
    ``lakehold.query.messages`` does not load the engine, sqlglot and pyarrow."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


class _Package(ModuleType):
    """Importing a submodule sets the package's attribute of its name: ``execute`` stays the
    function, as it was when this package imported it eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _HOMES and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

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
