"""The cost of metrics and tracing on the governed query path (issue #15: at most 2%).

Usage: python benchmarks/observability.py [--scale 0.1] [--rounds 5] [--trivial 300]

One runtime (SQLite metadata), TPC-H at ``--scale`` loaded as Lakehold tables; the owner runs
the 22 queries and a trivial statement through ``StatementService.execute`` three ways, each
statement the three ways back to back in a shuffled order, round after round:

- ``bare``: every metric call (``lakehold.observability.instruments``) replaced by a no-op,
  tracing off -- what the path costs without observability;
- ``metrics``: as shipped (metrics are always on; tracing off, its default);
- ``metrics+tracing``: tracing on, every statement sampled, spans exported over OTLP/HTTP to a
  receiver in this process that reads and drops them.

Also the HTTP metrics middleware's CPU per request, against an in-process ``POST /query``.
The figure of a statement is its median over the rounds; TPC-H's is the sum of its queries'.
Tracing is charged the export of its spans (flushed at the end of each round). The verdict
judges what a mode adds per statement (the trivial statement's difference, measured to a few
µs) against the mean TPC-H query; the TPC-H totals' own difference is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lakehold.api.app import create_app
from lakehold.config import Settings
from lakehold.governance.statement_spans import TracedStatementService
from lakehold.governance.statements import StatementService
from lakehold.observability import instruments, tracing
from lakehold.observability.http_metrics import HttpMetrics
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.governed_query import qualified
from benchmarks.tpch import generate, load, queries

GOAL = 0.02
TRIVIAL = "SELECT count(*) AS n FROM tpch.nation"
MODES = ("bare", "metrics", "metrics+tracing")


@contextmanager
def otlp_sink() -> Iterator[str]:
    """An OTLP/HTTP endpoint that accepts and drops every export (as a collector would, minus
    the storing): its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextmanager
def without_metrics() -> Iterator[None]:
    """Every instrument a no-op for the duration."""
    kept = {name: getattr(instruments, name) for name in _INSTRUMENTS}
    try:
        for name, original in kept.items():
            setattr(instruments, name, _noop_like(original))
        yield
    finally:
        for name, original in kept.items():
            setattr(instruments, name, original)


_INSTRUMENTS = (
    "statement_ended",
    "decision",
    "table_commit",
    "lineage_batch",
    "sync_run",
    "webhook_attempt",
    "secret_decrypted",
)


def _noop_like(original: Callable[..., Any]) -> Callable[..., Any]:
    if original.__name__ in ("table_commit", "lineage_batch"):  # context managers

        @contextmanager
        def nothing(*_args: Any, **_kwargs: Any) -> Iterator[Any]:
            yield _Nothing()

        return nothing
    return lambda *_args, **_kwargs: None


