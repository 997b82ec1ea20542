"""The pivot page (/pivot) over a large table: statements issued and time per opened level.

Usage: python benchmarks/pivot.py [--rows 1000000] [--customers 100000] [--regions 5]
                                  [--cols channel] [--repeat 3]

DuckDB generates ``--rows`` sales (region -> customer, each customer in one region, so a region
has customers/regions of them; channel has 3 members) into a Parquet file, loaded as the Lakehold
table ``bench.sales`` through the table service. User ``ana`` (owner of ``bench``) signs in to
the portal (in process) and builds the pivot rows region > customer, value sum(amount), columns
``--cols`` (none by default), then expands one region. Each action is timed
(median of ``--repeat``) and the statements it issued counted (the user's statement records);
the source's columns are read once, before the timed runs. Baselines in the same run, on a plain
DuckDB connection over the table's Parquet files:

- raw level: the very statement of each level (same GROUP BY GROUPING SETS);
- raw eager: both row levels at once (GROUP BY region, customer), what a pivot that loads
  everything up front reads.

Also timed: the governed statement alone (``StatementService.execute``), so the page's own cost
(rendering the members as HTML) shows apart. Verdict: statements issued per action equal the
levels it opens (1), and the time per expansion with its ratio to raw DuckDB.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.catalog.tables import DataSource
from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.web import pivot_sql
from lakehold.web.routes import ROUTERS
from lakehold.web.routes import pivot as pivot_page

PASSWORD = "a long benchmark password"


def generate(path: Path, rows: int, customers: int, regions: int) -> None:
    duckdb.sql(
        f"""
        COPY (
          SELECT 'region-' || (c % {regions}) AS region,
                 'customer-' || lpad(c::VARCHAR, 6, '0') AS customer,
                 ['web', 'shop', 'phone'][1 + (i % 3)::INT] AS channel,
                 round(random() * 100, 2) AS amount
          FROM (SELECT i, hash(i) % {customers} AS c FROM range({rows}) t(i))
        ) TO '{path}' (FORMAT parquet)
        """
    )


def timed(action: Callable[[], object], repeat: int) -> tuple[float, object]:
    """The median wall time of ``repeat`` runs (seconds) and the last run's result."""
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--regions", type=int, default=5)
    parser.add_argument("--cols", default="", help="a column field (channel), none by default")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as home:
        data = Path(home) / "sales.parquet"
        generate(data, args.rows, args.customers, args.regions)
        runtime = Runtime(Settings(home=Path(home) / "home"))
        try:
            run(runtime, data, args)
        finally:
            runtime.close()


def run(runtime: Runtime, data: Path, args: argparse.Namespace) -> None:
    created = runtime.security.bootstrap()
    assert created is not None
    admin = created[0]
    ana = runtime.security.create_user(admin, "ana", password=PASSWORD)
    runtime.catalog.create_domain(admin, "Bench")
    runtime.catalog.create_project(ana, "bench", "Bench")
    runtime.table_service.create_table(ana, "bench", "sales", DataSource(data))
    files = runtime.tables.snapshot(runtime.tables.path_for("bench", "sales")).files

    app = create_app(runtime)
    if pivot_page not in ROUTERS:
        app.include_router(pivot_page.router)
    cols = [args.cols] if args.cols else []
    form = {
        "kind": "table",
        "table": "bench.sales",
        "rows": ["region", "customer"],
        "cols": cols,
        "agg": "sum",
        "measure": "amount",
    }
    hx = {"HX-Request": "true"}

    def issued() -> int:
        return len(runtime.statements.list_statements(ana, limit=1_000_000))

    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        login = {"username": "ana", "password": PASSWORD, "csrf_token": token(http.get("/login"))}
        assert http.post("/login", data=login).status_code == 303
        csrf = token(http.get("/pivot"))
        data_form = {**form, "csrf_token": csrf}
        http.post("/pivot/fields", data={**data_form}, headers=hx)  # the columns, read once

        def top() -> httpx.Response:
            return http.post("/pivot", data=data_form, headers=hx)

        before = issued()
        first = top()
        assert first.status_code == 200, first.text[:500]
        top_queries = issued() - before
        top_s, _ = timed(top, args.repeat)
        state = dict(re.findall(r'name="(columns)" value="([^"]*)"', first.text))
        columns = state.get("columns", "[]").replace("&#34;", '"')
        member = "region-0"
        expand_form = {**data_form, "path": f'["{member}"]', "columns": columns}

        def expand() -> httpx.Response:
            return http.post("/pivot/expand", data=expand_form, headers=hx)

        before = issued()
        opened = expand()
        assert opened.status_code == 200, opened.text[:500]
        expand_queries = issued() - before
        expand_s, _ = timed(expand, args.repeat)
        children = opened.text.count('class="pivot-row')

    source = pivot_sql.source_sql("table", "bench.sales")
    columns_of = {f.name: f.type for f in runtime.statements.execute(
        ana, pivot_sql.probe_sql(source), limit=1).table.schema}  # fmt: skip
    pivot = pivot_sql.check(columns_of, source, form["rows"], cols, "sum", "amount")
    level_top, level_child = pivot.level_sql([]), pivot.level_sql([member])
    limit = pivot_page.RESULT_ROWS + 1
    gov_top_s, _ = timed(lambda: runtime.statements.execute(ana, level_top, limit=limit), 3)
    gov_child_s, _ = timed(lambda: runtime.statements.execute(ana, level_child, limit=limit), 3)

    raw = duckdb.connect()
    listed = ", ".join(f"'{f}'" for f in files)
    raw.execute("CREATE SCHEMA bench")
    raw.execute(f"CREATE VIEW bench.sales AS SELECT * FROM read_parquet([{listed}])")
    raw_top_s, _ = timed(lambda: raw.execute(level_top).to_arrow_table(), args.repeat)
    raw_child_s, _ = timed(lambda: raw.execute(level_child).to_arrow_table(), args.repeat)
    eager = "SELECT region, customer, sum(amount) FROM bench.sales GROUP BY region, customer"
    eager_s, eager_rows = timed(lambda: raw.execute(eager).to_arrow_table().num_rows, args.repeat)

    print(
        f"{args.rows:,} rows, {args.regions} regions > {args.customers:,} customers "
        f"(eager: {eager_rows:,} groups), columns: {args.cols or '(none)'}"
    )
    print(f"{'action':<22}{'statements':>11}{'page ms':>10}{'governed ms':>13}{'raw ms':>9}"
          f"{'page/raw':>10}{'gov/raw':>9}")  # fmt: skip
    for name, queries, page, governed, baseline in (
        ("top level", top_queries, top_s, gov_top_s, raw_top_s),
        (f"expand {member}", expand_queries, expand_s, gov_child_s, raw_child_s),
    ):
        print(
            f"{name:<22}{queries:>11}{page * 1e3:>10.1f}{governed * 1e3:>13.1f}"
            f"{baseline * 1e3:>9.1f}{page / baseline:>10.2f}{governed / baseline:>9.2f}"
        )
    print(f"children shown on expansion: {children:,}; raw eager two-level GROUP BY: "
          f"{eager_s * 1e3:.1f} ms")  # fmt: skip
    ok = top_queries == 1 and expand_queries == 1
    print(
        f"verdict: statements issued = levels opened: {'PASS' if ok else 'FAIL'} "
        f"(top {top_queries}, expansion {expand_queries}); time per expansion "
        f"{expand_s * 1e3:.0f} ms = {expand_s / raw_child_s:.2f}x raw DuckDB's same GROUP BY "
        f"(governed statement alone {gov_child_s / raw_child_s:.2f}x)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
