"""The home and search pages through the real application on SQLite: results, facets that
narrow, paging, escaped highlights, what each user may see, sign-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.catalog.search.service import SearchHit, SearchResults
from lakehold.catalog.tables import DataSource
from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.web.highlight import Highlighter
from lakehold.web.routes.search import SearchForm, pager
from tests import store_templates
from tests.conftest import SCENARIOS
from tests.sharing import add_member
from tests.web import markup

PASSWORDS = {"owner": "owner's long password", "viewer": "viewer's password", "outsider": "out"}
SCRIPT = "<script>alert('x')</script>"
DASH = "\N{EN DASH}"  # between the first and last result shown


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """retail (owner): customer (pii, gold; published), inventory (gold; published, a <script>
    in its description), store_sales (unpublished); finance (owner, viewer a member): ledger
    (pii, unpublished)."""
    home = tmp_path_factory.mktemp("search-page")
    runtime = Runtime(
        Settings(home=home / "home", database_url=store_templates.sqlite_url(home, "m.db"))
    )
    created = runtime.security.bootstrap()
    assert created is not None
    admin = runtime.security.authenticate(created[1])
    users = {
        name: runtime.security.create_user(admin, name, password=password)
        for name, password in PASSWORDS.items()
    }
    owner = users["owner"]
    runtime.catalog.create_domain(admin, "Retail")
    runtime.catalog.create_domain(admin, "Finance")
    runtime.organisation.create_unit(admin, "Retail", "Marketing")
    runtime.catalog.create_project(admin, "retail", "Retail", domain_unit="Retail/Marketing")
    add_member(runtime, "retail", owner, "owner")
    runtime.catalog.create_project(owner, "finance", "Finance")
    add_member(runtime, "finance", users["viewer"], "viewer")
    tables = [
        ("retail", "customer", "customer", "Customers who bought something", ["pii", "gold"]),
        ("retail", "inventory", "inventory", f"{SCRIPT} Stock per customer product", ["gold"]),
        ("retail", "store_sales", "store_sales", "Secret zeppelin sales per customer", []),
        ("finance", "ledger", "store_sales", "Zeppelin ledger of customer payments", ["pii"]),
    ]
    for project, name, csv, description, tags in tables:
        runtime.table_service.create_table(
            owner,
            project,
            name,
            DataSource(SCENARIOS / f"retail_{csv}.csv"),
            description=description,
            tags=tags,
        )
    runtime.listings.publish(owner, "retail", "customer")
    runtime.listings.publish(owner, "retail", "inventory")
    application = create_app(runtime)
    try:
        yield application
    finally:
        runtime.close()


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        yield http


def sign_in(browser: TestClient, username: str) -> TestClient:
    form = browser.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    data = {"username": username, "password": PASSWORDS[username], "csrf_token": token.group(1)}
    assert browser.post("/login", data=data).status_code == 303
    return browser


def search(browser: TestClient, query: str, **headers: str) -> httpx.Response:
    page = browser.get(f"/search?{query}", headers=headers)
    assert page.status_code == 200, page.text
    assert markup.read(page.text).inline == []  # nothing the CSP would block
    return page


def shown(page: httpx.Response) -> list[str]:
    """The qualified names of the results, in order."""
    return re.findall(r'<span class="qualified-name">([^<]+)</span>', page.text)


def facet(page: httpx.Response, name: str) -> dict[str, tuple[int, bool]]:
    """A facet's values: (count, checked)."""
    found = re.search(
        rf'<fieldset class="facet" id="facet-{name}">(.*?)</fieldset>', page.text, re.S
    )
    if not found:
        return {}
    options = re.findall(
        r'<input type="checkbox" id="[^"]+" name="[^"]+" value="([^"]+)"( checked)?>\s*'
        r'<label[^>]*>[^<]*<span class="facet-count">([\d,]+)\+?</span>',
        found.group(1),
    )
    return {unescape(v): (int(n.replace(",", "")), bool(c)) for v, c, n in options}


def test_not_signed_in_is_sent_to_sign_in(browser: TestClient) -> None:
    refused = browser.get("/search?q=customer&tag=pii")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/login?next=/search%3Fq%3Dcustomer%26tag%3Dpii"
    htmx = {"HX-Request": "true", "HX-Current-URL": "https://testserver/search?q=x"}
    assert browser.get("/search?q=y", headers=htmx).headers["hx-redirect"] == (
        "/login?next=/search%3Fq%3Dx"
    )
    home = browser.get("/")
    assert home.status_code == 200 and 'href="/login">Sign in</a> to search' in home.text
    assert "Your projects" not in home.text


