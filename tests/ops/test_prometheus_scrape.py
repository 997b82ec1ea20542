"""The real Prometheus (Debian's ``prometheus`` package, installed by ``.ci/run``) scrapes a
running ``lakehold serve`` with a ``metrics`` token from ``credentials_file``; after a statement,
a table write and a lineage event its HTTP API answers the series with their values, and every
metric name the server exports. SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.lineage.events import dataset, run_event
from tests.ops.promql_names import exported_names
from tests.ops.serving import Served, lakehold_serve
from tests.scenarios.helpers import create_table, ok, setup_project
from tests.servers import free_port

PROMETHEUS = Path("/usr/bin/prometheus")


@pytest.fixture
def prometheus_binary() -> Path:
    assert PROMETHEUS.is_file(), (
        f"{PROMETHEUS} is missing: install Debian's prometheus package "
        "(apt-get install prometheus; .ci/run does)"
    )
    return PROMETHEUS


def metrics_token(served: Served) -> str:
    issued = httpx.post(
        f"{served.url}/api/v1/tokens",
        json={"name": "prometheus", "scopes": ["metrics"]},
        headers=served.auth,
    )
    assert issued.status_code == 201, issued.text
    return issued.json()["value"]


def prometheus_config(folder: Path, served: Served, token: str) -> Path:
    credentials = folder / "lakehold.token"
    credentials.write_text(token)
    credentials.chmod(0o600)
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: lakehold\n"
        "    metrics_path: /metrics\n"
        "    authorization:\n"
        f"      credentials_file: {credentials}\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{served.port}']\n"
    )
    return config


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def ready(prometheus: str) -> bool:
    """Whether Prometheus listens and has finished starting (it answers 503 until then)."""
    try:
        return httpx.get(f"{prometheus}/-/ready", timeout=10).status_code == 200
    except httpx.TransportError:
        return False  # not listening yet


def names(prometheus: str) -> set[str]:
    """The metric names Prometheus holds from the lakehold job."""
    answer = httpx.get(
        f"{prometheus}/api/v1/label/__name__/values",
        params={"match[]": '{job="lakehold"}'},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return set(answer.json()["data"])


def exported_samples(served: Served, token: str) -> set[str]:
    """The names of the samples the server's ``GET /metrics`` answers now."""
    answer = httpx.get(
        f"{served.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    samples = "\n".join(line for line in answer.text.splitlines() if not line.startswith("#"))
    return {name for name in exported_names(samples) if name.startswith("lakehold_")}


def wait_for(prometheus: str, promql: str, value: float, *, alive, seconds: float = 120) -> dict:
    """The one series ``promql`` answers once its value is ``value``."""
    deadline, last = time.monotonic() + seconds, None
    while True:
        assert alive(), "prometheus stopped"
        last = query(prometheus, promql) if ready(prometheus) else None
        if last and len(last) == 1 and float(last[0]["value"][1]) == value:
            return last[0]["metric"]
        assert time.monotonic() < deadline, f"{promql}: {last} (waiting for {value})"
        time.sleep(0.25)


def test_prometheus_scrapes_a_running_server(
    tmp_path: Path, database_url: str, prometheus_binary: Path
) -> None:
    with lakehold_serve(tmp_path, database_url) as served:
        token = metrics_token(served)
        config = prometheus_config(tmp_path, served, token)
        checked = subprocess.run(
            ["promtool", "check", "config", str(config)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        port = free_port()
        with (tmp_path / "prometheus.log").open("w") as log:
            process = subprocess.Popen(
                [
                    str(prometheus_binary),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            prometheus = f"http://127.0.0.1:{port}"
            alive = lambda: process.poll() is None  # noqa: E731
            try:
                wait_for(prometheus, 'up{job="lakehold"}', 1, alive=alive)
                ran = httpx.post(
                    f"{served.url}/api/v1/query",
                    json={"sql": "select 42 as answer"},
                    headers=served.auth,
                    timeout=60,
                )
                assert ran.status_code == 200, ran.text
                finished = 'lakehold_statements_total{job="lakehold",state="FINISHED"}'
                labels = wait_for(prometheus, finished, 1, alive=alive)
                assert labels["project"] == "_none" and labels["instance"].endswith(
                    f":{served.port}"
                )
                requests = (
                    'lakehold_http_requests_total{route="/api/v1/query",method="POST",status="200"}'
                )
                wait_for(prometheus, requests, 1, alive=alive)
                wait_for(
                    prometheus, 'lakehold_statement_rows_total{project="_none"}', 1, alive=alive
                )
                scrapes = 'lakehold_http_requests_total{route="/metrics",status="200"} > 0'
                assert query(prometheus, scrapes)  # Prometheus's own scrapes, authorized
                assert not query(prometheus, 'lakehold_http_requests_total{status="403"}')

                # a table write and a lineage event: their families reach Prometheus too
                with httpx.Client(base_url=served.url, headers=served.auth, timeout=60) as admin:
                    setup_project(admin, "ops")
                    create_table(admin, "ops", "customers", "retail_customer.csv")
                    lineage = run_event("COMPLETE", "etl.load", outputs=[dataset("pg", "t", "id")])
                    ok(admin.post("/api/v1/lineage", json=lineage), 201)
                wait_for(
                    prometheus,
                    'lakehold_table_writes_total{project="ops",operation="create"}',
                    1,
                    alive=alive,
                )
                wait_for(
                    prometheus, 'lakehold_lineage_events_total{outcome="accepted"}', 1, alive=alive
                )
                exported = exported_samples(served, token)
                assert {
                    "lakehold_decisions_total",
                    "lakehold_table_commit_seconds_bucket",
                    "lakehold_statement_queue_seconds_bucket",
                    "lakehold_metadata_pool_connections",
                    "lakehold_warehouse_disk_free_bytes",
                    "lakehold_build_info",
                } <= exported
                deadline = time.monotonic() + 60
                while missing := exported - names(prometheus):
                    assert time.monotonic() < deadline, f"not in Prometheus: {sorted(missing)}"
                    time.sleep(0.25)
            finally:
                process.terminate()
                process.wait(timeout=30)
