"""Governed TPC-H on Ray: Daft, DuckDB per task, Ray Data vs Lakehold's single-process DuckDB.

Usage (each engine in the environment that has it; see docs/adr/0040-distributed-engine.md):

    PYTHONPATH=. .venv/bin/python benchmarks/ray_engines.py --engine duckdb-tasks [--all]
    /tmp/venv-ray/bin/python benchmarks/ray_engines.py --engine ray-data
    /tmp/venv-daft/bin/python benchmarks/ray_engines.py --engine daft [--all]
    options: --scale 1 --workers 1 2 --repeat 3 --queries 1 3 6 --address HOST:PORT

Every query is planned by Lakehold for user ``analyst`` under a filtered grant
(:mod:`benchmarks.ray_lakehouse`); every engine reads that plan's files with its projection
and row filter. ``duckdb-tasks`` is the product's Ray engine,
:func:`lakehold.cluster.statements.run_on_cluster`, on a real cluster: for each worker count
``ray start --head --num-cpus N`` in a process group of its own
(:func:`tests.cluster.ray_cluster.ray_cluster`), stopped afterwards. Daft and Ray Data start
one in process (``ray.init(num_cpus=N)``). ``--address`` uses a running cluster instead. The
baseline is Lakehold's own engine (``lakehold.query.run``) with as many DuckDB threads, timed
in the same process, interleaved with the engine (baseline, engine, next query; ``--repeat``
rounds). One line per engine x query x workers: median seconds [min-max], ratio of medians to
the baseline, equal values (yes / no / approx: Daft had DECIMAL cast to DOUBLE), peak RSS of
the largest Ray worker process and of the driver, MB read by all processes (``rchar``).

Two probes run with the TPC-H queries:

- ``scan``: reads every granted ``lineitem`` column (sums over each) -- its MB read against
  the granted columns' bytes shows whether ungranted columns stay in storage, its
  ``first_ship`` (>= 1993-01-01) and count whether hidden rows came out of the reader;
- ``barrier``: a predicate that fails (Daft, Arrow: division by zero) or would fail on a row
  the grant hides; it must give the visible count and no error (the LIMIT barrier of ADR 6).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import ray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.ray_lakehouse import GovernedQuery, Lakehouse
from benchmarks.ray_measure import Sampler, Usage, loadavg, same_rows
from lakehold.cluster.statements import Unsplittable, check_splits, run_on_cluster
from lakehold.config import Settings
from lakehold.query import run

SCAN = """SELECT count(*) AS n, min(l_shipdate) AS first_ship,
  sum(l_orderkey + l_partkey + l_suppkey + l_linenumber) AS keys,
  sum(l_quantity + l_extendedprice + l_discount + l_tax) AS amounts,
  sum(length(l_returnflag) + length(l_linestatus) + length(l_shipinstruct)
      + length(l_shipmode)) AS text,
  sum(day(l_shipdate) + day(l_commitdate) + day(l_receiptdate)) AS days
FROM lineitem"""
BARRIER = """SELECT count(*) AS n FROM lineitem
WHERE l_orderkey % (CASE WHEN l_shipdate < DATE '1993-01-01' THEN 0 ELSE 1 END) = 0"""
PROBES = {"scan": SCAN, "barrier": BARRIER}
PROBE_NUMBERS = {"scan": 101, "barrier": 102}


class DuckDBTasks:
    """The product's Ray engine: split, one DuckDB task per slice, merge (ADR 40)."""

    def __init__(self, address: str, memory_limit: str | None) -> None:
        self.address = address
        self.memory_limit = memory_limit

    def supports(self, query: GovernedQuery) -> str | None:
        try:
            check_splits(query.prepared, query.resolved)
        except Unsplittable as refused:
            return refused.reason
        return None

    def run(self, query: GovernedQuery) -> pa.Table:
        return run_on_cluster(
            query.prepared,
            query.resolved,
            address=self.address,
            max_rows=10_000_000,
            timeout_s=None,
            memory_limit=self.memory_limit,
            cancel=None,
        ).table


def make_engine(name: str, address: str, memory_limit: str | None, barrier: bool) -> object:
    if name == "duckdb-tasks":
        return DuckDBTasks(address, memory_limit)
    if name == "ray-data":
        from benchmarks.ray_dataset import RayData

        return RayData()
    from benchmarks.ray_daft import Daft

    return Daft(barrier)


