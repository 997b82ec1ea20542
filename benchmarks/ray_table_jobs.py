"""Table jobs on Ray: a CDC merge and a compaction of a large table, in process vs on a cluster.

Usage (Ray in the environment, as for ``ray_engines.py --engine duckdb-tasks``):

    PYTHONPATH=. .venv/bin/python benchmarks/ray_table_jobs.py [--rows 12000000]
        [--change-fraction 0.05] [--workers 1 2]
        [--lineitem bench-data/tpch/sf5/lineitem.parquet]

The table is the first ``--rows`` rows of a TPC-H ``lineitem`` Parquet file (key
``l_orderkey, l_linenumber``; dbgen writes it in key order), created through
``TableService.create_table`` in a fresh Lakehold home (several files of ~100 MB). The CDC
batch changes ``--change-fraction`` of it, spread over every file: 80% updates, 10% deletes of
existing keys, 10% inserts of new keys (a Parquet file, as a user uploads it). Each engine
writes it through ``TableService.write(mode="cdc")`` and then runs ``TableService.optimize``:
in process (``engine="duckdb"``), then for each worker count on a real ``ray start --head
--num-cpus N`` cluster (:func:`tests.cluster.ray_cluster.ray_cluster`, configured as
``LAKEHOLD_RAY_ADDRESS``) with ``engine="ray"``, joined before the clock starts (a serving
Lakehold joins once); the table is restored to its first version before each. One run each
(a job rewrites the table). Prints seconds, the ratio to the in-process job, the files after
each step, the merge's counts, peak RSS of the largest Ray worker process and of the driver,
and whether the table equals the in-process result (row count and an order-independent
checksum of every column, after the merge and after optimize).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb
import ray  # noqa: F401 - the cluster's client; its bundled psutil serves ray_measure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.ray_measure import Sampler, Usage, loadavg
from lakehold.catalog.tables import DataSource, TableService
from lakehold.cluster import ray_client
from lakehold.cluster.routing import Engine
from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.cluster.ray_cluster import ray_cluster

PROJECT, TABLE = "bench", "lineitem"
KEYS = ["l_orderkey", "l_linenumber"]
T = TypeVar("T")


def make_inputs(lineitem: Path, rows: int, fraction: float, folder: Path) -> tuple[Path, Path]:
    """The table's rows and the CDC batch, as Parquet files in ``folder``."""
    base, changes = folder / "base.parquet", folder / "changes.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_parquet(?) LIMIT {rows}) TO '{base}' (FORMAT parquet)",
        [str(lineitem)],
    )
    every = round(1 / (fraction * 0.9))  # updates and deletes: 90% of the changes
    top = con.execute(f"SELECT max(l_orderkey) FROM '{base}'").fetchone()[0]  # type: ignore[index]
    con.execute(
        f"""COPY (
          SELECT CASE WHEN hash(l_orderkey, l_linenumber) % {every * 9} < {every * 8}
                 THEN 'U' ELSE 'D' END AS op,
                 * REPLACE (l_quantity + 1 AS l_quantity, 'changed' AS l_comment,
                            l_shipdate + 1 AS l_shipdate)
          FROM '{base}' WHERE hash(l_orderkey, l_linenumber) % {every} = 0
          UNION ALL
          SELECT 'I', * REPLACE (l_orderkey + {top} AS l_orderkey, 'new' AS l_comment)
          FROM '{base}' WHERE hash(l_orderkey, l_linenumber) % {every * 9} = 1
        ) TO '{changes}' (FORMAT parquet)"""
    )
    con.close()
    return base, changes


@dataclass
class Outcome:
    """One engine's merge and optimize: times, files, counts, the table's checksums."""

    label: str
    merge_s: float
    optimize_s: float
    merge_usage: Usage
    optimize_usage: Usage
    files: tuple[int, int]
    counts: tuple[int, int, int]
    merged: tuple[int, int]
    optimized: tuple[int, int]
    note: str


def checksum(runtime: Runtime) -> tuple[int, int]:
    """Rows and the sum of a hash of every column (by name) of the table's current version."""
    snapshot = runtime.tables.snapshot(runtime.tables.path_for(PROJECT, TABLE))
    columns = ", ".join(f'"{name}"' for name in sorted(snapshot.schema.names))
    con = duckdb.connect()
    try:
        found = con.execute(
            f"SELECT count(*), sum(hash({columns}))::HUGEINT FROM read_parquet(?)",
            [snapshot.files],
        ).fetchone()
    finally:
        con.close()
    assert found is not None
    return int(found[0]), int(found[1])


def files_now(runtime: Runtime) -> int:
    return len(runtime.tables.snapshot(runtime.tables.path_for(PROJECT, TABLE)).files)


