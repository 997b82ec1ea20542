"""TPC-H through Lakehold's HTTP API (as users reach it: a token, ``lakehold serve`` in another
process) vs raw DuckDB over the same Delta files.

Usage: python benchmarks/query.py [--scale 1] [--repeat 3] [--data bench-data/tpch]

Each of the 22 queries runs, interleaved round by round, through:

- raw: a plain DuckDB connection with views over the same Parquet files (warm);
- sync: ``POST /query`` (Arrow);
- poll 5ms: ``POST /statements``, ``GET /statements/{id}`` every 5 ms until it ends, then the
  result pages (Arrow) -- how the asynchronous path was followed before the long-poll;
- long-poll: ``POST /statements``, ``client.statements.wait`` (``?wait_seconds=``), result;
- events: ``POST /statements``, its end read from ``GET /statements/events`` (one stream,
  opened once), result;
- socket: ``POST /statements``, its end pushed through ``GET /statements/socket`` (one
  WebSocket, opened once, read with the ``websockets`` client), result.

Every result is compared with raw DuckDB's (columns, then rows, floats to 1e-9 relative).
Prints per-query medians, the ratio of each path's total to raw's, and one verdict line per goal
(asynchronous statements through the long-poll, the event stream and the WebSocket: at most
1.10).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa

from lakehold.client import Client
from lakehold.config import Settings
from lakehold.runtime import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from websockets.sync.client import connect

from benchmarks.tpch import TABLES, active_files, generate, load, queries

MAX_ROWS = 10_000_000
PATHS = ("raw", "sync", "poll 5ms", "long-poll", "events", "socket")
ASYNC_PATHS = ("long-poll", "events", "socket")
FINAL = {"FINISHED", "FAILED", "ABORTED"}
GOAL = 1.10


def raw_connection(files: dict[str, list[str]]) -> duckdb.DuckDBPyConnection:
    """Plain DuckDB with a view per table over the same active Delta files."""
    con = duckdb.connect()
    for name, paths in files.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({paths!r})")
    return con


def prepare(parquet: dict[str, Path], home: Path) -> tuple[str, dict[str, list[str]]]:
    """Load the tables into a fresh home; an admin token and each table's active files."""
    runtime = Runtime(Settings(home=home, max_rows=MAX_ROWS))
    try:
        admin = load(runtime, parquet)
        token = runtime.security.create_token(admin, "bench").value
        assert token is not None
        return token, {name: active_files(runtime, name) for name in TABLES}
    finally:
        runtime.close()


def serve(home: Path) -> Iterator[str]:
    """``lakehold serve`` on a free port for ``home``: its URL while the generator runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "LAKEHOLD_HOME": str(home),
        "LAKEHOLD_PORT": str(port),
        "LAKEHOLD_MAX_ROWS": str(MAX_ROWS),
    }
    for name in ("LAKEHOLD_DATABASE_URL", "LAKEHOLD_URL", "LAKEHOLD_TOKEN"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "lakehold.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            assert process.poll() is None, "lakehold serve exited"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)


class EventStream:
    """One ``GET /statements/events`` stream, read on the caller's thread."""

    def __init__(self, url: str, token: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=600)
        headers = {"Authorization": f"Bearer {token}"}
        self._response = self._http.send(
            self._http.build_request("GET", "/api/v1/statements/events", headers=headers),
            stream=True,
        )
        self._lines = self._response.iter_lines()
        assert next(self._lines).startswith(":")  # it listens

    def until_end(self, statement_id: str) -> str:
        """Read events until ``statement_id`` ends; its final state."""
        for line in self._lines:
            if line.startswith("data: "):
                view = json.loads(line.removeprefix("data: "))
                if view["id"] == statement_id and view["status"] in FINAL:
                    return view["status"]
        raise RuntimeError("the event stream ended")

    def close(self) -> None:
        self._response.close()
        self._http.close()


