"""Security headers on every response: the API, pages, static files and errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/health", 200),  # an API route
        ("/api/v1/me", 401),  # an API error
        ("/", 200),  # a page
        ("/docs", 200),  # Swagger UI needs nothing more than the portal's policy
        ("/static/css/portal.css", 200),  # a static file
        ("/static/vendor/htmx-2.0.11/htmx.min.js", 200),  # a vendored one
        ("/static/nothing.js", 404),
        ("/no/such/page", 404),
    ],
)
def test_every_response_carries_the_headers(portal: TestClient, path: str, status: int) -> None:
    response = portal.get(path)
    assert response.status_code == status
    assert response.headers["content-security-policy"] == POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


def test_redoc_loosens_styles_and_workers_only(portal: TestClient) -> None:
    """ReDoc writes <style> elements and runs its search in a blob: worker; scripts stay
    'self' and everything else is the portal's policy."""
    response = portal.get("/redoc")
    directives = dict(
        part.split(" ", 1) for part in response.headers["content-security-policy"].split("; ")
    )
    expected = dict(part.split(" ", 1) for part in POLICY.split("; "))
    expected |= {"style-src": "'self' 'unsafe-inline'", "worker-src": "'self' blob:"}
    assert directives == expected
    assert response.headers["x-frame-options"] == "DENY"
