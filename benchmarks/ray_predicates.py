"""A grant's row filter (SQL) as a storage reader's filter expression: Arrow, Ray Data, Daft.

Ray Data pushes a ``Dataset.filter(expr=...)`` of its own expressions into its Parquet reader
(as a ``pyarrow.dataset`` filter); Daft pushes its own expressions into its Parquet scan.
All are built from the same sqlglot tree, for the shapes row filters take: comparisons,
AND/OR/NOT, IN, BETWEEN, IS [NOT] NULL, over columns and literals (numbers, strings,
booleans, ``DATE '...'``/``CAST('...' AS DATE)``). Anything else -- a function call,
arithmetic, LIKE, a subquery -- raises :class:`Untranslatable`: that filter cannot be pushed
into the reader and the table must not be read by that engine.

(Daft's own ``daft.sql_expr`` parses the filter too, but turns ``DATE '1993-01-01'`` into
``to_date('1993-01-01', '%Y-%m-%d')``, which its Parquet scan does not take as a pushdown.)
"""

from __future__ import annotations

import datetime
import decimal
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp


class Untranslatable(Exception):
    """The row filter has a construct the reader's expressions cannot carry."""


@dataclass(frozen=True)
class Backend:
    """How one engine writes a column, a literal, IN and IS NULL."""

    column: Callable[[str], Any]
    literal: Callable[[Any], Any]
    is_in: Callable[[Any, list[Any]], Any]
    is_null: Callable[[Any], Any]


def arrow() -> Backend:
    import pyarrow.compute as pc

    return Backend(
        column=pc.field,
        literal=pc.scalar,
        is_in=lambda c, values: c.isin(values),
        is_null=lambda c: c.is_null(),
    )


def ray_data() -> Backend:
    from ray.data.expressions import col, lit

    return Backend(
        column=col,
        literal=lit,
        is_in=lambda c, values: c.is_in(values),
        is_null=lambda c: c.is_null(),
    )


def daft() -> Backend:
    import daft as d

    return Backend(
        column=d.col,
        literal=d.lit,
        is_in=lambda c, values: c.is_in(values),
        is_null=lambda c: c.is_null(),
    )


_COMPARE: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
}


def translate(row_filter: str, backend: Backend) -> Any:
    """The filter as ``backend``'s expression; raise Untranslatable."""
    return _node(sqlglot.parse_one(row_filter, read="duckdb"), backend)


def columns(row_filter: str) -> set[str]:
    """The columns a row filter reads."""
    return {c.name for c in sqlglot.parse_one(row_filter, read="duckdb").find_all(exp.Column)}


def _node(node: exp.Expression, b: Backend) -> Any:
    if isinstance(node, exp.Paren):
        return _node(node.this, b)
    if isinstance(node, exp.And):
        return _node(node.this, b) & _node(node.expression, b)
    if isinstance(node, exp.Or):
        return _node(node.this, b) | _node(node.expression, b)
    if isinstance(node, exp.Not):
        if isinstance(node.this, exp.Is):
            return ~b.is_null(_node(node.this.this, b))
        return ~_node(node.this, b)
    if type(node) in _COMPARE:
        return _COMPARE[type(node)](_node(node.this, b), _value(node.expression, b))
    if isinstance(node, exp.Between):
        this = _node(node.this, b)
        return (this >= _value(node.args["low"], b)) & (this <= _value(node.args["high"], b))
    if isinstance(node, exp.In) and not node.args.get("query"):
        return b.is_in(_node(node.this, b), [_python(v) for v in node.expressions])
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return b.is_null(_node(node.this, b))
    if isinstance(node, exp.Column):
        return b.column(node.name)
    if isinstance(node, exp.Boolean):
        return b.literal(node.this)
    raise Untranslatable(f"{node.key.upper()} ({node.sql(dialect='duckdb')})")


def _value(node: exp.Expression, b: Backend) -> Any:
    if isinstance(node, exp.Column):
        return b.column(node.name)
    return b.literal(_python(node))


def _python(node: exp.Expression) -> Any:
    """A literal's Python value."""
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DATE:
        return datetime.date.fromisoformat(_python(node.this))
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return int(text) if text.lstrip("-").isdigit() else decimal.Decimal(text)
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Neg):
        return -_python(node.this)
    raise Untranslatable(f"{node.key.upper()} ({node.sql(dialect='duckdb')})")
