"""The split pass: a partial query per slice and a final merge that together answer exactly
what the statement answers, on small DuckDB data cut into slices (one of them empty), and
the statements it refuses, with their reasons."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from lakehold.errors import Invalid
from lakehold.query.split import PARTIALS, Split, Unsplittable, split

BIG = """
SELECT range AS k, ['a', 'b', 'c', NULL][range % 4 + 1] AS g,
       CAST(range * 1.25 AS DECIMAL(10, 2)) AS x, range / 7.0 AS d,
       CASE WHEN range % 5 = 0 THEN NULL ELSE range % 11 END AS n,
       DATE '2024-01-01' + CAST(range % 60 AS INTEGER) AS day
FROM range(200)
"""
SMALL = "SELECT * FROM (VALUES ('a', 'first'), ('b', 'second'), ('d', 'fourth')) s(g, label)"
COLUMNS = ("k", "g", "x", "d", "n", "day", "label")
SLICES = ("k < 50", "k >= 50 AND k < 120", "k < 0", "k >= 120")  # the third is empty


def _connection(where: str | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE big AS SELECT * FROM ({BIG}) WHERE {where or 'true'}")
    con.execute(f"CREATE TABLE small AS {SMALL}")
    return con


def _distributed(parts: Split, slices: tuple[str, ...] = SLICES) -> list[tuple[Any, ...]]:
    partials = pa.concat_tables(
        _connection(where).execute(parts.partial).to_arrow_table() for where in slices
    )
    if parts.final is None:
        return _rows(partials)
    con = duckdb.connect()
    con.register(PARTIALS, partials)
    return _rows(con.execute(parts.final).to_arrow_table())


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return list(zip(*(c.to_pylist() for c in table.columns), strict=True))


def _same(ours: list[tuple[Any, ...]], direct: list[tuple[Any, ...]]) -> None:
    assert len(ours) == len(direct), (ours, direct)
    for a_row, b_row in zip(ours, direct, strict=True):
        for a, b in zip(a_row, b_row, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9), (a_row, b_row)
            else:
                assert a == b, (a_row, b_row)


AGGREGATES = [
    "SELECT SUM(x) AS s, COUNT(*) AS c, COUNT(n) AS cn, MIN(day) AS lo, MAX(g) AS hi, "
    "AVG(d) AS mean, AVG(x) AS mean_x FROM big",
    "SELECT g, SUM(x), COUNT(*), AVG(n) FROM big GROUP BY g ORDER BY g NULLS FIRST",
    "SELECT g, COUNT(*) AS c FROM big WHERE n > 3 GROUP BY g HAVING COUNT(*) > 10 "
    "ORDER BY c DESC, g",
    "SELECT day, SUM(x) AS total FROM big GROUP BY day ORDER BY total DESC, day LIMIT 5",
    "SELECT label, SUM(k) AS s, MAX(x) - MIN(x) AS spread FROM big JOIN small ON big.g = small.g "
    "GROUP BY label ORDER BY label",
    "SELECT big.g, COUNT(label) AS labelled FROM big LEFT JOIN small ON big.g = small.g "
    "GROUP BY big.g ORDER BY 1",
    "SELECT COUNT(*) FILTER (WHERE n IS NULL) AS nulls, AVG(d) FILTER (WHERE g = 'a') AS a "
    "FROM big",
    "SELECT month(day) AS m, COUNT(*) AS c FROM big GROUP BY m ORDER BY m",
    "SELECT k % 3 AS bucket, SUM(x) AS s FROM big GROUP BY 1 ORDER BY 1",
    "SELECT g, day, COUNT(*) AS c FROM big GROUP BY ALL ORDER BY g, day LIMIT 7",
    "SELECT k % 2 AS k, COUNT(*) AS c FROM big GROUP BY k ORDER BY c, k LIMIT 3",
    "SELECT DISTINCT COUNT(*) AS c FROM big GROUP BY g ORDER BY c",
    "SELECT SUM(k) / COUNT(*) AS mean, COUNT(*) + 1 AS more FROM (SELECT k FROM big WHERE "
    "k % 2 = 0) evens",
    "SELECT COUNT(*) AS c, SUM(x) AS s, MIN(k) AS lo FROM big WHERE k < 0",
]


@pytest.mark.parametrize("sql", AGGREGATES)
def test_partial_and_final_answer_as_the_statement(sql: str) -> None:
    parts = split(sql, "big", COLUMNS)
    assert parts.final is not None
    direct = _rows(_connection(None).execute(sql).to_arrow_table())
    ordered = "ORDER BY" in sql
    ours = _distributed(parts)
    _same(
        ours if ordered else sorted(ours, key=repr), direct if ordered else sorted(direct, key=repr)
    )


def test_count_over_empty_slices_is_zero_not_null() -> None:
    parts = split("SELECT COUNT(*) AS c, COUNT(n) AS cn, SUM(x) AS s FROM big", "big")
    assert _distributed(parts, ("k < 0", "k < -1")) == [(0, 0, None)]


def test_counts_keep_their_type() -> None:
    parts = split("SELECT COUNT(*) AS c FROM big", "big")
    assert parts.final is not None
    con = _connection(None)
    con.register(PARTIALS, con.execute(parts.partial).to_arrow_table())
    assert con.execute(parts.final).to_arrow_table().schema.field("c").type == pa.int64()


def test_a_scan_is_its_partials() -> None:
    sql = "SELECT k, label FROM big JOIN small USING (g) WHERE k % 3 = 0"
    parts = split(sql, "big", COLUMNS)
    assert parts.final is None
    direct = _rows(_connection(None).execute(sql).to_arrow_table())
    assert sorted(_distributed(parts)) == sorted(direct)


def test_a_group_by_name_is_the_column_when_one_has_it() -> None:
    """DuckDB groups by a column before a select alias of the same name (then ``n`` is not
    a key, and DuckDB refuses the statement too)."""
    sql = "SELECT n % 2 AS k, COUNT(*) AS c FROM big GROUP BY k"
    assert "GROUP BY n % 2" in split(sql, "big", ("n",)).partial
    with pytest.raises(Unsplittable, match="the column n is neither aggregated"):
        split(sql, "big", COLUMNS)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT COUNT(*) FROM big a JOIN big b ON a.k = b.k", "read 2 times"),
        ("SELECT COUNT(*) FROM small WHERE g IN (SELECT g FROM big)", "inside IN"),
        ("WITH b AS (SELECT * FROM big) SELECT COUNT(*) FROM b", "WITH clause"),
        ("SELECT k, SUM(x) OVER (ORDER BY k) FROM big", "window function"),
        ("SELECT COUNT(DISTINCT g) FROM big", "does not decompose"),
        ("SELECT MEDIAN(x) FROM big", "does not decompose"),
        ("SELECT FSUM(d) FROM big", "does not decompose"),
        ("SELECT MAX(k, 3) FROM big", "does not decompose"),
        ("SELECT COUNT(*) FROM small LEFT JOIN big ON small.g = big.g", "joined side of a LEFT"),
        ("SELECT COUNT(*) FROM big RIGHT JOIN small ON small.g = big.g", "RIGHT JOIN beside"),
        ("SELECT COUNT(*) FROM big FULL JOIN small ON small.g = big.g", "FULL JOIN beside"),
        ("SELECT COUNT(*) FROM small ASOF JOIN big ON small.g >= big.g", "joined side of a ASOF"),
        ("SELECT COUNT(*) FROM small POSITIONAL JOIN big", "joined side of a POSITIONAL"),
        ("SELECT COUNT(*) FROM small SEMI JOIN big ON small.g = big.g", "joined side of a SEMI"),
        ("SELECT g, COUNT(*) FROM big GROUP BY ROLLUP (g)", "GROUP BY ROLLUP"),
        ("SELECT k FROM big ORDER BY k", "without aggregates has ORDER"),
        ("SELECT k FROM big LIMIT 3", "without aggregates has LIMIT"),
        ("SELECT DISTINCT g FROM big", "without aggregates has DISTINCT"),
        ("SELECT g, k, COUNT(*) FROM big GROUP BY g", "column k is neither aggregated"),
        ("SELECT SUM(c) FROM (SELECT g, COUNT(*) AS c FROM big GROUP BY g) t", "derived table"),
        ("SELECT COUNT(*) FROM (SELECT * FROM big LIMIT 5) t", "derived table"),
        ("SELECT COUNT(*) FROM (SELECT g FROM big UNION ALL SELECT g FROM small) t", "UNION"),
        ("SELECT k FROM big UNION SELECT 1", "not one SELECT"),
        ("SELECT COUNT(*), (SELECT MAX(label) FROM small) FROM big", "subquery over other"),
        ("SELECT g, COUNT(*) FROM big GROUP BY g QUALIFY COUNT(*) > 1", "QUALIFY"),
    ],
)
def test_refused_with_the_reason(sql: str, reason: str) -> None:
    with pytest.raises(Unsplittable, match=reason) as refused:
        split(sql, "big", COLUMNS)
    assert isinstance(refused.value, Invalid)
    assert refused.value.details == {"field": "engine"}
    assert refused.value.message == f"the statement cannot run on the Ray engine: {reason}" or (
        reason in refused.value.reason
    )
