"""Parse pass: syntax errors with positions, one statement, dialects transpiled to DuckDB."""

from __future__ import annotations

import pytest

from lakehold.errors import Invalid
from lakehold.query import prepare
from lakehold.query.parse import parse, to_duckdb


@pytest.mark.parametrize(
    ("sql", "line", "column", "near"),
    [
        ("SELECT * FRM t", 1, 14, "t"),
        ("SELECT 1\nFROM p.t WHERE x = = 2", 2, 20, "="),
        ("SELECT (1", 1, 9, "1"),
    ],
)
def test_syntax_error_has_line_column_and_position(sql, line, column, near):
    with pytest.raises(Invalid) as caught:
        parse(sql)
    details = caught.value.details
    assert details["line"] == line
    assert details["column"] == column
    assert sql[details["position"] : details["position"] + len(near)] == near
    assert details["field"] == "sql"
    assert f"line {line}" in caught.value.message


def test_unterminated_string_is_invalid_with_position():
    with pytest.raises(Invalid) as caught:
        parse("SELECT 'abc")
    assert caught.value.details["position"] >= 7
    assert caught.value.details["line"] == 1


def test_multiple_statements_are_refused_pointing_at_the_second():
    sql = "SELECT 1;\n  SELECT 2"
    with pytest.raises(Invalid) as caught:
        parse(sql)
    assert "one statement" in caught.value.message
    assert caught.value.details["position"] == sql.index("SELECT 2")
    assert caught.value.details["line"] == 2
    assert caught.value.details["column"] == 3


def test_trailing_semicolon_and_comments_are_one_statement():
    assert parse("SELECT 1; -- done\n;").sql() == "SELECT 1"


def test_empty_query_is_invalid():
    with pytest.raises(Invalid, match="empty"):
        parse("  -- nothing\n")


def test_unknown_dialect_is_invalid_on_the_dialect_field():
    with pytest.raises(Invalid) as caught:
        parse("SELECT 1", dialect="cobol")
    assert caught.value.details["field"] == "dialect"


def test_postgres_cast_is_transpiled():
    prepared = prepare("SELECT '42'::int + 1 AS x", dialect="postgres")
    assert "CAST('42' AS INT)" in prepared.duckdb_sql


def test_snowflake_iff_is_transpiled():
    prepared = prepare("SELECT IFF(1 > 0, 'y', 'n') AS x", dialect="snowflake")
    assert "CASE WHEN" in prepared.duckdb_sql


def test_tsql_top_is_transpiled_with_a_table():
    prepared = prepare("SELECT TOP 5 a FROM p.t", dialect="tsql")
    assert prepared.duckdb_sql.endswith("LIMIT 5")


def test_untranspilable_construct_is_reported_by_name():
    with pytest.raises(Invalid) as caught:
        prepare("SELECT a FROM p.t FOR XML PATH('')", dialect="tsql")
    assert "not supported when translated to DuckDB" in caught.value.message
    assert "query option" in caught.value.message


def test_untranspilable_function_argument_is_reported():
    with pytest.raises(Invalid, match="ToChar"):
        prepare("SELECT TO_CHAR(d, 'YYYY') FROM p.t", dialect="oracle")


def test_generated_sql_has_no_comments():
    # sqlglot would otherwise re-emit the comment as /* */ DROP TABLE x */
    expression = parse("SELECT 1 AS a -- */ DROP TABLE x")
    assert to_duckdb(expression) == "SELECT 1 AS a"


def test_long_statements_are_not_kept_in_the_prepare_cache():
    from lakehold.query.engine import CACHED_SQL_CHARS, _prepare

    _prepare.cache_clear()
    short = "SELECT 1 AS x"
    long = "SELECT 1 AS x" + " " * CACHED_SQL_CHARS
    prepare(short)
    prepare(long)
    prepare(long)
    assert _prepare.cache_info().currsize == 1
