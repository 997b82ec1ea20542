"""Fetching a 10M-row governed result: Arrow Flight SQL (the ADBC driver) against the HTTP
Arrow stream of the statements API and raw DuckDB, rows/s side by side.

Usage: python benchmarks/flight.py [--rows 10000000] [--runs 3] [--database sqlite|postgresql]

``bench.numbers`` is a lakehouse table of ``--rows`` rows (``id`` BIGINT, ``amount`` DOUBLE,
``region`` VARCHAR), shared with project ``analysts`` under a grant whose row filter keeps
every row (``id >= 0``: the governed path, filter included). The analyst reads all of it,
``SELECT * FROM bench.numbers``, three ways, interleaved, each run timed end to end:

- raw DuckDB: the same SELECT over the table's Parquet files in this process, ``.arrow()``;
- Flight SQL: ``lakehold serve --flight-port`` in a process of its own, the real ADBC Flight SQL
  driver's DBAPI ``execute`` and ``fetch_arrow_table()`` (the statement runs and is stored at
  GetFlightInfo, DoGet streams the stored result in batches of at most 4 MiB);
- HTTP: the same server, ``POST /api/v1/statements``, a long-poll until it has finished, then
  ``GET /api/v1/statements/{id}/result?format=arrow`` (an Arrow IPC stream) page by page, a
  page being at most 1,000,000 rows.

``LAKEHOLD_MAX_ROWS`` is raised to ``--rows`` for the server. A breakdown of the Flight run
(GetFlightInfo: the governed statement and its stored result; DoGet: the stream alone) is
measured with pyarrow's Flight client. Verdicts: Flight SQL fetches at least as many rows/s as
the HTTP Arrow stream and, end to end, at least half as many as raw DuckDB; its stream alone
(DoGet) at least as many as raw DuckDB's scan.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import adbc_driver_flightsql.dbapi as flight_sql
import duckdb
import httpx
import pyarrow as pa
import pyarrow.flight as flight

from benchmarks.fixed_cost import database_url
from lakehold.catalog.tables import DataSource
from lakehold.config import Settings
from lakehold.flight import protocol
from lakehold.governance.subscriptions import ItemDecision
from lakehold.runtime import Runtime
from tests.servers import free_port, wait_healthy

SQL = "SELECT * FROM bench.numbers"
ROW_FILTER = "id >= 0"
PAGE = 1_000_000


def setup(runtime: Runtime, rows: int) -> tuple[str, list[str]]:
    """``bench.numbers`` granted to ``analysts``: the analyst's token, the table's files."""
    admin, _ = runtime.security.bootstrap() or (None, None)
    assert admin is not None
    runtime.catalog.create_domain(admin, "Bench")
    runtime.catalog.create_project(admin, "bench", "Bench")
    numbers = duckdb.sql(
        f"SELECT range AS id, range * 0.5 AS amount, "
        f"['EU', 'US', 'APAC'][1 + range % 3] AS region FROM range({rows})"
    ).arrow()
    table = numbers.read_all() if isinstance(numbers, pa.RecordBatchReader) else numbers
    runtime.table_service.create_table(admin, "bench", "numbers", DataSource(table))
    runtime.security.create_user(admin, "analyst")
    token = runtime.security.create_token(admin, "bench", username="analyst")
    assert token.value is not None
    analyst = runtime.security.authenticate(token.value)
    runtime.catalog.create_project(analyst, "analysts", "Bench")
    listing = runtime.listings.publish(admin, "bench", "numbers")
    runtime.filters.create_filter(
        admin, "bench", "numbers", "all", kind="row", expression=ROW_FILTER
    )
    request = runtime.subscriptions.request(analyst, "analysts", [listing.id], "benchmark")
    runtime.subscriptions.approve(admin, request.id, items=[ItemDecision(listing.id, "all", None)])
    files = [str(p) for p in Path(runtime.settings.warehouse_path).rglob("*.parquet")]
    return token.value, files


@contextmanager
def served(home: str, url: str | None, rows: int) -> Iterator[tuple[str, int]]:
    """``lakehold serve --flight-port`` on ``home``: its HTTP URL and Flight SQL port."""
    port, flight_port = free_port(), free_port()
    env = {
        **os.environ,
        "LAKEHOLD_HOME": home,
        "LAKEHOLD_PORT": str(port),
        "LAKEHOLD_MAX_ROWS": str(rows),
    }
    env.pop("LAKEHOLD_DATABASE_URL", None)
    if url:
        env["LAKEHOLD_DATABASE_URL"] = url
    command = [sys.executable, "-m", "lakehold.cli", "serve", "--flight-port", str(flight_port)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, alive=lambda: process.poll() is None)
        yield base, flight_port
    finally:
        process.terminate()
        process.wait(timeout=60)


def timed(action: Callable[[], int], rows: int) -> float:
    started = time.perf_counter()
    got = action()
    elapsed = time.perf_counter() - started
    assert got == rows, (got, rows)
    return elapsed


TRIVIAL_RUNS = 50


def trivial_statements(
    location: str, options: dict[str, str], http: httpx.Client
) -> tuple[float, float]:
    """Median ms of ``select 1`` on an open ADBC connection (prepare, GetFlightInfo, DoGet) and
    of ``POST /api/v1/query`` (the synchronous fast path), interleaved."""
    with flight_sql.connect(location, db_kwargs=options, autocommit=True) as connection:
        cursor = connection.cursor()

        def over_flight() -> int:
            cursor.execute("select 1 as one")
            return len(cursor.fetchall())

        def over_http() -> int:
            answer = http.post("/api/v1/query", json={"sql": "select 1 as one"})
            assert answer.status_code == 200, answer.text
            return len(answer.json()["rows"])

        times: tuple[list[float], list[float]] = ([], [])
        for round_ in range(TRIVIAL_RUNS + 5):
            for way, action in enumerate((over_flight, over_http)):
                elapsed = timed(action, 1) * 1000
                if round_ >= 5:  # the first rounds warm both
                    times[way].append(elapsed)
    return statistics.median(times[0]), statistics.median(times[1])


def measure(kind: str, rows: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as home, database_url(kind) as url:
        settings = Settings(home=Path(home), **({"database_url": url} if url else {}))
        runtime = Runtime(settings)
        token, files = setup(runtime, rows)
        runtime.close()
        raw = duckdb.connect()
        raw.execute(
            f"CREATE VIEW numbers AS SELECT * FROM read_parquet({files!r}) WHERE {ROW_FILTER}"
        )
        auth = {"Authorization": f"Bearer {token}"}

        def duckdb_raw() -> int:
            result = raw.sql("SELECT * FROM numbers").arrow()
            table = result.read_all() if isinstance(result, pa.RecordBatchReader) else result
            return table.num_rows

        with (
            served(home, url, rows) as (base, flight_port),
            httpx.Client(base_url=base, headers=auth, timeout=600) as http,
        ):
            location = f"grpc://127.0.0.1:{flight_port}"
            options = {
                "adbc.flight.sql.authorization_header": f"Bearer {token}",
                "adbc.flight.sql.rpc.call_header.x-lakehold-project": "analysts",
            }

            def flight_adbc() -> int:
                with flight_sql.connect(location, db_kwargs=options, autocommit=True) as conn:
                    cursor = conn.cursor()
                    cursor.execute(SQL)
                    return cursor.fetch_arrow_table().num_rows

            def http_arrow() -> int:
                body = {"sql": SQL, "project": "analysts"}
                submitted = http.post("/api/v1/statements", json=body)
                assert submitted.status_code == 201, submitted.text
                statement = submitted.json()
                while statement["status"] not in ("FINISHED", "FAILED", "ABORTED"):
                    params = {"wait_seconds": 30, "seen_status": ["SUBMITTED", "STARTED"]}
                    statement = http.get(f"/api/v1/statements/{statement['id']}", params=params)
                    statement = statement.json()
                assert statement["status"] == "FINISHED", statement
                fetched, offset = 0, 0
                while True:
                    page = http.get(
                        f"/api/v1/statements/{statement['id']}/result",
                        params={"format": "arrow", "offset": offset, "limit": PAGE},
                    )
                    assert page.status_code == 200, page.text
                    fetched += pa.ipc.open_stream(page.content).read_all().num_rows
                    following = page.headers.get("X-Next-Offset")
                    if following is None:
                        return fetched
                    offset = int(following)

            client = flight.connect(location)
            call = flight.FlightCallOptions(
                headers=[
                    (b"authorization", f"Bearer {token}".encode()),
                    (b"x-lakehold-project", b"analysts"),
                ]
            )
            command = protocol.pack(protocol.CommandStatementQuery(query=SQL))
            parts: dict[str, list[float]] = {"GetFlightInfo": [], "DoGet": []}

            def flight_parts() -> int:
                started = time.perf_counter()
                info = client.get_flight_info(flight.FlightDescriptor.for_command(command), call)
                parts["GetFlightInfo"].append(time.perf_counter() - started)
                started = time.perf_counter()
                count = client.do_get(info.endpoints[0].ticket, call).read_all().num_rows
                parts["DoGet"].append(time.perf_counter() - started)
                return count

            trivial = trivial_statements(location, options, http)
            ways = {
                "raw DuckDB": duckdb_raw,
                "Flight SQL (ADBC)": flight_adbc,
                "HTTP Arrow stream": http_arrow,
            }
            for action in (*ways.values(), flight_parts):  # warm each once
                timed(action, rows)
            times: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(runs):
                for name, action in ways.items():
                    times[name].append(timed(action, rows))
                timed(flight_parts, rows)

        rates = {name: rows / statistics.median(seconds) for name, seconds in times.items()}
        raw_rate = rates["raw DuckDB"]
        load = os.getloadavg()[0]
        print(f"{kind} metadata, {rows:,} rows, {runs} interleaved runs (load {load:.1f}):")
        for name, rate in rates.items():
            median = statistics.median(times[name])
            print(
                f"  {name:<20} {rate / 1e6:7.2f} M rows/s  {median:6.2f} s  "
                f"{rate / raw_rate:5.2f}x raw"
            )
        print(
            f"  a trivial statement (select 1), median of {TRIVIAL_RUNS}: Flight SQL "
            f"{trivial[0]:.1f} ms, POST /api/v1/query {trivial[1]:.1f} ms"
        )
        info, get = (statistics.median(parts[p]) for p in ("GetFlightInfo", "DoGet"))
        print(
            f"  Flight, pyarrow's client: GetFlightInfo {info:.2f} s (the governed statement, "
            f"its result stored), DoGet {get:.2f} s = {rows / get / 1e6:.2f} M rows/s streamed"
        )
        flight_rate, http_rate = rates["Flight SQL (ADBC)"], rates["HTTP Arrow stream"]
        verdict = "meets" if flight_rate >= http_rate else "misses"
        print(
            f"verdict: Flight SQL {verdict} the HTTP Arrow stream "
            f"({flight_rate / http_rate:.2f}x its rows/s; goal >= 1.0)"
        )
        verdict = "meets" if flight_rate >= 0.5 * raw_rate else "misses"
        print(
            f"verdict: Flight SQL end to end {verdict} half of raw DuckDB "
            f"({flight_rate / raw_rate:.2f}x its rows/s; goal >= 0.5)"
        )
        stream_rate = rows / get
        verdict = "meets" if stream_rate >= raw_rate else "misses"
        print(
            f"verdict: the DoGet stream alone {verdict} raw DuckDB's scan "
            f"({stream_rate / raw_rate:.2f}x its rows/s; goal >= 1.0)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    measure(args.database, args.rows, args.runs)


if __name__ == "__main__":
    main()
