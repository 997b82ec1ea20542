"""Insertion order is dropped only when the answer cannot depend on it, and the row filter's
LIMIT barrier still keeps every user predicate away from hidden rows when it is."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehold.errors import Invalid
from lakehold.query import Plan, TableRef, prepare, run
from lakehold.query.execute import setup_sql

EVENTS = TableRef("retail", "events")
ROWS = 400_000


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a FROM t ORDER BY a",
        "SELECT a, count(*) FROM t GROUP BY a",
        "SELECT count(*) FROM t",
        "SELECT sum(a) FROM t WHERE a > (SELECT min(a) FROM t)",
        "SELECT a FROM t ORDER BY a LIMIT 5",
        "SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 3) s ORDER BY a",
        "SELECT a FROM t UNION ALL SELECT a FROM t ORDER BY 1",
        "WITH s AS (SELECT a FROM t) SELECT a FROM s ORDER BY a",
    ],
)
def test_statements_whose_answer_is_fixed_may_drop_insertion_order(sql):
    assert prepare(sql.replace(" t", " retail.t"), default_project="retail").order_free


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a FROM t",
        "SELECT a FROM t LIMIT 5",
        "SELECT count(*) FROM (SELECT a FROM t LIMIT 5) s",
        "SELECT a FROM t ORDER BY a OFFSET 0",
        "SELECT count(*) FROM (SELECT a FROM t OFFSET 3) s",
        "SELECT a, row_number() OVER () FROM t ORDER BY a",
        "SELECT (SELECT max(a) FROM t), b FROM t",
        "SELECT a FROM t UNION ALL SELECT a FROM t",
    ],
)
def test_statements_that_read_rows_in_order_keep_it(sql):
    prepared = prepare(sql.replace(" t", " retail.t"), default_project="retail")
    expected = "ORDER BY a OFFSET" in sql  # ordered: OFFSET picks rows of a fixed order
    assert prepared.order_free is expected


def test_insertion_order_is_only_dropped_when_asked():
    plan = Plan(sql="SELECT 1")
    assert "preserve_insertion_order" not in setup_sql(plan)
    assert "SET preserve_insertion_order=false" in setup_sql(plan, keep_order=False)


@pytest.fixture
def events(tmp_path: Path) -> Path:
    """Enough rows (several row groups) for DuckDB to read them in parallel; every third
    row is secret."""
    path = tmp_path / "warehouse" / "retail" / "events"
    ids = pa.array(range(ROWS), pa.int64())
    write_deltalake(
        str(path),
        pa.table(
            {
                "id": ids,
                "visible": pa.array([i % 3 != 0 for i in range(ROWS)]),
                "label": pa.array(["ok" if i % 3 else f"secret-{i}" for i in range(ROWS)]),
            }
        ),
    )
    return path


@pytest.mark.parametrize(
    "probe",
    [
        "CASE WHEN label LIKE 'secret%' THEN error(label) ELSE true END",
        "CASE WHEN label <> 'ok' THEN CAST(label AS INT) = 1 ELSE true END",
        "CAST(label AS INT) = 1",
    ],
)
def test_parallel_row_filter_never_lets_a_user_predicate_see_hidden_rows(events, bind, probe):
    """The probes raise on a hidden row, naming it; over an order-free statement (insertion
    order off, the barrier in parallel) they only ever see visible rows. The row filter is an
    expression DuckDB cannot turn into a scan filter, so it is evaluated like the probe."""
    table = bind(events, columns=["id", "label"], row_filter="visible = (id >= 0)")
    sql = f"SELECT count(*) AS n, min(label) AS l FROM retail.events WHERE {probe}"
    prepared = prepare(sql, default_project="retail")
    assert prepared.order_free
    try:
        got = run(prepared, {EVENTS: table}, max_rows=10, threads=2).table.to_pylist()
    except Invalid as error:  # a probe may fail on a visible row, never name a hidden one
        assert "secret" not in error.message
    else:
        assert got == [{"n": sum(1 for i in range(ROWS) if i % 3), "l": "ok"}]
