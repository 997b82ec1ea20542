"""HTTP API of connections and data sources: happy paths, errors, no secret in responses."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from lakehold.runtime import Runtime
from tests.sharing import client_for
from tests.sources.conftest import SourceDb, Team

PASSWORD = "api-pass-Wo3d"
BASE = "/api/v1/projects/sales"


def test_connection_endpoints(
    runtime: Runtime, client: TestClient, team: Team, pg_source: SourceDb
) -> None:
    body = {"name": "pg", "kind": "postgresql", "params": pg_source.params, "password": PASSWORD}
    with client_for(runtime, team.owner_token) as owner:
        created = owner.post(f"{BASE}/connections", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["has_secret"] is True and PASSWORD not in created.text
        assert owner.post(f"{BASE}/connections", json=body).status_code == 409
        listed = owner.get(f"{BASE}/connections")
        assert [c["name"] for c in listed.json()] == ["pg"] and PASSWORD not in listed.text
        tested = owner.post(f"{BASE}/connections/pg/test")
        assert tested.status_code == 200 and "PostgreSQL" in tested.json()["version"]
        patched = owner.patch(f"{BASE}/connections/pg", json={"description": "crm"})
        assert patched.json()["description"] == "crm" and PASSWORD not in patched.text
        assert runtime.connections.spec(created.json()["id"]).secret == PASSWORD
    with client_for(runtime, team.viewer_token) as viewer:
        assert viewer.get(f"{BASE}/connections/pg").status_code == 403
        assert viewer.post(f"{BASE}/connections/pg/test").status_code == 403
    with client_for(runtime, team.outsider_token) as outsider:
        assert outsider.get(f"{BASE}/connections/pg").status_code == 404
        assert outsider.get(f"{BASE}/connections").status_code == 404
        assert outsider.delete(f"{BASE}/connections/pg").status_code == 404
    assert client.get(f"{BASE}/connections/pg").status_code == 200  # administrators
    assert client.delete(f"{BASE}/connections/pg").status_code == 204
    assert client.get(f"{BASE}/connections/pg").status_code == 404


def test_connection_errors(client: TestClient, team: Team) -> None:
    bad_kind = client.post(f"{BASE}/connections", json={"name": "x", "kind": "oracle"})
    assert bad_kind.status_code == 400 and bad_kind.json()["field"] == "kind"
    down = {
        "name": "down",
        "kind": "postgresql",
        "params": {"host": "127.0.0.1", "port": 1, "database": "test", "user": "u"},
        "password": PASSWORD,
    }
    assert client.post(f"{BASE}/connections", json=down).status_code == 201
    tested = client.post(f"{BASE}/connections/down/test")
    assert tested.status_code == 502
    assert "'down'" in tested.json()["message"] and PASSWORD not in tested.text
    missing_body = client.post(f"{BASE}/connections", json={"kind": "sqlite"})
    assert missing_body.status_code == 400 and missing_body.json()["field"] == "name"


def test_data_source_endpoints(
    runtime: Runtime, client: TestClient, team: Team, files_source: Path
) -> None:
    body = {"name": "lake", "kind": "files", "params": {"path": str(files_source)}}
    assert client.post(f"{BASE}/connections", json=body).status_code == 201
    bad_cron = client.post(
        f"{BASE}/data-sources", json={"name": "c", "connection": "lake", "schedule": "often"}
    )
    assert bad_cron.status_code == 400 and bad_cron.json()["field"] == "schedule"
    source = {"name": "crawl", "connection": "lake", "include": ["orders", "events"]}
    created = client.post(f"{BASE}/data-sources", json=source)
    assert created.status_code == 201 and created.json()["include"] == ["orders", "events"]
    run = client.post(f"{BASE}/data-sources/crawl/runs")
    assert run.status_code == 201 and run.json()["tables_added"] == 2
    runs = client.get(f"{BASE}/data-sources/crawl/runs").json()
    assert [r["status"] for r in runs] == ["succeeded"]
    assets = {a["name"]: a for a in client.get(f"{BASE}/assets").json()}
    assert set(assets) == {"orders", "events"}
    patched = client.patch(f"{BASE}/data-sources/crawl", json={"schedule": "0 3 * * *"})
    assert patched.status_code == 200 and patched.json()["next_run_at"] is not None
    with client_for(runtime, team.viewer_token) as viewer:
        assert viewer.post(f"{BASE}/data-sources/crawl/runs").status_code == 403
    assert client.get(f"{BASE}/data-sources/nope/runs").status_code == 404
    assert client.delete(f"{BASE}/data-sources/crawl").status_code == 204


def test_run_on_unreachable_source_is_502(client: TestClient, team: Team) -> None:
    params = {"host": "127.0.0.1", "port": 1, "database": "test", "user": "u"}
    down = {"name": "down", "kind": "mysql", "params": params, "password": PASSWORD}
    assert client.post(f"{BASE}/connections", json=down).status_code == 201
    assert client.post(f"{BASE}/data-sources", json={"name": "c", "connection": "down"}).is_success
    run = client.post(f"{BASE}/data-sources/c/runs")
    assert run.status_code == 502 and "'down'" in run.json()["message"]
    assert PASSWORD not in run.text and run.json()["run"]
    [failed] = client.get(f"{BASE}/data-sources/c/runs").json()
    assert failed["status"] == "failed" and PASSWORD not in str(failed)


def test_endpoints_are_in_openapi(anonymous: TestClient) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/projects/{project}/connections",
        "/api/v1/projects/{project}/connections/{name}",
        "/api/v1/projects/{project}/connections/{name}/test",
        "/api/v1/projects/{project}/data-sources",
        "/api/v1/projects/{project}/data-sources/{name}/runs",
    ):
        assert path in paths
    schema = anonymous.get("/openapi.json").text
    assert "secret_ciphertext" not in schema
