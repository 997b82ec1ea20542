"""Parse pass: SQL text in some dialect -> one sqlglot expression.

The default dialect is DuckDB. Any other sqlglot dialect (postgres, snowflake, oracle,
tsql, mysql, bigquery, databricks, ...) is accepted: the statement is parsed in that
dialect and later generated as DuckDB SQL with ``unsupported_level=RAISE``, so a construct
that cannot be transpiled is reported (see :func:`to_duckdb`) instead of silently changed.

Time travel on a table is written in the DuckDB or Databricks style::

    SELECT * FROM retail.customer VERSION AS OF 3
    SELECT * FROM retail.customer FOR VERSION AS OF 3 AS c
    SELECT * FROM retail.customer TIMESTAMP AS OF '2024-01-01 00:00:00'

(BigQuery's ``FOR SYSTEM_TIME AS OF`` and Snowflake's ``AT (VERSION => 3)`` /
``AT (TIMESTAMP => ...)`` are read as the same.) Errors carry ``line``, ``column`` (1-based)
and ``position`` (0-based character offset) when they point at a place in the text.
"""

from __future__ import annotations

import bisect

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.tokens import TokenType

from lakehold.errors import Invalid

NUL_IN_QUERY = "the query contains a NUL character"


def parse(sql: str, dialect: str = "duckdb") -> exp.Expression:
    """Parse exactly one statement; raise Invalid for syntax errors, several statements, a
    dialect sqlglot does not know or a NUL character anywhere (a comment included: the text
    is recorded, and PostgreSQL stores no NUL)."""
    if "\x00" in sql:
        raise Invalid(NUL_IN_QUERY, field="sql")
    reader = _dialect(dialect)
    try:
        statements = reader.parse(sql)
    except ParseError as e:
        raise _syntax_error(sql, e) from None
    except TokenError as e:
        position = getattr(e, "end", None)
        raise _located(sql, "syntax error: unterminated or invalid token", position) from None
    except (TypeError, ValueError, AttributeError, IndexError, KeyError, RecursionError):
        # sqlglot fails this way on a few malformed inputs (e.g. "select 'x' ->>"): still the
        # user's syntax, never a server error.
        raise Invalid("syntax error: the query could not be parsed", field="sql") from None
    found = [s for s in statements if s is not None and not isinstance(s, exp.Semicolon)]
    if not found:
        raise Invalid("the query is empty", field="sql")
    if len(found) > 1:
        raise _located(sql, "exactly one statement is accepted per query", _second(reader, sql))
    statement = found[0]
    assert isinstance(statement, exp.Expression)  # every concrete node is (Expr is abstract)
    return statement


def to_duckdb(expression: exp.Expression) -> str:
    """Generate DuckDB SQL (no comments); raise Invalid naming what cannot be transpiled.

    The generator may transform ``expression`` in place (it is not copied: copying a large
    tree costs more than generating it), so this is the last use of the tree.
    """
    try:
        return expression.sql(
            dialect="duckdb", unsupported_level=ErrorLevel.RAISE, comments=False, copy=False
        )
    except UnsupportedError as e:
        raise Invalid(f"not supported when translated to DuckDB SQL: {e}", field="sql") from None


def _dialect(name: str) -> Dialect:
    try:
        return Dialect.get_or_raise(name)
    except ValueError:
        raise Invalid(f"unknown SQL dialect {name!r}", field="dialect") from None


def _syntax_error(sql: str, error: ParseError) -> Invalid:
    first = error.errors[0] if error.errors else {}
    description = first.get("description") or "syntax error"
    line, col = first.get("line"), first.get("col")
    highlight = first.get("highlight") or ""
    if isinstance(line, int) and isinstance(col, int):
        starts = _line_starts(sql)  # sqlglot may count lines differently (a lone "\r")
        line_start = starts[min(max(line - 1, 0), len(starts) - 1)] if line >= 1 else 0
        start_col = max(col - len(highlight), 0) + 1 if "\n" not in highlight else col
        position = min(line_start + start_col - 1, len(sql))
        near = f" near {highlight!r}" if highlight else ""
        return Invalid(
            f"syntax error: {description}{near} (line {line}, column {start_col})",
            field="sql",
            line=line,
            column=start_col,
            position=position,
        )
    return Invalid(f"syntax error: {description}", field="sql")


def _located(sql: str, message: str, position: int | None) -> Invalid:
    if position is None:
        return Invalid(message, field="sql")
    position = max(0, min(position, len(sql)))
    starts = _line_starts(sql)
    index = bisect.bisect_right(starts, position) - 1
    line, column = index + 1, position - starts[index] + 1
    return Invalid(
        f"{message} (line {line}, column {column})",
        field="sql",
        line=line,
        column=column,
        position=position,
    )


def _line_starts(sql: str) -> list[int]:
    starts = [0]
    starts.extend(i + 1 for i, ch in enumerate(sql) if ch == "\n")
    return starts


def _second(reader: Dialect, sql: str) -> int | None:
    """Character offset where the second statement starts."""
    after_semicolon = False
    for token in reader.tokenize(sql):
        if token.token_type == TokenType.SEMICOLON:
            after_semicolon = True
        elif after_semicolon:
            return token.start
    return None
