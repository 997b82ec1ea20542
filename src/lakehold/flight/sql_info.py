"""GetSqlInfo: what the server is and what its SQL (DuckDB's, governed) accepts.

Each answer is one row ``(info_name, value)`` where ``value`` is a dense union of Flight SQL's
six value kinds; ordinals of Flight SQL's enums are ``bigint_value``, bitmasks
``int32_bitmask`` (as Arrow's reference servers send them). Ids a client asks for that are not
answered here are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

import pyarrow as pa

from lakehold.flight.catalog import SEARCH_ESCAPE


class Bitmask(int):
    """An ``int32_bitmask`` value (a plain int is a ``bigint_value``)."""


_KINDS = (
    pa.field("string_value", pa.utf8(), nullable=False),
    pa.field("bool_value", pa.bool_(), nullable=False),
    pa.field("bigint_value", pa.int64(), nullable=False),
    pa.field("int32_bitmask", pa.int32(), nullable=False),
    pa.field("string_list", pa.list_(pa.utf8()), nullable=False),
    pa.field("int32_to_int32_list_map", pa.map_(pa.int32(), pa.list_(pa.int32())), nullable=False),
)
VALUE = pa.dense_union(list(_KINDS), type_codes=list(range(len(_KINDS))))
SCHEMA = pa.schema(
    [pa.field("info_name", pa.uint32(), nullable=False), pa.field("value", VALUE, nullable=False)]
)


def _version() -> str:
    try:
        return version("lakehold")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "unknown"


def answers(max_statement_length: int) -> dict[int, str | bool | int | list[str]]:
    """Every id this server answers, by SqlInfo number (FlightSql.proto)."""
    return {
        0: "Lakehold",  # FLIGHT_SQL_SERVER_NAME
        1: _version(),  # FLIGHT_SQL_SERVER_VERSION
        2: pa.__version__,  # FLIGHT_SQL_SERVER_ARROW_VERSION
        3: True,  # FLIGHT_SQL_SERVER_READ_ONLY
        4: True,  # FLIGHT_SQL_SERVER_SQL
        5: False,  # FLIGHT_SQL_SERVER_SUBSTRAIT
        8: Bitmask(0),  # FLIGHT_SQL_SERVER_TRANSACTION: none
        9: False,  # FLIGHT_SQL_SERVER_CANCEL (the CancelQuery action)
        10: False,  # FLIGHT_SQL_SERVER_BULK_INGESTION
        500: False,  # SQL_DDL_CATALOG
        501: False,  # SQL_DDL_SCHEMA
        502: False,  # SQL_DDL_TABLE
        503: 1,  # SQL_IDENTIFIER_CASE: case-insensitive (DuckDB)
        504: '"',  # SQL_IDENTIFIER_QUOTE_CHAR
        505: 1,  # SQL_QUOTED_IDENTIFIER_CASE: case-insensitive (DuckDB)
        506: True,  # SQL_ALL_TABLES_ARE_SELECTABLE: the listed ones
        507: 3,  # SQL_NULL_ORDERING: sorted at end (DuckDB's NULLS LAST)
        513: SEARCH_ESCAPE,  # SQL_SEARCH_STRING_ESCAPE
        515: True,  # SQL_SUPPORTS_COLUMN_ALIASING
        516: True,  # SQL_NULL_PLUS_NULL_IS_NULL
        518: True,  # SQL_SUPPORTS_TABLE_CORRELATION_NAMES
        520: True,  # SQL_SUPPORTS_EXPRESSIONS_IN_ORDER_BY
        521: True,  # SQL_SUPPORTS_ORDER_BY_UNRELATED
        522: Bitmask(0b11),  # SQL_SUPPORTED_GROUP_BY: unrelated, beyond select
        523: True,  # SQL_SUPPORTS_LIKE_ESCAPE_CLAUSE
        525: Bitmask(0b111),  # SQL_SUPPORTED_GRAMMAR: minimum, core, extended
        526: Bitmask(0b11),  # SQL_ANSI92_SUPPORTED_LEVEL: entry, intermediate
        528: 2,  # SQL_OUTER_JOINS_SUPPORT_LEVEL: full outer joins
        529: "project",  # SQL_SCHEMA_TERM
        536: False,  # SQL_SELECT_FOR_UPDATE_SUPPORTED
        537: False,  # SQL_STORED_PROCEDURES_SUPPORTED
        538: Bitmask(0b1111),  # SQL_SUPPORTED_SUBQUERIES: comparisons, exists, in, quantified
        539: True,  # SQL_CORRELATED_SUBQUERIES_SUPPORTED
        540: Bitmask(0b11),  # SQL_SUPPORTED_UNIONS: union, union all
        557: max_statement_length,  # SQL_MAX_STATEMENT_LENGTH (characters)
        563: False,  # SQL_TRANSACTIONS_SUPPORTED
        572: False,  # SQL_BATCH_UPDATES_SUPPORTED
        573: False,  # SQL_SAVEPOINTS_SUPPORTED
        574: False,  # SQL_NAMED_PARAMETERS_SUPPORTED
    }


def _kind(value: object) -> int:
    if isinstance(value, str):
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, Bitmask):
        return 3
    if isinstance(value, int):
        return 2
    return 4


def sql_info(requested: Iterable[int], max_statement_length: int) -> pa.Table:
    """The rows of the ``requested`` ids (all, when none is asked for), in the order asked."""
    known = answers(max_statement_length)
    asked = list(requested)
    ids = [i for i in asked if i in known] if asked else sorted(known)
    values: list[list[object]] = [[] for _ in _KINDS]
    kinds, offsets = [], []
    for info in ids:
        kind = _kind(known[info])
        kinds.append(kind)
        offsets.append(len(values[kind]))
        values[kind].append(known[info])
    children = [pa.array(column, f.type) for column, f in zip(values, _KINDS, strict=True)]
    union = pa.UnionArray.from_dense(
        pa.array(kinds, pa.int8()),
        pa.array(offsets, pa.int32()),
        children,
        [f.name for f in _KINDS],
        list(range(len(_KINDS))),
    )
    names = pa.array(ids, pa.uint32())
    return pa.Table.from_arrays([names, union.view(VALUE)], schema=SCHEMA)