class _Nothing:
    def __getattr__(self, _name: str) -> Callable[..., None]:
        return lambda *_args, **_kwargs: None


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def http_middleware_cpu(runtime: Runtime, owner_token: str, requests: int) -> tuple[float, float]:
    """CPU per request (µs) of the HTTP metrics middleware around an app that answers at once,
    and of an in-process ``POST /api/v1/query`` of the trivial statement (the whole app)."""

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = HttpMetrics(bare)
    app = create_app(runtime)
    body = json.dumps({"sql": TRIVIAL}).encode()

    def scope(path: str, method: str) -> dict[str, Any]:
        headers = [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {owner_token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }

    async def call(target: Any, path: str, method: str) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(_message: dict[str, Any]) -> None:
            pass

        await target(scope(path, method), receive, send)

    async def cpu_per_call(target: Any, path: str, method: str, n: int) -> float:
        for _ in range(min(n, 50)):
            await call(target, path, method)
        started = time.process_time()
        for _ in range(n):
            await call(target, path, method)
        return (time.process_time() - started) / n * 1e6

    async def measure() -> tuple[float, float]:
        added = []
        for _ in range(5):
            added.append(
                await cpu_per_call(wrapped, "/api/v1/me", "GET", requests * 10)
                - await cpu_per_call(bare, "/api/v1/me", "GET", requests * 10)
            )
        query = await cpu_per_call(app, "/api/v1/query", "POST", requests)
        return statistics.median(added), query

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="TPC-H scale factor")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trivial", type=int, default=300, help="trivial statements per round")
    parser.add_argument("--data", type=Path, default=Path("bench-data/tpch"))
    args = parser.parse_args()

    parquet = generate(args.scale, args.data / f"sf{args.scale:g}")
    with tempfile.TemporaryDirectory() as home, otlp_sink() as endpoint:
        runtime = Runtime(Settings(home=Path(home), max_rows=10_000_000))
        owner: Principal = load(runtime, parquet)
        plain: StatementService = runtime.statements  # built while tracing is off
        tracing.configure(endpoint, sample_ratio=1.0)
        traced = TracedStatementService(
            runtime.store,
            runtime.tables,
            runtime.runner,
            runtime.settings,
            runtime.table_service,
            connections=runtime.connections,
        )
        work = [qualified(sql) for _number, sql in queries()]

        def once(mode: str, sql: str) -> float:
            """Seconds of one statement run the ``mode`` way."""
            service = traced if mode == "metrics+tracing" else plain
            tracing.ENABLED = mode == "metrics+tracing"  # the switch the query engine reads
            if mode == "bare":
                with without_metrics():
                    return timed(lambda: service.execute(owner, sql, limit=10_000_000))
            return timed(lambda: service.execute(owner, sql, limit=10_000_000))

        # Each statement runs the three ways back to back (in a shuffled order), so that the
        # machine's drift falls on all three alike; the spans' export (batched in the
        # background) is flushed at the end of each round and charged to tracing.
        statements = [*work, *[TRIVIAL] * args.trivial]
        seconds = {mode: [[] for _ in statements] for mode in MODES}
        exports: list[float] = []
        for round_number in range(args.rounds + 1):  # the first round warms every path
            for index, sql in enumerate(statements):
                for mode in random.sample(MODES, len(MODES)):
                    took = once(mode, sql)
                    if round_number:
                        seconds[mode][index].append(took)
            flushed = timed(tracing.flush)
            if round_number:
                exports.append(flushed)
        tracing.shutdown()
        token = runtime.security.create_token(owner, "bench").value
        assert token is not None
        middleware_us, query_us = http_middleware_cpu(runtime, token, args.trivial)

        def tpch_total(mode: str) -> float:
            total = sum(statistics.median(seconds[mode][i]) for i in range(len(work)))
            share = len(work) / len(statements)  # its part of the export
            return total + (statistics.median(exports) * share if mode == "metrics+tracing" else 0)

        def trivial(mode: str) -> float:
            runs = [t for i in range(len(work), len(statements)) for t in seconds[mode][i]]
            extra = statistics.median(exports) / len(statements) if mode == "metrics+tracing" else 0
            return statistics.median(runs) + extra

        print(
            f"TPC-H SF{args.scale:g}, 22 queries as the owner, and {args.trivial} x {TRIVIAL}; "
            f"{args.rounds} rounds, each statement run the three ways back to back; "
            "medians per statement"
        )
        print(f"{'mode':>16} {'TPC-H s':>9} {'vs bare':>8} {'trivial ms':>11} {'added µs':>9}")
        base_total, base_trivial = tpch_total("bare"), trivial("bare")
        per_query = base_total / len(work)
        verdicts = []
        for mode in MODES:
            ratio = tpch_total(mode) / base_total - 1
            added = trivial(mode) - base_trivial
            print(
                f"{mode:>16} {tpch_total(mode):>9.3f} {ratio:>+8.2%} "
                f"{trivial(mode) * 1000:>11.3f} {added * 1e6:>+9.0f}"
            )
            if mode != "bare":
                verdicts.append((mode, ratio, added / per_query))
        print(
            f"HTTP metrics middleware: {middleware_us:.1f} µs CPU per request "
            f"({middleware_us / query_us:.2%} of an in-process POST /query, {query_us:.0f} µs)"
        )
        print(
            "per statement: what each mode adds to the trivial statement (measured to a few µs), "
            f"over the mean TPC-H query ({per_query * 1000:.1f} ms); the TPC-H totals' own "
            "difference is within their round-to-round noise"
        )
        for mode, ratio, share in verdicts:
            verdict = "meets" if share <= GOAL else "misses"
            print(
                f"verdict: {mode} adds {share:.2%} per TPC-H query (totals: {ratio:+.2%}), "
                f"{verdict} the goal of {GOAL:.0%}"
            )


if __name__ == "__main__":
    main()
