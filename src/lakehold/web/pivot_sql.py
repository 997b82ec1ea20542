"""The SQL of a pivot table, one level at a time, and how a level's result reads.

A pivot is a source (a ``project.table`` or a SELECT, wrapped as a subquery), row fields, column
fields and one value (an aggregate over a column). Each level is one statement: the top level
groups by the first row field, an expanded member's children by the next row field under a
``WHERE`` on the member's path. ``GROUPING SETS`` make the database compute the row totals (per
member, over every column) and, at the top, the column totals and the grand total; ``grouping()``
tells a total from a NULL member. Every identifier is a column of the source, checked here and
always quoted; every member is a string literal cast back to its column's type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa
import pyarrow.types as pt
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from lakehold.errors import Invalid
from lakehold.query.arrow_types import duckdb_type, quote

AGGREGATES = ("sum", "count", "avg", "min", "max")
NUMERIC_ONLY = frozenset({"sum", "avg"})
MAX_ROW_FIELDS = 3
MAX_COLUMN_FIELDS = 2
MAX_COLUMNS = 100
"""Column members (combinations of the column fields) a pivot may show."""
COUNT_ROWS = ""
"""The measure of ``count`` over rows (``count(*)``)."""

Member = str | None
"""A member as its text (``CAST(x AS VARCHAR)``); None is the NULL member."""
ColumnKey = tuple[Member, ...]

_TABLE = re.compile(r"^\s*([^.\s]+)\.([^.\s]+)\s*$")


def source_sql(kind: Literal["table", "query"], text: str) -> str:
    """The source as a FROM item: a quoted ``project.table`` or the query as a subquery."""
    if kind == "table":
        found = _TABLE.match(text)
        if found is None:
            raise Invalid("name a table as project.table", field="table")
        return f"{quote(found.group(1))}.{quote(found.group(2))}"
    try:
        parsed = sqlglot.parse(text, read="duckdb")
    except ParseError:
        raise Invalid("syntax error: the query could not be parsed", field="query") from None
    statements = [p for p in parsed if p is not None and not isinstance(p, exp.Semicolon)]
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise Invalid("the source must be one SELECT query", field="query")
    return f"({statements[0].sql(dialect='duckdb')}) AS pivot_source"


def probe_sql(source: str) -> str:
    """The statement that reads the source's columns (and no rows)."""
    return f"SELECT * FROM {source} LIMIT 0"


@dataclass(frozen=True)
class Pivot:
    """A checked pivot: its fields are columns of the source."""

    source: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    agg: str
    measure: str
    types: Mapping[str, pa.DataType]

    @property
    def value_sql(self) -> str:
        if self.agg == "count" and self.measure == COUNT_ROWS:
            return "count(*)"
        return f"{self.agg}({quote(self.measure)})"

    def level_sql(self, path: Sequence[Member]) -> str:
        """One statement for the children of ``path`` (the top level when it is empty)."""
        if len(path) >= len(self.rows):
            raise Invalid("the path is deeper than the row fields", field="path")
        field = quote(self.rows[len(path)])
        cols = [quote(c) for c in self.cols]
        sets = [[field, *cols], [field]] if cols else [[field]]
        if not path:  # the column totals and the grand total
            sets += [cols, []] if cols else [[]]
        select = [f"grouping({field}) AS g_row", f"CAST({field} AS VARCHAR) AS k_row"]
        if cols:
            select.append(f"grouping({cols[0]}) AS g_col")
        select += [f"CAST({c} AS VARCHAR) AS k_col{i}" for i, c in enumerate(cols)]
        select.append(f"{self.value_sql} AS v")
        where = [self._equals(name, member) for name, member in zip(self.rows, path, strict=False)]
        grouping = ", ".join("(" + ", ".join(s) + ")" for s in sets)
        order = ", ".join(f"{c} NULLS LAST" for c in [field, *cols])
        return (
            f"SELECT {', '.join(select)} FROM {self.source}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" GROUP BY GROUPING SETS ({grouping}) ORDER BY g_row, {order}"
        )

    def _equals(self, name: str, member: Member) -> str:
        column = quote(name)
        if member is None:
            return f"{column} IS NULL"
        text = exp.Literal.string(member).sql(dialect="duckdb")
        try:
            target = duckdb_type(self.types[name])
        except Invalid:  # a type without a text form to cast back: compare as text
            return f"CAST({column} AS VARCHAR) = {text}"
        if target == "VARCHAR":
            return f"{column} = {text}"
        return f"{column} = CAST({text} AS {target})"


