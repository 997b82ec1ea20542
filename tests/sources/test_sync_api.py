"""The sync jobs HTTP API: create, list, get, patch, delete, run, run history; errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lakehold.runtime import Runtime
from tests.sharing import client_for
from tests.sources.conftest import SourceDb, Team
from tests.sources.test_sync_jobs import INITIAL, insert, table_rows, ts

BASE = "/api/v1/projects/sales/sync-jobs"


def body(source: SourceDb, **fields) -> dict:
    return {
        "name": "accounts",
        "connection": "crm",
        "source_table": f"{source.schema}.account",
        "target_table": "account",
        "watermark_column": "last_modified",
        "key_columns": ["id"],
        "delete_column": "is_deleted",
        **fields,
    }


def seed(source: SourceDb) -> None:
    insert(
        source,
        f"(1, 'Acme', 'Manufacturing', 1000, false, {ts(1)})",
        f"(2, 'Globex', 'Energy', 2000, false, {ts(2)})",
        f"(3, 'Initech', 'Software', 300.50, false, {ts(3)})",
    )


def test_lifecycle(runtime: Runtime, team: Team, crm: SourceDb):
    seed(crm)
    with client_for(runtime, team.owner_token) as http:
        created = http.post(BASE, json=body(crm, schedule="0 3 * * *"))
        assert created.status_code == 201, created.text
        assert created.json()["next_run_at"] is not None
        assert [j["name"] for j in http.get(BASE).json()] == ["accounts"]

        run = http.post(f"{BASE}/accounts/runs")
        assert run.status_code == 200, run.text
        assert {k: run.json()[k] for k in ("status", "rows_read", "rows_inserted")} == {
            "status": "succeeded",
            "rows_read": 3,
            "rows_inserted": 3,
        }
        assert table_rows(runtime, "account") == INITIAL
        job = http.get(f"{BASE}/accounts").json()
        assert job["last_watermark"] == "2024-01-03 10:00:00+00:00"

        patched = http.patch(f"{BASE}/accounts", json={"schedule": None, "description": "CRM"})
        assert patched.status_code == 200, patched.text
        assert (patched.json()["schedule"], patched.json()["next_run_at"]) == (None, None)
        assert patched.json()["last_watermark"] == job["last_watermark"]

        runs = http.get(f"{BASE}/accounts/runs", params={"limit": 5}).json()
        assert [r["id"] for r in runs] == [run.json()["id"]]
        assert http.delete(f"{BASE}/accounts").status_code == 204
        assert http.get(f"{BASE}/accounts").status_code == 404


def test_source_down_is_502(runtime: Runtime, team: Team, crm: SourceDb):
    seed(crm)
    with client_for(runtime, team.owner_token) as http:
        assert http.post(BASE, json=body(crm)).status_code == 201
        runtime.connections.update(team.owner, "sales", "crm", params={"port": 1})
        failed = http.post(f"{BASE}/accounts/runs")
        assert failed.status_code == 502
        assert failed.json()["error"] == "source_unavailable"
        assert "'crm'" in failed.json()["message"]
        runs = http.get(f"{BASE}/accounts/runs").json()
        assert [r["status"] for r in runs] == ["failed"]
        assert http.get(f"{BASE}/accounts").json()["last_watermark"] is None
        described = http.patch(f"{BASE}/accounts", json={"description": "no source needed"})
        assert described.status_code == 200
        assert http.patch(f"{BASE}/accounts", json={"key_columns": ["id"]}).status_code == 200
        assert http.patch(f"{BASE}/accounts", json={"mode": "full"}).status_code == 502
        assert http.post(BASE, json=body(crm, name="other", target_table="t2")).status_code == 502


def test_permissions(runtime: Runtime, team: Team, crm: SourceDb):
    seed(crm)
    with client_for(runtime, team.owner_token) as http:
        assert http.post(BASE, json=body(crm)).status_code == 201
    with client_for(runtime, team.viewer_token) as http:
        assert http.get(f"{BASE}/accounts").status_code == 200
        assert http.post(f"{BASE}/accounts/runs").status_code == 403
        assert http.post(BASE, json=body(crm, name="mine")).status_code == 403
        assert http.patch(f"{BASE}/accounts", json={"mode": "full"}).status_code == 403
    with client_for(runtime, team.outsider_token) as http:
        assert http.post(f"{BASE}/accounts/runs").status_code == 404
        assert http.get(BASE).status_code == 404


def test_bad_input_is_400_naming_the_field(runtime: Runtime, team: Team, crm: SourceDb):
    with client_for(runtime, team.owner_token) as http:
        unknown = http.post(BASE, json=body(crm, watermark_column="modified"))
        assert unknown.status_code == 400
        assert unknown.json()["field"] == "watermark_column"
        assert "modified" in unknown.json()["message"]
        keyless = http.post(BASE, json=body(crm, key_columns=[]))
        assert (keyless.status_code, keyless.json()["field"]) == (400, "key_columns")
        mode = http.post(BASE, json=body(crm, mode="hourly"))
        assert (mode.status_code, mode.json()["field"]) == (400, "mode")
        missing = http.post(BASE, json={"name": "x"})
        assert missing.status_code == 400
        assert http.post(f"{BASE}/nope/runs").status_code == 404
        assert http.get(BASE).json() == []


def test_openapi_lists_the_endpoints(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/api/v1/projects/{project}/sync-jobs"]) == {"get", "post"}
    assert set(paths["/api/v1/projects/{project}/sync-jobs/{name}/runs"]) == {"get", "post"}
    assert set(paths["/api/v1/projects/{project}/sync-jobs/{name}"]) == {"get", "patch", "delete"}
