"""A browser asking for a page gets an HTML error page; programs keep the JSON error body."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lakehold.api.app import create_app

HTML = {"accept": "text/html,application/xhtml+xml"}


def test_a_page_that_does_not_exist_is_an_html_page(runtime) -> None:
    client = TestClient(create_app(runtime))
    response = client.get("/no/such/page", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in response.text
    assert response.headers["x-request-id"]


def test_the_api_keeps_json_errors_even_for_browsers(runtime) -> None:
    client = TestClient(create_app(runtime))
    response = client.get("/api/v1/domains", headers=HTML)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_a_signed_out_page_still_redirects_to_sign_in(runtime) -> None:
    client = TestClient(create_app(runtime), follow_redirects=False)
    response = client.get("/sessions", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
