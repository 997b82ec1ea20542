"""The fixed cost of a governed statement, on SQLite and PostgreSQL metadata, in process and
over HTTP.

Usage: python benchmarks/fixed_cost.py [--database sqlite|postgresql|all] [--runs 300]

A subscriber (project ``analysts``) holds a grant with a row filter on ``shop.orders`` (10,000
rows, 20 files) and runs ``SELECT count(*) FROM shop.orders``; raw DuckDB runs the same count
over a view with the same filter on the same Parquet files. Runs are interleaved; the figure
is the difference of the medians. Three ways, each against its own baseline measured in the
same rounds:

- in process: ``StatementService.execute`` (metadata writes, access, plan, a sandbox);
- over HTTP: ``POST /api/v1/query`` with a bearer token to ``lakehold serve`` in a process of its
  own, against raw DuckDB, and against raw DuckDB plus a bare ``GET /health`` round trip (what
  HTTP itself costs), sent with httpx and with Lakehold's own SDK (``lakehold.client``: the
  standard library's ``http.client``, the rows as Arrow, as ``Client.statements.query`` and
  ``lakehold sql`` send it);
- the same through the statements API: submit, long-poll ``wait_seconds``, read;
- the floor: raw DuckDB behind the plainest FastAPI endpoint on uvicorn (no governance, no
  middleware), and what ``POST /query`` adds beyond it.

Goals (issue #12): +3 ms on SQLite, +5 ms on PostgreSQL, over HTTP. The load (``os.getloadavg``)
is printed with the figures: on a busy machine every figure grows.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb
import httpx
import psycopg
import pyarrow as pa

from lakehold.catalog.tables import DataSource
from lakehold.client import Client
from lakehold.config import Settings
from lakehold.governance.subscriptions import ItemDecision
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

PG = "postgresql://postgres@127.0.0.1:5432"
SQL = "SELECT count(*) AS n FROM shop.orders"
ROW_FILTER = "region = 'EU'"
GOALS = {"sqlite": 3.0, "postgresql": 5.0}


def _database_url(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
        return
    name = f"lh_fixed_{int(time.time())}"
    with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


database_url = contextmanager(_database_url)


def setup(runtime: Runtime, folder: Path) -> tuple[str, list[str]]:
    """``shop.orders`` shared with ``analysts`` under a row filter: the analyst's token and
    the table's data files."""
    admin, _ = runtime.security.bootstrap() or (None, None)
    assert admin is not None
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(admin, "shop", "Sales")
    source = folder / "orders.csv"
    rows = pa.table({"id": range(10_000), "region": ["EU", "US"] * 5_000})
    with source.open("w") as out:
        out.write("id,region\n")
        for i, region in zip(rows["id"].to_pylist(), rows["region"].to_pylist(), strict=True):
            out.write(f"{i},{region}\n")
    runtime.table_service.create_table(admin, "shop", "orders", DataSource(source))
    runtime.security.create_user(admin, "analyst")
    token = runtime.security.create_token(admin, "bench", username="analyst")
    assert token.value is not None
    analyst = runtime.security.authenticate(token.value)
    runtime.catalog.create_project(analyst, "analysts", "Sales")
    listing = runtime.listings.publish(admin, "shop", "orders")
    runtime.filters.create_filter(admin, "shop", "orders", "eu", kind="row", expression=ROW_FILTER)
    request = runtime.subscriptions.request(analyst, "analysts", [listing.id], "fixed cost")
    runtime.subscriptions.approve(admin, request.id, items=[ItemDecision(listing.id, "eu", None)])
    files = [str(p) for p in Path(runtime.settings.warehouse_path).rglob("*.parquet")]
    return token.value, files


