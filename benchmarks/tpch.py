"""TPC-H data and queries for benchmarks, from DuckDB's tpch extension (loaded by path)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import duckdb

TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


def extension_path() -> str:
    """The tpch extension shipped by the ``duckdb-extension-tpch`` package."""
    import duckdb_extension_tpch

    root = os.path.dirname(duckdb_extension_tpch.__file__)
    found = glob.glob(f"{root}/extensions/v{duckdb.__version__}/tpch.duckdb_extension")
    if not found:
        raise SystemExit(f"no tpch extension for DuckDB {duckdb.__version__} under {root}")
    return found[0]


def generate(scale: float, target: Path) -> dict[str, Path]:
    """Write the TPC-H tables at ``scale`` as Parquet files; return their paths."""
    target.mkdir(parents=True, exist_ok=True)
    paths = {name: target / f"{name}.parquet" for name in TABLES}
    if all(p.exists() for p in paths.values()):
        return paths
    con = duckdb.connect()
    con.execute(f"LOAD '{extension_path()}'")
    con.execute(f"CALL dbgen(sf={scale})")
    for name, path in paths.items():
        con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
    return paths


def queries() -> list[tuple[int, str]]:
    """The 22 TPC-H queries as DuckDB ships them."""
    con = duckdb.connect()
    con.execute(f"LOAD '{extension_path()}'")
    return [
        (int(n), q) for n, q in con.execute("SELECT query_nr, query FROM tpch_queries()").fetchall()
    ]