def timed(action: Callable[[], pa.Table]) -> tuple[float, Usage, pa.Table]:
    with Sampler() as sampler:
        started = time.perf_counter()
        table = action()
        elapsed = time.perf_counter() - started
    return elapsed, sampler.usage(), table


def column_mb(lakehouse: Lakehouse, query: GovernedQuery) -> tuple[float, float, float]:
    """MB of lineitem's granted columns, of its ungranted ones, of the whole files."""
    table = next(t for v, t in query.tables.items() if query.names[v] == "lineitem")
    granted = set(table.columns or table.schema.names)
    sizes = {"granted": 0, "other": 0}
    for file in table.files:
        meta = pq.ParquetFile(file).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                key = "granted" if chunk.path_in_schema in granted else "other"
                sizes[key] += chunk.total_compressed_size
    mb = 1 << 20
    return sizes["granted"] / mb, sizes["other"] / mb, sum(sizes.values()) / mb


def one_cluster(args: argparse.Namespace, workers: int) -> None:
    lakehouse = Lakehouse(args.home, args.scale, args.data)
    numbers = None if args.all else args.queries
    work = [lakehouse.query(PROBE_NUMBERS[n], sql) for n, sql in PROBES.items()]
    work += lakehouse.tpch(numbers)
    labels = {q.number: name for name, q in zip(PROBES, work, strict=False)}

    with contextlib.ExitStack() as stack:
        started = time.perf_counter()
        address = start_cluster(args, workers, stack)
        measure(args, workers, lakehouse, work, labels, address, time.perf_counter() - started)
    lakehouse.close()


def start_cluster(args: argparse.Namespace, workers: int, stack: contextlib.ExitStack) -> str:
    """Join (``--address``) or start the cluster of this run, left when ``stack`` closes;
    its address (``""``: the one ``ray.init`` started in this process)."""
    if args.engine == "duckdb-tasks":
        from lakehold.cluster import ray_client
        from tests.cluster.ray_cluster import ray_cluster

        address = args.address or stack.enter_context(ray_cluster(cpus=workers))
        ray_client.connect(address)
        stack.callback(ray_client.disconnect)
        return str(address)
    if args.address:
        ray.init(address=args.address, log_to_driver=False)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    stack.callback(ray.shutdown)
    if args.engine == "daft":
        import daft

        daft.set_runner_ray()
    return args.address or ""


