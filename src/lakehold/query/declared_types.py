"""DuckDB type names, as the catalog keeps a table's columns, as the Arrow types a statement
returns them in (what a catalog client is told before it runs anything).

DuckDB itself answers: the name is parsed as a type (``duckdb.sqltype``: a type and nothing
else), and a private in-memory connection, with external access off and its configuration
locked, casts a NULL to it and exports the result to Arrow, as the engine exports results. A
name DuckDB does not know (a source's own type) is a string column.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import lru_cache

import duckdb
import pyarrow as pa

_lock = threading.Lock()
_connection: duckdb.DuckDBPyConnection | None = None


def _locked_connection() -> duckdb.DuckDBPyConnection:
    global _connection
    if _connection is None:
        _connection = duckdb.connect(
            ":memory:",
            config={
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "lock_configuration": True,
            },
        )
    return _connection


@lru_cache(maxsize=1024)
def arrow_type(type_name: str) -> pa.DataType:
    """The Arrow type of a DuckDB ``type_name`` (``DECIMAL(18,2)``, ``VARCHAR[]``, ...)."""
    try:
        parsed = str(duckdb.sqltype(type_name))  # re-rendered by DuckDB: a type, nothing else
    except (duckdb.Error, TypeError, ValueError):
        return pa.string()
    with _lock:
        try:
            relation = _locked_connection().sql(f"SELECT CAST(NULL AS {parsed}) AS v")
            return relation.arrow().schema.field(0).type
        except duckdb.Error:
            return pa.string()


def arrow_types(type_names: Iterable[str]) -> list[pa.DataType]:
    """:func:`arrow_type` of each name, in order."""
    return [arrow_type(name) for name in type_names]
