"""Check the exact SQL that will run with DuckDB's own parser (``json_serialize_sql``).

sqlglot parses what the user wrote; DuckDB executes what sqlglot generates. This pass
closes the gap between the two: it reads the generated statement with DuckDB's parser and
refuses it unless

- it is exactly one SELECT statement (set operations, WITH and VALUES included);
- every function it calls is on the allow-list (:mod:`lakehold.query.allowlist`), by the
  name DuckDB resolves, whatever the quoting or case the user wrote;
- every table function in FROM is ``range``, ``generate_series`` or ``unnest``;
- every table it reads is one of ``tables`` (the generated views) or a CTE of the statement;
  a name that is neither would reach DuckDB's catalog or its replacement scans (files,
  Python variables).

The parser runs on a shared, locked-down in-memory database that never executes user SQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection
from typing import Any

import duckdb

from lakehold.errors import Forbidden, Invalid
from lakehold.query.allowlist import is_allowed_function, is_allowed_table_function
from lakehold.query.identifiers import fold
from lakehold.query.messages import readable
from lakehold.query.parse import NUL_IN_QUERY

READ_ONLY = "only read statements are accepted"

_OTHER_TABLE_REF_TYPES = frozenset(
    {"SHOW_REF", "COLUMN_DATA", "DELIM_GET", "BOUND_TABLE_REF", "CTE", "INVALID"}
)

_lock = threading.Lock()
_database: duckdb.DuckDBPyConnection | None = None
_local = threading.local()


def _cursor() -> duckdb.DuckDBPyConnection:
    cursor = getattr(_local, "cursor", None)
    if cursor is None:
        global _database
        with _lock:
            if _database is None:
                _database = duckdb.connect(
                    ":memory:",
                    config={
                        "enable_external_access": False,
                        "autoload_known_extensions": False,
                        "autoinstall_known_extensions": False,
                        "lock_configuration": True,
                    },
                )
            cursor = _database.cursor()
        _local.cursor = cursor
    return cursor


def duckdb_ast(sql: str, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """The statement as DuckDB's parser sees it, or Invalid/Forbidden when it is not a SELECT.

    ``object_hook`` sees every JSON object as it is decoded (see :func:`json.loads`).
    """
    if "\x00" in sql:
        raise Invalid(NUL_IN_QUERY, field="sql")
    try:
        # A literal, not a parameter: with parameters, DuckDB tries (and fails) to import pandas
        # on every call, which costs more than the parse.
        literal = "'" + sql.replace("'", "''") + "'"
        (text,) = _cursor().execute(f"SELECT json_serialize_sql({literal})").fetchone()  # type: ignore[misc]
    except duckdb.Error as e:  # pragma: no cover - DuckDB reports errors in the JSON
        raise Invalid(f"DuckDB cannot check the query: {readable(str(e))}", field="sql") from None
    if '"error":true' in text[:20]:
        object_hook = None
    tree = json.loads(text, object_hook=object_hook)
    if tree.get("error"):
        if tree.get("error_type") == "parser":
            reason = readable(str(tree.get("error_message") or "syntax error"))
            raise Invalid(f"DuckDB cannot parse the query: {reason}", field="sql")
        raise Forbidden(READ_ONLY)
    if len(tree["statements"]) != 1:
        raise Invalid("exactly one statement is accepted")
    return tree["statements"][0]


def verify(sql: str, tables: Collection[str] = ()) -> None:
    """Refuse ``sql`` unless it only reads ``tables`` (and its CTEs) and calls allowed functions."""
    found = _Found()
    duckdb_ast(sql, object_hook=found)
    allowed = {fold(name) for name in tables} | found.ctes
    for node in found.tables:
        _check_table(node, allowed)
    for node in found.functions:
        _check_function(node, table_position=id(node) in found.table_functions)


class _Found:
    """Collects, while the JSON is decoded, the nodes the checks look at."""

    def __init__(self) -> None:
        self.functions: list[dict[str, Any]] = []
        self.table_functions: set[int] = set()
        self.tables: list[dict[str, Any]] = []
        self.ctes: set[str] = set()

    def __call__(self, node: dict[str, Any]) -> dict[str, Any]:
        if "function_name" in node:
            self.functions.append(node)
        kind = node.get("type")
        if kind.__class__ is str:
            if kind == "TABLE_FUNCTION":
                self.table_functions.add(id(node.get("function")))
            elif kind == "BASE_TABLE":
                self.tables.append(node)
            elif kind in _OTHER_TABLE_REF_TYPES:
                raise Forbidden(READ_ONLY)
        cte_map = node.get("cte_map")
        if cte_map.__class__ is dict:
            self.ctes.update(fold(str(e.get("key", ""))) for e in cte_map.get("map", ()))
        return node


def _check_table(node: dict[str, Any], allowed: set[str]) -> None:
    name = str(node.get("table_name", ""))
    qualified = node.get("schema_name") or node.get("catalog_name")
    if qualified or fold(name) not in allowed:
        # Every user table was replaced by a generated view before this check; what is
        # left is not a table this statement may read. Name only what the user wrote.
        raise Forbidden(f"table {name!r} cannot be read here")


def _check_function(node: dict[str, Any], *, table_position: bool) -> None:
    name = str(node["function_name"])
    if node.get("catalog") or node.get("schema") not in (None, "", "main"):
        raise Forbidden(f"function {name} is not allowed")
    if table_position:
        if not is_allowed_table_function(name):
            raise Forbidden(
                f"table function {name} is not allowed; only range, generate_series "
                "and unnest may be used in FROM"
            )
    elif not is_allowed_function(name):
        raise Forbidden(f"function {name} is not allowed")
