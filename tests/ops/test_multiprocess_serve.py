"""``lakehold serve --workers 2`` as a real process: requests spread over both workers, and
``/metrics`` (answered by either) sums what every process counted; a worker killed with
SIGKILL is replaced, its counts stay in the sums and its live gauges go. SQLite and
PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from lakehold.cli.server import METRICS_DIR
from tests.ops.samples import value_in
from tests.ops.serving import Served, lakehold_serve

ME = {"method": "GET", "route": "/api/v1/me", "status": "200"}


def pids(directory: Path) -> set[int]:
    return {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("*.db")}


def served_by(directory: Path, pid: int, scratch: Path) -> float:
    """The ``GET /api/v1/me`` requests process ``pid`` counted (its files alone, merged)."""
    alone = scratch / str(pid)
    shutil.rmtree(alone, ignore_errors=True)
    alone.mkdir(parents=True)
    for path in directory.glob(f"*_{pid}.db"):
        shutil.copy(path, alone / path.name)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(alone))
    text = generate_latest(registry).decode()
    return value_in(text, "lakehold_http_requests_total", **ME) or 0.0


def scrape(served: Served) -> str:
    answer = httpx.get(f"{served.url}/metrics", headers=served.auth, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text


def send(served: Served, count: int) -> None:
    """``count`` requests, eight at a time, each on a new connection."""

    def one(_: int) -> int:
        return httpx.get(f"{served.url}/api/v1/me", headers=served.auth, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(count))) == {200}


def test_two_workers_share_requests_and_metrics_sum_them(tmp_path: Path, database_url: str):
    with lakehold_serve(tmp_path, database_url, workers=2) as served:
        directory = served.home / METRICS_DIR
        sent, deadline = 0, time.monotonic() + 180
        while True:  # until both workers (the second may still be starting) took requests
            send(served, 50)
            sent += 50
            workers = pids(directory) - {served.pid}
            counted = {pid: served_by(directory, pid, tmp_path / "alone") for pid in workers}
            if len(counted) == 2 and all(counted.values()):
                break
            assert time.monotonic() < deadline, f"one worker took every request: {counted}"
        assert sum(counted.values()) == sent
        assert served_by(directory, served.pid, tmp_path / "alone") == 0  # the parent serves none
        text = scrape(served)
        assert value_in(text, "lakehold_http_requests_total", **ME) == sent
        assert value_in(text, "lakehold_build_info", version="0.1.0") == 1.0
        assert (value_in(text, "lakehold_warehouse_disk_size_bytes") or 0) > 0

        gone = min(workers)
        os.kill(gone, signal.SIGKILL)  # uvicorn starts another worker in its place
        live = directory / f"gauge_livesum_{gone}.db"
        assert live.exists()
        deadline = time.monotonic() + 180
        while True:
            text = scrape(served)  # answered by the other worker, or the new one
            if not live.exists():
                break
            assert time.monotonic() < deadline, "the dead worker's live gauges stayed"
            time.sleep(0.5)
        assert value_in(text, "lakehold_http_requests_total", **ME) == sent  # its counts stay
        assert (directory / f"counter_{gone}.db").exists()