class StatementSocket:
    """One ``GET /statements/socket`` WebSocket, read on the caller's thread."""

    def __init__(self, url: str, token: str) -> None:
        self._ws = connect(
            url.replace("http://", "ws://", 1) + "/api/v1/statements/socket",
            additional_headers={"Authorization": f"Bearer {token}"},
            max_queue=None,  # the other paths' events wait here until read
        )
        self._ws.__enter__()  # held open across calls; close() ends it
        assert json.loads(self._ws.recv())["type"] == "ready"  # it listens

    def until_end(self, statement_id: str) -> str:
        """Read pushed messages until ``statement_id`` ends; its final state."""
        while True:
            message = json.loads(self._ws.recv())
            if message["type"] == "statement":
                view = message["statement"]
                if view["id"] == statement_id and view["status"] in FINAL:
                    return view["status"]

    def close(self) -> None:
        self._ws.close()


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    out = action()
    return time.perf_counter() - started, out


def same(ours: pa.Table, raw: pa.Table) -> bool:
    """Same column names and rows (floats equal to 1e-9 relative)."""
    if ours.column_names != raw.column_names or ours.num_rows != raw.num_rows:
        return False
    for a, b in zip(ours.to_pylist(), raw.to_pylist(), strict=True):
        for x, y in zip(a.values(), b.values(), strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif x != y:
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("bench-data/tpch"))
    args = parser.parse_args()

    parquet = generate(args.scale, args.data / f"sf{args.scale:g}")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        token, files = prepare(parquet, home)
        raw = raw_connection(files)
        server = serve(home)
        url = next(server)
        lh = Client(url, token)
        events = EventStream(url, token)
        socket = StatementSocket(url, token)
        statements = lh.statements

        def polled(sql: str) -> pa.Table:
            statement_id = statements.submit(sql, project="tpch").id
            while statements.describe(statement_id).status not in {"FINISHED", "FAILED"}:
                time.sleep(0.005)
            return statements.result(statement_id).table

        def long_polled(sql: str) -> pa.Table:
            return statements.run(sql, project="tpch").table

        def streamed(sql: str) -> pa.Table:
            statement_id = statements.submit(sql, project="tpch").id
            events.until_end(statement_id)
            return statements.result(statement_id).table

        def pushed(sql: str) -> pa.Table:
            statement_id = statements.submit(sql, project="tpch").id
            socket.until_end(statement_id)
            return statements.result(statement_id).table

        runs: dict[str, Callable[[str], object]] = {
            "raw": lambda sql: raw.execute(sql).to_arrow_table(),
            "sync": lambda sql: statements.query(sql, project="tpch", limit=MAX_ROWS).table,
            "poll 5ms": polled,
            "long-poll": long_polled,
            "events": streamed,
            "socket": pushed,
        }
        print(
            f"TPC-H SF{args.scale:g}, {args.repeat} interleaved rounds, median seconds; "
            f"load average {os.getloadavg()[0]:.2f} at the start"
        )
        print(f"{'query':>5} " + " ".join(f"{p:>10}" for p in PATHS))
        totals = dict.fromkeys(PATHS, 0.0)
        mismatches: list[str] = []
        try:
            for number, sql in queries():
                times: dict[str, list[float]] = {p: [] for p in PATHS}
                for _ in range(args.repeat):
                    expected = None
                    for path in PATHS:
                        seconds, table = timed(lambda sql=sql, path=path: runs[path](sql))
                        times[path].append(seconds)
                        assert isinstance(table, pa.Table)
                        if path == "raw":
                            expected = table
                        elif expected is not None and not same(table, expected):
                            mismatches.append(f"Q{number} {path}")
                medians = {p: statistics.median(times[p]) for p in PATHS}
                for path in PATHS:
                    totals[path] += medians[path]
                print(f"{number:>5} " + " ".join(f"{medians[p]:>10.4f}" for p in PATHS))
        finally:
            events.close()
            socket.close()
            lh.close()
            server.close()
        print(f"{'total':>5} " + " ".join(f"{totals[p]:>10.4f}" for p in PATHS))
        print(f"{'ratio':>5} " + " ".join(f"{totals[p] / totals['raw']:>10.3f}" for p in PATHS))
        print(f"results differing from raw DuckDB: {sorted(set(mismatches)) or 'none'}")
        for path in ASYNC_PATHS:
            ratio = totals[path] / totals["raw"]
            verdict = "meets" if ratio <= GOAL else "misses"
            print(f"verdict: async statements via {path} {ratio:.3f} {verdict} the goal of {GOAL}")


if __name__ == "__main__":
    main()
