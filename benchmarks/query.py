"""TPC-H through Lakehold's statements path vs raw DuckDB over the same Delta files.

Usage: python benchmarks/query.py [--scale 1] [--repeat 3] [--data bench-data/tpch]

Each of the 22 queries runs through ``StatementService.execute`` (parse, sandbox check,
resolution to Delta snapshots, a fresh locked-down DuckDB connection) and through a plain DuckDB
connection with views over the same Parquet files. Prints per-query medians and the ratio
(goal: total ratio at most 1.10).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from lakehold.config import Settings
from lakehold.runtime import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.tpch import TABLES, active_files, generate, load, queries


def raw_connection(runtime: Runtime) -> duckdb.DuckDBPyConnection:
    """Plain DuckDB with a view per table over the same active Delta files."""
    con = duckdb.connect()
    for name in TABLES:
        files = active_files(runtime, name)
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files!r})")
    return con


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("bench-data/tpch"))
    args = parser.parse_args()

    parquet = generate(args.scale, args.data / f"sf{args.scale:g}")
    with tempfile.TemporaryDirectory() as home:
        runtime = Runtime(Settings(home=Path(home), max_rows=10_000_000))
        principal = load(runtime, parquet)
        raw = raw_connection(runtime)
        print(f"TPC-H SF{args.scale:g}, {args.repeat} runs each, median seconds")
        print(f"{'query':>5} {'lakehold':>10} {'raw duckdb':>11} {'ratio':>7}")
        totals = [0.0, 0.0]
        for number, sql in queries():
            ours, theirs = [], []
            for _ in range(args.repeat):
                theirs.append(timed(lambda sql=sql: raw.execute(sql).fetch_arrow_table()))
                ours.append(
                    timed(
                        lambda sql=sql: runtime.statements.execute(
                            principal, sql, project="tpch", limit=10_000_000
                        )
                    )
                )
            a, b = statistics.median(ours), statistics.median(theirs)
            totals[0] += a
            totals[1] += b
            print(f"{number:>5} {a:>10.4f} {b:>11.4f} {a / b:>7.3f}")
        print(
            f"{'total':>5} {totals[0]:>10.4f} {totals[1]:>11.4f} {totals[0] / totals[1]:>7.3f}"
            "  (goal ≤ 1.10)"
        )
        runtime.close()


if __name__ == "__main__":
    main()
