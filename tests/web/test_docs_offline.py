"""/docs and /redoc work offline: every asset is served here, and no page has inline code."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web import markup

TYPES = {".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_reference_only_assets_served_here(portal: TestClient, page: str) -> None:
    response = portal.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "http://" not in response.text and "https://" not in response.text
    page_markup = markup.read(response.text)
    assert page_markup.inline == []
    assets = [url for url in page_markup.urls if url != "/openapi.json"]
    assert assets and all(url.startswith("/static/") for url in assets)
    assert "/openapi.json" in page_markup.urls
    for url in assets:
        asset = portal.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert TYPES[suffix] in asset.headers["content-type"], url


def test_swagger_ui_is_started_by_a_static_script_reading_the_page(portal: TestClient) -> None:
    page = markup.read(portal.get("/docs").text)
    assert page.urls[-1] == "/static/js/swagger-init.js"
    script = portal.get("/static/js/swagger-init.js").text
    assert "dataset.openapiUrl" in script
    assert "validatorUrl: null" in script  # Swagger UI would ask an online validator
    assert portal.get("/openapi.json").status_code == 200


def test_docs_pages_stay_out_of_the_openapi_document(portal: TestClient) -> None:
    """Pages are not API: the document (and the SDK models generated from it) lacks them."""
    paths = portal.get("/openapi.json").json()["paths"]
    assert not {"/", "/docs", "/redoc", "/docs/oauth2-redirect"} & set(paths)
    assert not [path for path in paths if path.startswith("/static")]