def timed(action: Callable[[], T]) -> tuple[float, Usage, T]:
    with Sampler() as sampler:
        started = time.perf_counter()
        done = action()
        elapsed = time.perf_counter() - started
    return elapsed, sampler.usage(), done


def job(runtime: Runtime, who: Principal, changes: Path, engine: Engine, label: str) -> Outcome:
    """The CDC merge, then optimize, on ``engine``."""
    service: TableService = runtime.table_service
    merge_s, merge_usage, written = timed(
        lambda: service.write(
            who, PROJECT, TABLE, DataSource(changes), mode="cdc", keys=KEYS, engine=engine
        )
    )
    result = written.result
    after_merge, merged = files_now(runtime), checksum(runtime)
    optimize_s, optimize_usage, metrics = timed(
        lambda: service.optimize(who, PROJECT, TABLE, engine=engine)
    )
    notes = [f"merge ran on {result.engine}", f"optimize on {metrics['engine']}"]
    notes += [n for n in (result.engine_note, metrics.get("engine_note")) if n]
    return Outcome(
        label,
        merge_s,
        optimize_s,
        merge_usage,
        optimize_usage,
        (after_merge, files_now(runtime)),
        (result.rows_updated, result.rows_deleted, result.rows_inserted),
        merged,
        checksum(runtime),
        "; ".join(notes),
    )


def report(outcomes: list[Outcome]) -> None:
    local = outcomes[0]
    print(
        f"{'engine':<10}{'merge s':>9}{'ratio':>7}{'optimize s':>12}{'ratio':>7}"
        f"{'files':>9}{'updated':>10}{'deleted':>9}{'inserted':>10}{'rows':>12}  {'equal':<6}"
        f"{'worker MB':>10}{'driver MB':>10}  note"
    )
    for o in outcomes:
        equal = o.merged == local.merged and o.optimized == local.optimized
        worker = max(o.merge_usage.worker_mb, o.optimize_usage.worker_mb)
        driver = max(o.merge_usage.driver_mb, o.optimize_usage.driver_mb)
        print(
            f"{o.label:<10}{o.merge_s:>9.2f}{o.merge_s / local.merge_s:>7.2f}"
            f"{o.optimize_s:>12.2f}{o.optimize_s / local.optimize_s:>7.2f}"
            f"{f'{o.files[0]}/{o.files[1]}':>9}{o.counts[0]:>10,}{o.counts[1]:>9,}"
            f"{o.counts[2]:>10,}{o.optimized[0]:>12,}  {'yes' if equal else 'NO':<6}"
            f"{worker:>10.0f}{driver:>10.0f}  {o.note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12_000_000, help="table rows")
    parser.add_argument("--change-fraction", type=float, default=0.05)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray CPUs")
    parser.add_argument(
        "--lineitem", type=Path, default=Path("bench-data/tpch/sf5/lineitem.parquet")
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp"), help="for the Lakehold home")
    args = parser.parse_args()

    print(f"# load {loadavg()}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lh-ray-jobs-", dir=args.work) as root:
        folder = Path(root)
        base, changes = make_inputs(args.lineitem, args.rows, args.change_fraction, folder)
        home = folder / "home"
        runtime = Runtime(Settings(home=home))
        created = runtime.security.bootstrap()
        assert created is not None
        token = created[1]
        admin = runtime.security.authenticate(token)
        runtime.catalog.create_domain(admin, "Bench")
        runtime.catalog.create_project(admin, PROJECT, "Bench")
        first = runtime.table_service.create_table(
            admin, PROJECT, TABLE, DataSource(base), keys=KEYS
        ).result
        batch = duckdb.sql(f"SELECT op, count(*) FROM '{changes}' GROUP BY op ORDER BY op")
        print(
            f"# table {first.snapshot.num_rows:,} rows in {len(first.snapshot.files)} files "
            f"({first.snapshot.size_bytes / (1 << 20):.0f} MB); CDC batch "
            + ", ".join(f"{op} {n:,}" for op, n in batch.fetchall())
            + f"; set-up {time.perf_counter() - started:.0f} s"
        )
        outcomes = [job(runtime, admin, changes, "duckdb", "local")]
        runtime.close()
        for workers in args.workers:
            with ray_cluster(cpus=workers) as address:
                runtime = Runtime(Settings(home=home, ray_address=address))
                try:
                    admin = runtime.security.authenticate(token)
                    runtime.table_service.restore(admin, PROJECT, TABLE, first.version)
                    joined = time.perf_counter()
                    ray_client.connect(address)  # once per process, as a serving Lakehold does
                    print(
                        f"# Ray {workers} CPU at {address}, joined in "
                        f"{time.perf_counter() - joined:.1f} s: load {loadavg()}"
                    )
                    outcomes.append(job(runtime, admin, changes, "ray", f"ray w={workers}"))
                finally:
                    runtime.close()
        report(outcomes)
    print(f"# load at the end {loadavg()}; {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
