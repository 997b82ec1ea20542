"""/static: the package's files, vendored ones cached for a year, the portal's revalidated."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_vendored_files_are_immutable(portal: TestClient) -> None:
    response = portal.get("/static/vendor/swagger-ui-5.36.0/swagger-ui.css")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"].startswith("text/css")


def test_portal_files_are_revalidated(portal: TestClient) -> None:
    first = portal.get("/static/css/portal.css")
    assert first.headers["cache-control"] == "no-cache"
    again = portal.get("/static/css/portal.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_nothing_outside_the_static_directory(portal: TestClient) -> None:
    assert portal.get("/static/../app.py").status_code == 404
    assert portal.get("/static/%2e%2e/app.py").status_code == 404
    assert portal.get("/static/vendor/").status_code == 404  # no directory listings
