"""Small HTTP helpers for scenario tests: every step goes through the public API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import SCENARIOS, upload


def ok(response, status: int = 200) -> dict | list:
    assert response.status_code == status, response.text
    return response.json()


def setup_project(client: TestClient, project: str, domain: str = "Scenarios") -> None:
    if client.get("/api/v1/domains").json() == []:
        ok(client.post("/api/v1/domains", json={"name": domain}), 201)
    ok(client.post("/api/v1/projects", json={"name": project, "domain": domain}), 201)


def create_table(
    client: TestClient, project: str, name: str, file: str, keys: str | None = None
) -> dict:
    data = {"name": name, **({"keys": keys} if keys else {})}
    return ok(
        client.post(
            f"/api/v1/projects/{project}/tables", data=data, files=upload(SCENARIOS / file)
        ),
        201,
    )


def write(client: TestClient, project: str, name: str, path: Path | str, **form: str):
    path = path if isinstance(path, Path) else SCENARIOS / path
    return client.post(
        f"/api/v1/projects/{project}/tables/{name}/writes", data=form, files=upload(path)
    )


def query(client: TestClient, sql: str, **extra) -> list[dict]:
    return ok(client.post("/api/v1/query", json={"sql": sql, "limit": 10000, **extra}))["rows"]


def retail_filters(owner: TestClient) -> None:
    """Scenario 3's two filters of the retail project: ``widget_a`` (rows of product 1 of
    store_sales) and ``no_email`` (customer without cust_email)."""
    ok(
        owner.post(
            "/api/v1/projects/retail/assets/store_sales/filters",
            json={"name": "widget_a", "kind": "row", "expression": "prod_id = 1"},
        ),
        201,
    )
    ok(
        owner.post(
            "/api/v1/projects/retail/assets/customer/filters",
            json={
                "name": "no_email",
                "kind": "column",
                "columns": ["cust_id", "cust_name", "cust_country"],
            },
        ),
        201,
    )
