"""The base layout and the home page; the one Jinja2 environment escapes what it renders."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from lakehold.web.assets import STATIC
from lakehold.web.templates import ENVIRONMENT
from tests.web import markup


def test_home_page_renders_the_layout_and_a_search_box(portal: TestClient) -> None:
    response = portal.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Lakehold</h1>" in response.text
    assert '<form class="search" action="/search" method="get" role="search">' in response.text
    assert '<label for="search-q">' in response.text and 'id="search-q" name="q"' in response.text
    page = markup.read(response.text)
    assert page.inline == []
    assert "/static/css/portal.css" in page.urls
    assert "/static/vendor/htmx-2.0.11/htmx.min.js" in page.urls
    for url in (url for url in page.urls if url.startswith("/static/")):
        assert portal.get(url).status_code == 200, url


def test_htmx_is_configured_for_the_policy(portal: TestClient) -> None:
    """htmx would inject a <style> (blocked by style-src 'self') and may eval: both off."""
    text = portal.get("/").text
    assert '"includeIndicatorStyles": false' in text and '"allowEval": false' in text
    assert ".htmx-indicator" in (STATIC / "css" / "portal.css").read_text()


def test_autoescape_is_on() -> None:
    template = ENVIRONMENT.from_string("<p>{{ value }}</p>")
    assert template.render(value="<script>x()</script>") == (
        "<p>&lt;script&gt;x()&lt;/script&gt;</p>"
    )


def test_no_template_has_inline_script_or_style() -> None:
    """The policy has no 'unsafe-inline': a template with inline code would break in browsers."""
    assert ENVIRONMENT.loader is not None
    for name in ENVIRONMENT.list_templates():
        source = ENVIRONMENT.loader.get_source(ENVIRONMENT, name)[0]
        source = re.sub(r"\{#.*?#\}", "", source, flags=re.DOTALL)  # Jinja comments
        assert markup.read(source).inline == [], name
