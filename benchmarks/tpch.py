"""TPC-H data and queries for benchmarks, from DuckDB's tpch extension (loaded by path)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import duckdb

from lakehold.catalog.tables import DataSource
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

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


def load(runtime: Runtime, parquet: dict[str, Path], project: str = "tpch") -> Principal:
    """Create one Lakehold table per TPC-H table in ``project`` (domain Bench); return the
    bootstrap admin, who owns the project."""
    created = runtime.security.bootstrap()
    assert created is not None, "load() needs a fresh Lakehold home"
    admin = runtime.security.authenticate(created[1])
    runtime.catalog.create_domain(admin, "Bench")
    runtime.catalog.create_project(admin, project, "Bench")
    for name in TABLES:
        runtime.table_service.create_table(admin, project, name, DataSource(parquet[name]))
    return admin


def active_files(runtime: Runtime, table: str, project: str = "tpch") -> list[str]:
    """The Parquet files of the current version of a Lakehold table."""
    return runtime.tables.snapshot(runtime.tables.path_for(project, table)).files