def raw(files: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA shop")
    con.execute(
        f"CREATE VIEW shop.orders AS SELECT * FROM read_parquet({files!r}) WHERE {ROW_FILTER}"
    )
    return con


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def added(runs: int, ours: Callable[[], object], theirs: Callable[[], object]) -> float:
    for _ in range(20):  # warm both
        ours()
        theirs()
    mine, base = [], []
    for _ in range(runs):
        base.append(timed(theirs))
        mine.append(timed(ours))
    return statistics.median(mine) - statistics.median(base)


@contextmanager
def running(command: list[str], env: dict[str, str] | None = None) -> Iterator[str]:
    """``command`` (given its port as ``{port}``) in a process of its own, until its
    ``/health`` answers: its address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        env={**(env or os.environ), "LAKEHOLD_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def served(home: str, url: str | None) -> AbstractContextManager[str]:
    """``lakehold serve`` on ``home`` in a process of its own (as users run it)."""
    env = {**os.environ, "LAKEHOLD_HOME": home}
    env.pop("LAKEHOLD_DATABASE_URL", None)
    if url:
        env["LAKEHOLD_DATABASE_URL"] = url
    return running([sys.executable, "-m", "lakehold.cli", "serve"], env)


# Raw DuckDB behind the plainest FastAPI endpoint on uvicorn: what any Python HTTP service
# costs on this machine (parsing, routing, a worker-thread hop, JSON), without governance.
BARE = """
import json, os, sys
import duckdb, uvicorn
from fastapi import FastAPI

files, row_filter, port = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute("CREATE SCHEMA shop")
con.execute(f"CREATE VIEW shop.orders AS SELECT * FROM read_parquet({files!r}) WHERE {row_filter}")
app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/query")
def query(body: dict) -> dict:
    cursor = con.cursor()
    table = cursor.execute(body["sql"]).fetch_arrow_table()
    return {"rows": table.to_pylist()}


uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def bare_server(files: list[str]) -> AbstractContextManager[str]:
    """:data:`BARE` in a process of its own: its address."""
    return running([sys.executable, "-c", BARE, json.dumps(files), ROW_FILTER, "{port}"])


def measure(kind: str, runs: int) -> None:
    with tempfile.TemporaryDirectory() as home, database_url(kind) as url:
        settings = Settings(home=Path(home), **({"database_url": url} if url else {}))
        runtime = Runtime(settings)
        token, files = setup(runtime, Path(home))
        con = raw(files)
        analyst: Principal = runtime.security.authenticate(token)
        expected = con.execute(SQL).fetchall()[0][0]
        got = runtime.statements.execute(analyst, SQL, project="analysts").table.to_pylist()
        assert got == [{"n": expected}], (got, expected)

        def baseline() -> object:
            return con.execute(SQL).fetchall()

        in_process = added(
            runs, lambda: runtime.statements.execute(analyst, SQL, project="analysts"), baseline
        )
        with (
            served(home, url) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http,
            Client(base, token=token) as sdk,
            bare_server(files) as bare_base,
            httpx.Client(base_url=bare_base) as bare_http,
        ):
            body = {"sql": SQL, "project": "analysts"}

            def bare() -> object:
                response = bare_http.post("/query", json={"sql": SQL})
                assert response.json() == {"rows": [{"n": expected}]}, response.text
                return response

            def query() -> object:
                response = http.post("/api/v1/query", json=body)
                assert response.status_code == 200, response.text
                return response

            def health_and_raw() -> object:
                http.get("/health")
                return baseline()

            def statement() -> object:
                submitted = http.post("/api/v1/statements", json=body).json()
                seen = submitted["status"]
                while seen not in ("FINISHED", "FAILED", "ABORTED"):
                    # until it ends, as the SDK waits (not once per state change)
                    params = {"wait_seconds": 10, "seen_status": ["SUBMITTED", "STARTED"]}
                    seen = http.get(f"/api/v1/statements/{submitted['id']}", params=params).json()[
                        "status"
                    ]
                return http.get(f"/api/v1/statements/{submitted['id']}/result")

            def sdk_query() -> object:
                return sdk.statements.query(SQL, project="analysts")

            over_http = added(runs, query, baseline)
            beyond_http = added(runs, query, health_and_raw)
            bare_cost = added(runs, bare, baseline)
            beyond_bare = added(runs, query, bare)
            over_sdk = added(runs, sdk_query, baseline)
            asynchronous = added(max(runs // 3, 30), statement, baseline)
        goal = GOALS[kind]
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(
            f"{kind} metadata, {runs} interleaved runs, median added over raw DuckDB (load {load}):"
        )
        print(f"  in process                          +{in_process:6.2f} ms")
        print(f"  POST /query over HTTP (httpx)       +{over_http:6.2f} ms")
        print(f"  POST /query beyond an HTTP /health  +{beyond_http:6.2f} ms")
        print(f"  raw DuckDB behind a bare FastAPI    +{bare_cost:6.2f} ms  (the floor of HTTP)")
        print(f"  POST /query beyond that bare one    +{beyond_bare:6.2f} ms")
        print(f"  POST /query over HTTP (the SDK)     +{over_sdk:6.2f} ms")
        print(f"  statements API (submit, wait, read) +{asynchronous:6.2f} ms")
        for client, cost in (("httpx", over_http), ("the SDK", over_sdk)):
            verdict = "meets" if cost <= goal else "misses"
            print(f"verdict: over HTTP ({client}) on {kind} {verdict} {goal:g} ms ({cost:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    for kind in ("sqlite", "postgresql") if args.database == "all" else (args.database,):
        measure(kind, args.runs)


if __name__ == "__main__":
    main()