def test_results_and_facets_are_shown(browser: TestClient) -> None:
    page = search(sign_in(browser, "owner"), "q=customer")
    assert sorted(shown(page)) == [
        "finance.ledger",
        "retail.customer",
        "retail.customer",  # the listing and the asset
        "retail.inventory",
        "retail.inventory",
        "retail.store_sales",
    ]
    assert f"1{DASH}6 of 6 results for “customer”" in page.text
    assert facet(page, "project") == {"retail": (5, False), "finance": (1, False)}
    assert facet(page, "tag") == {"gold": (4, False), "pii": (3, False)}
    assert facet(page, "domain_unit") == {
        "Finance": (1, False),
        "Retail": (5, False),  # with its sub-unit
        "Retail/Marketing": (5, False),
    }
    assert '<li class="depth-1">' in page.text  # Marketing indented below Retail
    assert 'href="/assets/retail/customer"' in page.text
    assert 'href="/assets/finance/ledger"' in page.text
    assert len(re.findall(r'href="/listings/[0-9a-f]+/request"', page.text)) == 2  # listings
    assert '<input id="search-q" name="q" type="search" value="customer"' in page.text
    assert '<link rel="stylesheet" href="/static/css/search.css">' in page.text
    assert browser.get("/static/js/search.js").status_code == 200
    assert browser.get("/static/css/search.css").status_code == 200


def test_a_facet_narrows_and_the_fragment_answers_htmx(browser: TestClient) -> None:
    sign_in(browser, "owner")
    pii = search(browser, "q=customer&tag=pii")
    assert sorted(shown(pii)) == ["finance.ledger", "retail.customer", "retail.customer"]
    assert facet(pii, "tag")["pii"] == (3, True)
    assert facet(pii, "project") == {"retail": (2, False), "finance": (1, False)}
    assert 'href="/search?q=customer">Clear filters</a>' in pii.text
    both = search(browser, "q=customer&tag=pii&project=finance&project=retail&scope=inventory")
    assert sorted(shown(both)) == ["finance.ledger", "retail.customer"]
    unit = search(browser, "domain_unit=Retail&scope=listings")
    assert sorted(shown(unit)) == ["retail.customer", "retail.inventory"]
    assert facet(unit, "domain_unit")["Retail"] == (2, True)

    fragment = search(browser, "q=customer&tag=pii", **{"HX-Request": "true"})
    assert "<html" not in fragment.text and "<h1>" not in fragment.text
    assert sorted(shown(fragment)) == sorted(shown(pii))
    assert 'id="search-q-error" class="form-error" hx-swap-oob="true"' in fragment.text
    assert fragment.headers["vary"] == "HX-Request"
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert "<html" in search(browser, "q=customer", **restore).text  # a whole page
    form = search(browser, "q=customer")
    assert 'hx-get="/search" hx-target="#search-results" hx-push-url="true"' in form.text


def test_paging(browser: TestClient) -> None:
    sign_in(browser, "owner")
    first = search(browser, "q=customer&scope=inventory&per_page=2")
    assert f"1{DASH}2 of 4 results" in first.text
    assert 'rel="next" href="/search?q=customer&amp;scope=inventory&amp;per_page=2&amp;page=2"' in (
        first.text
    )
    assert 'rel="prev"' not in first.text
    second = search(browser, "q=customer&scope=inventory&per_page=2&page=2")
    assert f"3{DASH}4 of 4 results" in second.text
    assert 'rel="prev" href="/search?q=customer&amp;scope=inventory&amp;per_page=2"' in second.text
    assert 'rel="next"' not in second.text
    assert not set(shown(first)) & set(shown(second))
    assert len(set(shown(first) + shown(second))) == 4
    assert '<ol class="result-list" start="3">' in second.text
    past = search(browser, "q=customer&scope=inventory&per_page=2&page=9")
    assert "No more results (of 4)" in past.text and 'rel="prev"' in past.text
    refused = browser.get("/search?q=customer&page=0")
    assert refused.status_code == 400 and "page must be a whole number" in refused.text
    assert 'value="customer"' in refused.text  # the search is kept in the form