def measure(
    args: argparse.Namespace,
    workers: int,
    lakehouse: Lakehouse,
    work: list[GovernedQuery],
    labels: dict[int, str],
    address: str,
    start_s: float,
) -> None:
    cpus = int(ray.cluster_resources().get("CPU", 0))
    engine = make_engine(args.engine, address, args.memory_limit, not args.no_barrier)
    name = args.engine + (" (no barrier)" if args.no_barrier else "")
    print(
        f"# {name}, SF{args.scale:g}, Ray {ray.__version__} with {cpus} CPU "
        f"(started in {start_s:.1f} s), pyarrow {pa.__version__}; "
        f"load {loadavg()}"
    )

    def baseline(query: GovernedQuery) -> pa.Table:
        return run(query.prepared, query.resolved, max_rows=10_000_000, threads=workers).table

    results: dict[int, dict[str, object]] = {}
    for query in work:  # the first run: cold times, results, what an engine cannot run
        entry: dict[str, object] = {"ours": [], "theirs": [], "usage": [], "base_usage": []}
        results[query.number] = entry
        why = engine.supports(query)  # type: ignore[attr-defined]
        if why:
            entry["skip"] = why
            continue
        _, _, expected = timed(lambda q=query: baseline(q))
        try:
            first, _, got = timed(lambda q=query: engine.run(q))  # type: ignore[attr-defined]
        except Exception as error:  # an engine's refusal or failure is a finding, not a crash
            entry["skip"] = f"fails: {type(error).__name__}: {str(error).splitlines()[0][:150]}"
            continue
        entry["first"] = first
        entry["expected"], entry["got"] = expected, got
        ordered = "ORDER BY" in query.plan.sql.upper()
        equal, why_not = same_rows(got, expected, ordered)
        if not equal and ordered and same_rows(got, expected, False)[0]:
            equal, why_not = True, "same rows, ties in another order"
        entry["equal"], entry["why"] = equal, why_not
        entry["mode"] = getattr(engine, "mode", "")

    for _ in range(args.repeat):  # interleaved: baseline, engine, next query
        for query in work:
            entry = results[query.number]
            if "skip" in entry:
                continue
            seconds, usage, _ = timed(lambda q=query: baseline(q))
            entry["theirs"].append(seconds)  # type: ignore[attr-defined]
            entry["base_usage"].append(usage)  # type: ignore[attr-defined]
            seconds, usage, _ = timed(lambda q=query: engine.run(q))  # type: ignore[attr-defined]
            entry["ours"].append(seconds)  # type: ignore[attr-defined]
            entry["usage"].append(usage)  # type: ignore[attr-defined]

    print(
        f"{'engine':<13}{'query':>8}{'w':>3}{'median s':>10}{'range':>15}{'duckdb s':>10}"
        f"{'ratio':>7}{'first s':>8}  {'equal':<7}{'worker MB':>10}{'driver MB':>10}"
        f"{'read MB':>9}{'duck MB':>9}  note"
    )
    for query in work:
        entry = results[query.number]
        label = labels.get(query.number, f"Q{query.number}")
        if "skip" in entry:
            print(f"{args.engine:<13}{label:>8}{workers:>3}  n/a: {entry['skip']}")
            continue
        ours, theirs = entry["ours"], entry["theirs"]
        usage, base = entry["usage"], entry["base_usage"]
        a, b = statistics.median(ours), statistics.median(theirs)  # type: ignore[arg-type]
        span = f"[{min(ours):.2f}-{max(ours):.2f}]"  # type: ignore[type-var]
        equal = ("approx" if "approx" in str(entry["mode"]) else "yes") if entry["equal"] else "no"
        note = str(entry["mode"]) if entry["mode"] not in ("", "exact") else ""
        if not entry["equal"]:
            note = f"{entry['why']}"
        elif entry["why"]:
            note = f"{note} {entry['why']}".strip()
        if query.number == PROBE_NUMBERS["scan"]:
            first_ship = entry["got"].column(1)[0].as_py()  # type: ignore[attr-defined]
            granted, other, whole = column_mb(lakehouse, query)
            hidden_out = "no" if str(first_ship) >= "1993-01-01" else "YES"
            note = (
                f"first_ship {first_ship} (hidden rows out: {hidden_out}); lineitem granted "
                f"columns {granted:.0f} MB, ungranted {other:.0f} MB, files {whole:.0f} MB"
            )
        print(
            f"{args.engine:<13}{label:>8}{workers:>3}{a:>10.3f}{span:>15}{b:>10.3f}{a / b:>7.2f}"
            f"{entry['first']:>8.2f}  {equal:<7}"
            f"{max(u.worker_mb for u in usage):>10.0f}{max(u.driver_mb for u in usage):>10.0f}"  # type: ignore[attr-defined]
            f"{statistics.median(u.read_mb for u in usage):>9.0f}"  # type: ignore[attr-defined]
            f"{statistics.median(u.read_mb for u in base):>9.0f}  {note}"  # type: ignore[attr-defined]
        )
    print(f"# load at the end {loadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("duckdb-tasks", "ray-data", "daft"), required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray CPUs")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs per query")
    parser.add_argument("--queries", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--all", action="store_true", help="All 22 TPC-H queries")
    parser.add_argument("--address", help="A running Ray cluster (else one per worker count)")
    parser.add_argument(
        "--memory-limit",
        default=Settings.model_fields["ray_task_memory_limit"].default,
        help="DuckDB memory_limit of each task (default: LAKEHOLD_RAY_TASK_MEMORY_LIMIT's)",
    )
    parser.add_argument(
        "--no-barrier", action="store_true", help="Daft: no LIMIT above the row filter"
    )
    parser.add_argument("--data", type=Path, default=Path("bench-data/tpch"))
    parser.add_argument("--home", type=Path, help="Lakehold home (default: under --data)")
    args = parser.parse_args()
    args.home = args.home or args.data / f"ray-home-sf{args.scale:g}"
    if len(args.workers) == 1 or args.address:
        one_cluster(args, args.workers[0])
        return
    # one process per cluster size: Ray and Daft's runner are set once per process
    for workers in args.workers:
        command = [sys.executable, __file__, *sys.argv[1:], "--workers", str(workers)]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
