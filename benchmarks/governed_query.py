"""TPC-H as a subscriber under a filtered grant vs raw DuckDB over equivalently filtered data.

Usage: python benchmarks/governed_query.py [--scale 1] [--repeat 3] [--data bench-data/tpch]
       [--database sqlite|postgresql] [--overhead-only]

The eight TPC-H tables are Lakehold tables of project ``tpch`` (owned by the admin) and are
published. User ``analyst`` of project ``analysts`` requests all eight; the owner approves
``lineitem`` with a row filter (``--row-filter``, default ``l_shipdate >= DATE '1993-01-01'``)
and a column filter that leaves out ``l_comment`` (no TPC-H query reads it), the other tables
in full.

Each of the 22 queries (table names qualified as ``tpch.<table>``) runs as the analyst acting in
``analysts`` through ``StatementService.execute`` and on a plain DuckDB connection whose schema
``tpch`` has a view per table over the same Parquet files -- ``lineitem`` with the same WHERE
and projection. Prints per-query medians, the total ratio (goal: at most 1.10), and the
governance overhead per query, measured on its own: ``prepare`` (parse, sandbox, qualify,
rewrite, verify; its cache cleared), access resolution (acting project, grant and filters,
Delta snapshot: ``StatementService._plan`` with ``prepare`` cached) and the plan (bind the
grant's columns and row filter into views): p50 and p95, in total for a statement seen for the
first time (cold) and for one whose text was prepared before (warm); goal: p50 at most 2 ms.
The metadata store is SQLite in the home, or a new PostgreSQL database (``--database``);
``--overhead-only`` skips the 22 timed queries (each is still checked against raw DuckDB).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from lakehold.config import Settings
from lakehold.governance.statements import StatementService
from lakehold.governance.subscriptions import ItemDecision
from lakehold.query import plan, prepare
from lakehold.query.engine import _prepare
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.fixed_cost import database_url
from benchmarks.tpch import TABLES, active_files, generate, load, queries

OMITTED = "l_comment"


def share(runtime: Runtime, admin: Principal, row_filter: str) -> Principal:
    """Publish the tables, have ``analyst`` (project ``analysts``) subscribe and approve
    ``lineitem`` with a row filter and a column filter; return the analyst."""
    runtime.security.create_user(admin, "analyst")
    token = runtime.security.create_token(admin, "bench", username="analyst")
    assert token.value is not None
    analyst = runtime.security.authenticate(token.value)
    runtime.catalog.create_project(analyst, "analysts", "Bench")
    listings = {t: runtime.listings.publish(admin, "tpch", t) for t in TABLES}
    columns = [c.name for c in listings["lineitem"].columns if c.name != OMITTED]
    runtime.filters.create_filter(
        admin, "tpch", "lineitem", "bench_rows", kind="row", expression=row_filter
    )
    runtime.filters.create_filter(
        admin, "tpch", "lineitem", "bench_columns", kind="column", columns=columns
    )
    request = runtime.subscriptions.request(
        analyst, "analysts", [listing.id for listing in listings.values()], "TPC-H benchmark"
    )
    decision = ItemDecision(listings["lineitem"].id, "bench_rows", "bench_columns")
    runtime.subscriptions.approve(admin, request.id, items=[decision])
    return analyst.in_project("analysts")


def qualified(sql: str) -> str:
    """The query with every TPC-H table named ``tpch.<table>`` (CTE names are left alone)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for table in tree.find_all(exp.Table):
        if table.name in TABLES and not table.db:
            table.set("db", exp.to_identifier("tpch"))
    return tree.sql(dialect="duckdb")