def test_a_total_past_the_window_reads_1000_plus() -> None:
    hit = SearchHit(
        "asset", "p.t", "t", None, "p", None, "lakehouse_table", [], [], datetime.now(UTC)
    )
    window = SearchResults(total=1000, limit=20, offset=980, items=[hit] * 20, total_exact=False)
    paged = pager(SearchForm(q="x", page=50), window)
    assert paged.total == "1,000+" and paged.first == 981
    assert paged.next_url == "/search?q=x&page=51"  # more may follow
    exact = SearchResults(total=1000, limit=20, offset=980, items=[hit] * 20)
    assert pager(SearchForm(q="x", page=50), exact).next_url is None


def test_matches_are_marked_and_data_is_escaped(browser: TestClient) -> None:
    page = search(sign_in(browser, "owner"), "q=stock&scope=listings")
    assert shown(page) == ["retail.inventory"]
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; <mark>Stock</mark> per" in page.text
    column = search(browser, "q=prod_name&scope=listings")  # a column: the service's snippet
    snippet = re.search(r'<p class="result-snippet">(.*?)</p>', column.text, re.S)
    assert snippet and "<mark>prod_name</mark>" in snippet.group(1)
    tagged = search(browser, "q=%3Cscript%3E+customer&scope=listings")  # q is escaped too
    assert "<script>" not in tagged.text.replace('<script src="', "")
    assert "“&lt;script&gt; customer”" in tagged.text


def test_a_bad_search_is_shown_next_to_the_box(browser: TestClient) -> None:
    sign_in(browser, "owner")
    refused = browser.get('/search?q="unbalanced')
    assert refused.status_code == 400
    assert re.search(
        r'id="search-q-error" class="form-error" role="alert">q has an unbalanced', refused.text
    )
    assert 'aria-invalid="true"' in refused.text
    fragment = browser.get('/search?q="unbalanced', headers={"HX-Request": "true"})
    assert fragment.status_code == 400 and 'hx-swap-oob="true" role="alert">q has' in fragment.text
    scope = browser.get("/search?q=x&scope=everything")
    assert scope.status_code == 400 and "scope must be one of" in scope.text


def test_users_see_only_what_their_projects_and_listings_allow(browser: TestClient, app) -> None:
    outsider = search(sign_in(browser, "outsider"), "q=customer")
    assert sorted(shown(outsider)) == ["retail.customer", "retail.inventory"]  # listings only
    assert facet(outsider, "project") == {"retail": (2, False)}
    assert "/assets/" not in outsider.text  # listings lead to their request form
    assert len(re.findall(r'href="/listings/[0-9a-f]+/request"', outsider.text)) == 2
    hidden_text = search(browser, "q=zeppelin")  # in unpublished assets only
    assert shown(hidden_text) == [] and "Nothing found for “zeppelin”" in hidden_text.text
    assert shown(search(browser, "scope=inventory")) == []
    # a filter naming a hidden project finds nothing and counts nothing
    hidden = search(browser, "project=finance")
    assert shown(hidden) == [] and facet(hidden, "project") == {"finance": (0, True)}
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as other:
        viewer = search(sign_in(other, "viewer"), "q=zeppelin")
        assert shown(viewer) == ["finance.ledger"]  # the project it views, not retail's
        assert "retail" not in facet(viewer, "project")


def test_home_lists_ones_recent_assets_and_projects(browser: TestClient, app) -> None:
    home = sign_in(browser, "owner").get("/")
    assert home.status_code == 200 and markup.read(home.text).inline == []
    assert '<form class="search" action="/search" method="get" role="search">' in home.text
    assert 'href="/assets/finance/ledger">finance.ledger</a>' in home.text
    assert 'href="/search?scope=inventory&amp;project=retail">retail</a>' in home.text
    assert "&lt;script&gt;" in home.text and SCRIPT not in home.text
    assert "Sign in</a> to search" not in home.text
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as other:
        viewer = sign_in(other, "viewer").get("/")
        assert "finance.ledger" in viewer.text and "retail" not in viewer.text


def test_the_highlighter_marks_words_and_escapes_the_rest() -> None:
    marker = Highlighter("orders cust*")
    assert marker.mark("<b>Order</b> of customers & co") == (
        "&lt;b&gt;<mark>Order</mark>&lt;/b&gt; of <mark>customers</mark> &amp; co"
    )
    assert marker.mark("a long order text", limit=7) == "a long…"
    # the service's marks become <mark>; brackets that are the data's own stay as typed
    assert marker.snippet("codes [0-9] of [orders] <i>") == (
        "codes [0-9] of <mark>orders</mark> &lt;i&gt;"
    )
    assert Highlighter('"unbalanced').mark("<x>") == "&lt;x&gt;"
