"""All 22 TPC-H queries (SF 0.01) pass the sandbox and match raw DuckDB over the same files.

Data and queries come from DuckDB's TPC-H extension (package duckdb-extension-tpch, loaded
by path); the tables are written as Delta tables with deltalake.
"""

from __future__ import annotations

import duckdb
import pytest
from deltalake import write_deltalake

from lakehold.query import TableRef, prepare, run

from .conftest import bind_delta, tpch_extension

TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


@pytest.fixture(scope="module")
def tpch(tmp_path_factory):
    extension = tpch_extension()
    if extension is None:
        pytest.skip("duckdb-extension-tpch is not installed")
    root = tmp_path_factory.mktemp("tpch")
    con = duckdb.connect()
    con.execute(f"LOAD '{extension}'")
    con.execute("CALL dbgen(sf = 0.01)")
    for name in TABLES:
        write_deltalake(str(root / name), con.execute(f"SELECT * FROM {name}").to_arrow_table())
    queries = dict(con.execute("SELECT query_nr, query FROM tpch_queries()").fetchall())
    con.close()
    resolved = {TableRef("tpch", name): bind_delta(root / name) for name in TABLES}
    raw = duckdb.connect()
    for ref, table in resolved.items():
        files = ", ".join(f"'{f}'" for f in table.files)
        raw.execute(f"CREATE VIEW {ref.table} AS SELECT * FROM read_parquet([{files}])")
    yield queries, resolved, raw
    raw.close()


@pytest.mark.parametrize("number", range(1, 23))
def test_tpch_query_matches_raw_duckdb(tpch, number):
    queries, resolved, raw = tpch
    sql = queries[number]
    prepared = prepare(sql, default_project="tpch")
    assert set(prepared.table_refs) <= set(resolved)
    result = run(prepared, resolved, max_rows=100_000)
    expected = raw.execute(sql).to_arrow_table()
    assert not result.truncated
    assert result.table.schema == expected.schema
    assert result.table.num_rows == expected.num_rows > 0
    assert result.table.equals(expected), f"Q{number} differs"
