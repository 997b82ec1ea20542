"""HTTP requests counted by route template, method and status, with their durations: never
the path a client sent, ``/static`` for static files, ``unmatched`` for the rest."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lakehold.runtime import Runtime
from tests.ops.samples import sample

PROJECT_ROUTE = "/api/v1/projects/{project}"


def requests(method: str, route: str, status: int) -> float:
    return sample("lakehold_http_requests_total", method=method, route=route, status=str(status))


def timed(method: str, route: str) -> float:
    return sample("lakehold_http_request_duration_seconds_count", method=method, route=route)


def test_routes_are_templates_and_statuses_are_counted(
    client: TestClient, anonymous: TestClient, runtime: Runtime, admin
) -> None:
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(admin, "sales", "Sales")
    found, missing = requests("GET", PROJECT_ROUTE, 200), requests("GET", PROJECT_ROUTE, 404)
    durations = timed("GET", PROJECT_ROUTE)
    assert client.get("/api/v1/projects/sales").status_code == 200
    assert client.get("/api/v1/projects/sales").status_code == 200
    assert client.get("/api/v1/projects/no-such-project-7f3a").status_code == 404
    assert requests("GET", PROJECT_ROUTE, 200) == found + 2
    assert requests("GET", PROJECT_ROUTE, 404) == missing + 1
    assert timed("GET", PROJECT_ROUTE) == durations + 3

    unauthorized = requests("GET", "/api/v1/me", 401)
    assert anonymous.get("/api/v1/me").status_code == 401
    assert requests("GET", "/api/v1/me", 401) == unauthorized + 1


def test_static_files_unmatched_paths_and_odd_methods(client: TestClient) -> None:
    static, unmatched = requests("GET", "/static", 200), requests("GET", "unmatched", 404)
    other = requests("OTHER", "/health", 405)
    assert client.get("/static/img/favicon.svg").status_code == 200
    assert client.get("/static/css/search.css").status_code == 200
    assert client.get("/api/v1/no/such/thing/9c1e").status_code == 404
    assert client.request("BREW", "/health").status_code == 405
    assert requests("GET", "/static", 200) == static + 2
    assert requests("GET", "unmatched", 404) == unmatched + 1
    assert requests("OTHER", "/health", 405) == other + 1
    assert sample("lakehold_http_requests_total", method="BREW", route="/health", status="405") == (
        0.0
    )