def raw_connection(runtime: Runtime, row_filter: str) -> duckdb.DuckDBPyConnection:
    """Plain DuckDB: schema ``tpch`` with views over the same files; ``lineitem`` filtered and
    projected like the grant."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA tpch")
    for name in TABLES:
        source = f"read_parquet({active_files(runtime, name)!r})"
        if name == "lineitem":
            columns = [d[0] for d in con.execute(f"SELECT * FROM {source} LIMIT 0").description]
            keep = ", ".join(c for c in columns if c != OMITTED)
            con.execute(
                f"CREATE VIEW tpch.lineitem AS SELECT {keep} FROM {source} WHERE {row_filter}"
            )
        else:
            con.execute(f"CREATE VIEW tpch.{name} AS SELECT * FROM {source}")
    return con


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fixed_cost(
    statements: StatementService, analyst: Principal, raw: duckdb.DuckDBPyConnection, kind: str
) -> None:
    """The cost a governed statement adds to a trivial one (in process, no HTTP): metadata
    writes, access, plan, a locked-down database; p50 of interleaved runs."""
    sql = "SELECT count(*) FROM tpch.nation"
    ours, theirs = [], []
    for _ in range(200):
        theirs.append(timed(lambda: raw.execute(sql).fetchall()))
        ours.append(timed(lambda: statements.execute(analyst, sql, project="analysts")))
    added = (statistics.median(ours) - statistics.median(theirs)) * 1000
    goal = 3.0 if kind == "sqlite" else 5.0
    print(f"trivial statement: +{added:.2f} ms p50 over raw DuckDB ({kind} metadata, in process)")
    print(f"verdict: fixed cost {'meets' if added <= goal else 'misses'} {goal:g} ms ({kind})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per query (median)")
    parser.add_argument("--data", type=Path, default=Path("bench-data/tpch"))
    parser.add_argument(
        "--row-filter",
        default="l_shipdate >= DATE '1993-01-01'",
        help="Row filter of the lineitem grant",
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--overhead-only", action="store_true", help="Skip the timed queries")
    args = parser.parse_args()

    parquet = generate(args.scale, args.data / f"sf{args.scale:g}")
    with tempfile.TemporaryDirectory() as home, database_url(args.database) as url:
        store = {"database_url": url} if url else {}
        runtime = Runtime(Settings(home=Path(home), max_rows=10_000_000, **store))
        analyst = share(runtime, load(runtime, parquet), args.row_filter)
        raw = raw_connection(runtime, args.row_filter)
        statements = runtime.statements
        work = [(number, qualified(sql)) for number, sql in queries()]

        print(
            f"TPC-H SF{args.scale:g} as a subscriber (lineitem: WHERE {args.row_filter}, "
            f"without {OMITTED}); {args.repeat} runs each, median seconds"
        )
        print(f"{'query':>5} {'lakehold':>10} {'raw duckdb':>11} {'ratio':>7} {'rows':>8}")
        totals = [0.0, 0.0]
        for number, sql in work:
            ours, theirs = [], []
            for _ in range(0 if args.overhead_only else args.repeat):
                theirs.append(timed(lambda sql=sql: raw.execute(sql).to_arrow_table()))
                ours.append(
                    timed(
                        lambda sql=sql: statements.execute(
                            analyst, sql, project="analysts", limit=10_000_000
                        )
                    )
                )
            got = statements.execute(analyst, sql, project="analysts", limit=10_000_000).table
            expected = raw.execute(sql).to_arrow_table()
            if got.num_rows != expected.num_rows:
                raise SystemExit(f"query {number}: {got.num_rows} rows, raw {expected.num_rows}")
            if args.overhead_only:
                continue
            a, b = statistics.median(ours), statistics.median(theirs)
            totals[0] += a
            totals[1] += b
            print(f"{number:>5} {a:>10.4f} {b:>11.4f} {a / b:>7.3f} {got.num_rows:>8}")
        if not args.overhead_only:
            ratio = totals[0] / totals[1]
            total = f"{'total':>5} {totals[0]:>10.4f} {totals[1]:>11.4f} {ratio:>7.3f}"
            print(f"{total}  (goal ≤ 1.10)")
            verdict = "meets" if ratio <= 1.10 else "misses"
            print(f"verdict: subscriber ratio {ratio:.3f} {verdict} the goal of 1.10")
        fixed_cost(statements, analyst, raw, args.database)

        phases: dict[str, list[float]] = {
            "prepare": [],
            "access": [],
            "plan": [],
            "cold": [],
            "warm": [],
        }
        for _ in range(max(args.repeat, 5)):
            for _number, sql in work:
                _prepare.cache_clear()
                t_prepare = timed(
                    lambda sql=sql: prepare(sql, default_project="analysts", allow_ctas=True)
                )
                started = time.perf_counter()
                planned = statements._plan(analyst, sql, "analysts", "duckdb", allow_ctas=True)
                t_access = time.perf_counter() - started
                t_plan = timed(lambda p=planned: plan(p.prepared, p.resolved))
                cold = t_prepare + t_access + t_plan
                warm = t_access + t_plan  # _plan found the statement in the prepare cache
                values = (t_prepare, t_access, t_plan, cold, warm)
                for name, value in zip(phases, values, strict=True):
                    phases[name].append(value * 1000)
        print(f"governance overhead per query, ms ({len(phases['cold'])} samples)")
        print(f"{'phase':>8} {'p50':>8} {'p95':>8}")
        for name, values in phases.items():
            print(f"{name:>8} {percentile(values, 0.5):>8.3f} {percentile(values, 0.95):>8.3f}")
        print("cold: a statement seen for the first time; warm: the same text again (dashboards)")
        for name in ("cold", "warm"):
            p50 = percentile(phases[name], 0.5)
            verdict = "meets" if p50 <= 2 else "misses"
            print(f"verdict: {name} overhead p50 {p50:.2f} ms {verdict} 2 ms ({args.database})")
        raw.close()
        runtime.close()


if __name__ == "__main__":
    main()
