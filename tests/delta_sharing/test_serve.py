"""``lakehold serve`` runs the refresher of filtered share snapshots: a source commit reaches
the snapshot without any recipient reading (ADR 37)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from tests.conftest import SCENARIOS
from tests.servers import free_port, serve_process


def _ok(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _snapshot_versions(home: Path) -> list[int]:
    logs = [p / "_delta_log" for p in (home / "warehouse" / ".sharing").glob("*") if p.is_dir()]
    assert len(logs) == 1
    return sorted(int(n[:-5]) for n in os.listdir(logs[0]) if n.endswith(".json"))


def test_serve_refreshes_filtered_snapshots_in_the_background(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        **os.environ,
        "LAKEHOLD_HOME": str(home),
        "LAKEHOLD_PORT": str(free_port()),
        "LAKEHOLD_SHARING_REFRESH_SECONDS": "0.5",
    }
    for name in ("LAKEHOLD_DATABASE_URL", "LAKEHOLD_URL", "LAKEHOLD_TOKEN", "LAKEHOLD_PROFILE"):
        env.pop(name, None)
    with serve_process(env, tmp_path / "serve.log") as (url, _):
        token = (home / "admin_token").read_text().strip()
        owner = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        _ok(owner.post("/api/v1/domains", json={"name": "Retail"}))
        _ok(owner.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"}))
        data = (SCENARIOS / "retail_store_sales.csv").read_bytes()
        _ok(
            owner.post(
                "/api/v1/projects/retail/tables",
                data={"name": "store_sales"},
                files={"file": ("store_sales.csv", data)},
            )
        )
        _ok(owner.post("/api/v1/projects/retail/assets/store_sales/publish"))
        filter_body = {"name": "widget_a", "kind": "row", "expression": "prod_id = 1"}
        _ok(owner.post("/api/v1/projects/retail/assets/store_sales/filters", json=filter_body))
        _ok(owner.post("/api/v1/shares", json={"name": "s", "project": "retail"}))
        _ok(owner.post("/api/v1/shares/s/tables", json={"asset": "store_sales"}))
        made = _ok(
            owner.post(
                "/api/v1/share-recipients",
                json={"project": "retail", "name": "acme", "organisation": "ACME"},
            )
        )
        body = {"share": "s", "recipient": made["recipient"]["id"], "reason": "r"}
        asked = _ok(owner.post("/api/v1/share-grants", json=body))
        table = {"table": "retail.store_sales", "row_filter": "widget_a"}
        _ok(owner.post(f"/api/v1/share-grants/{asked['id']}/approve", json={"tables": [table]}))
        assert _snapshot_versions(home) == [0]
        row = b"sale_id,cust_id,sale_date,sale_amount,prod_id,last_purchase_date\n"
        row += b"21,1,2023-03-01,10.00,1,2023-03-01\n"
        _ok(
            owner.post(
                "/api/v1/projects/retail/tables/store_sales/writes",
                data={"mode": "append"},
                files={"file": ("row.csv", row)},
            )
        )
        deadline = time.monotonic() + 30
        while _snapshot_versions(home) == [0]:
            assert time.monotonic() < deadline, "the refresher did not refresh the snapshot"
            time.sleep(0.1)
        assert _snapshot_versions(home) == [0, 1]