def check(
    columns: Mapping[str, pa.DataType],
    source: str,
    rows: Sequence[str],
    cols: Sequence[str],
    agg: str,
    measure: str,
) -> Pivot:
    """The pivot if every field names a column of the source (field errors otherwise)."""
    rows = [r for r in rows if r]
    cols = [c for c in cols if c]
    if not rows:
        raise Invalid("choose at least one row field", field="rows")
    for name, chosen, most in (("rows", rows, MAX_ROW_FIELDS), ("cols", cols, MAX_COLUMN_FIELDS)):
        if len(chosen) > most:
            raise Invalid(f"at most {most} {name} fields", field=name)
        for column in chosen:
            if column not in columns:
                raise Invalid(f"the source has no column {column!r}", field=name)
    if len(set(rows) | set(cols)) != len(rows) + len(cols):
        raise Invalid("a field is used twice", field="cols" if cols else "rows")
    if agg not in AGGREGATES:
        raise Invalid(f"the aggregate must be one of {', '.join(AGGREGATES)}", field="agg")
    if measure == COUNT_ROWS:
        if agg != "count":
            raise Invalid(f"{agg} needs a column", field="measure")
    elif measure not in columns:
        raise Invalid(f"the source has no column {measure!r}", field="measure")
    elif agg in NUMERIC_ONLY and not _numeric(columns[measure]):
        raise Invalid(f"{agg} needs a numeric column; {measure!r} is not", field="measure")
    return Pivot(source, tuple(rows), tuple(cols), agg, measure, dict(columns))


def _numeric(arrow: pa.DataType) -> bool:
    return pt.is_integer(arrow) or pt.is_floating(arrow) or pt.is_decimal(arrow)


# -- reading a level's result -----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A member of a level: its cells (one per column key) and its total over the columns."""

    member: Member
    cells: list[str | None]
    total: str | None


@dataclass(frozen=True)
class Level:
    rows: list[Row]
    columns: list[ColumnKey]
    """The column keys (at the top level: every one; below: those the page shows)."""
    totals: Row | None
    """The column totals and the grand total (top level only)."""


def read_level(table: pa.Table, pivot: Pivot, columns: Sequence[ColumnKey] | None = None) -> Level:
    """A level's members in order; ``columns`` are the keys the page shows (None: the top
    level, whose own column totals give them)."""
    records = table.to_pylist()
    width = len(pivot.cols)

    def key_of(record: Mapping[str, Any]) -> ColumnKey:
        return tuple(record[f"k_col{i}"] for i in range(width))

    def is_total_column(record: Mapping[str, Any]) -> bool:
        return bool(width) and record["g_col"] == 1

    if columns is None:
        columns = [key_of(r) for r in records if r["g_row"] == 1 and not is_total_column(r)]
        if len(columns) > MAX_COLUMNS:
            raise Invalid(
                f"the column fields have {len(columns)} members; at most {MAX_COLUMNS}",
                field="cols",
            )
    position = {key: i for i, key in enumerate(columns)}
    grouped: dict[tuple[int, Member], Row] = {}
    for record in records:
        at = (record["g_row"], record["k_row"] if record["g_row"] == 0 else None)
        row = grouped.get(at)
        if row is None:
            row = grouped[at] = Row(at[1], [None] * len(columns), None)
        value = display(record["v"])
        if is_total_column(record) or not width:
            grouped[at] = Row(row.member, row.cells, value)
        elif (index := position.get(key_of(record))) is not None:
            row.cells[index] = value
    totals = grouped.pop((1, None), None)
    return Level(list(grouped.values()), list(columns), totals)


def display(value: Any) -> str | None:
    """A value as a cell shows it (floats to 6 decimals, no exponent); None stays None."""
    if value is None:
        return None
    if isinstance(value, float):
        text = f"{round(value, 6):f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
