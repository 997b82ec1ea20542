"""The pivot page (/pivot): a level per statement, totals computed by the database and equal to
independent aggregates (avg included), NULL members apart from empty text, a subscriber's pivot
over their granted rows only, fields checked against the source's columns, CSRF."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.catalog.tables import DataSource
from lakehold.governance.subscriptions import ItemDecision
from lakehold.security.principal import Principal
from lakehold.web.routes import ROUTERS
from lakehold.web.routes import pivot as pivot_page
from tests import store_templates
from tests.web import markup
from tests.web.browsers import form_token, signed_in

PASSWORD = "correct horse battery"
BOB = "bob's long password"
HX = {"HX-Request": "true"}
XSS = "<script>alert(1)</script>"

SALES = pa.table(
    {
        "region": ["East", "East", "East", "East", "West", "West", "", None, None],
        "customer": ["c1", "c1", "c2", "c3", "c4", XSS, "c6", "c7", None],
        "channel": ["web", "shop", "web", "shop", "web", "web", "shop", "web", "shop"],
        "amount": pa.array([10, 20, 30, None, 5, 100, 7, 8, 9], pa.int64()),
    }
)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return store_templates.sqlite_url(tmp_path)


@pytest.fixture
def people(runtime, admin) -> dict[str, Principal]:
    """ana owns project retail and its table sales; bob is another user."""
    ana = runtime.security.create_user(admin, "ana", password=PASSWORD)
    bob = runtime.security.create_user(admin, "bob", password=BOB)
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(ana, "retail", "Sales")
    runtime.table_service.create_table(ana, "retail", "sales", DataSource(SALES))
    return {"ana": ana, "bob": bob}


@pytest.fixture
def app(runtime, people) -> FastAPI:
    app = create_app(runtime)
    if pivot_page not in ROUTERS:  # until the lead lists the page
        app.include_router(pivot_page.router)
    return app


def _browser(app: FastAPI, username: str, password: str) -> Iterator[TestClient]:
    return signed_in(app, username, password)


@pytest.fixture
def browser(app) -> Iterator[TestClient]:
    yield from _browser(app, "ana", PASSWORD)


@pytest.fixture
def bob(app) -> Iterator[TestClient]:
    yield from _browser(app, "bob", BOB)


def token(browser: TestClient) -> str:
    page = browser.get("/pivot")
    assert page.status_code == 200, page.text
    return form_token(page)


def form(**chosen: object) -> dict[str, object]:
    base: dict[str, object] = {
        "kind": "table",
        "table": "retail.sales",
        "rows": ["region", "customer"],
        "cols": ["channel"],
        "agg": "sum",
        "measure": "amount",
    }
    return {**base, **chosen}


def build(browser: TestClient, **chosen: object) -> httpx.Response:
    data = {**form(**chosen), "csrf_token": token(browser)}
    return browser.post("/pivot", data=data, headers=HX)


def state(fragment: httpx.Response) -> dict[str, object]:
    """The hidden form that expansions include (as htmx sends it)."""
    found = re.search(r'<form id="pivot-state" hidden>(.*?)</form>', fragment.text, re.S)
    assert found, fragment.text
    sent: dict[str, object] = {}
    for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', found.group(1)):
        value = unescape(value)
        if name in ("rows", "cols"):
            sent.setdefault(name, [])
            sent[name].append(value)  # type: ignore[union-attr]
        else:
            sent[name] = value
    return sent


def expand(browser: TestClient, built: httpx.Response, *path: str | None) -> httpx.Response:
    data = {**state(built), "path": json.dumps(list(path)), "csrf_token": token(browser)}
    return browser.post("/pivot/expand", data=data, headers=HX)


@dataclass
class Line:
    depth: int
    label: str
    cells: list[str]


def lines(fragment: httpx.Response) -> list[Line]:
    """The member rows: depth, label (``(null)``, ``(empty text)`` or the text) and cells."""
    found = []
    for depth, body in re.findall(r'<tr data-depth="(\d)" class="pivot-row[^"]*">(.*?)</tr>',
                                  fragment.text, re.S):  # fmt: skip
        label = re.search(r'<span class="pivot-label">(.*?)</span>', body, re.S)
        assert label
        cells = re.findall(r'<td class="pivot-num">(.*?)</td>', body, re.S)
        found.append(Line(int(depth), label.group(1).strip(), cells))
    return found


def totals(fragment: httpx.Response) -> list[str]:
    row = re.search(r'<tr class="pivot-totals">(.*?)</tr>', fragment.text, re.S)
    assert row, fragment.text
    return re.findall(r'<td class="pivot-num">(.*?)</td>', row.group(1), re.S)


def headers(fragment: httpx.Response) -> list[str]:
    return re.findall(r'<th scope="col" class="pivot-num">(.*?)</th>', fragment.text, re.S)


def issued(runtime, who: Principal) -> int:
    """How many statements ``who`` has run."""
    return len(runtime.statements.list_statements(who, limit=10_000))


def scalar(runtime, admin, sql: str) -> float | None:
    return runtime.statements.execute(admin, sql).table.column(0)[0].as_py()


NULL = '<em class="pivot-null">(null)</em>'
EMPTY = '<em class="pivot-empty">(empty text)</em>'


# -- the page -----------------------------------------------------------------------------------


def test_the_page_and_its_fields(browser) -> None:
    page = browser.get("/pivot")
    assert page.status_code == 200
    assert markup.read(page.text).inline == []  # nothing the CSP would block
    assert '<option value="retail.sales">' in page.text  # a table the user may read
    for url in ("/static/css/pivot.css", "/static/js/pivot.js"):
        assert url in markup.read(page.text).urls and browser.get(url).status_code == 200
    data = {"kind": "table", "table": "retail.sales", "csrf_token": form_token(page)}
    fields = browser.post("/pivot/fields", data=data, headers=HX)
    assert fields.status_code == 200, fields.text
    for name in ("region", "customer", "channel", "amount"):
        assert f'<option value="{name}">{name}</option>' in fields.text
    assert 'id="pivot-rows-0" name="rows"' in fields.text and 'name="measure"' in fields.text
    assert markup.read(fields.text).inline == []


def test_signed_out_goes_to_sign_in(app) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        page = http.get("/pivot")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/pivot"


# -- levels, totals ------------------------------------------------------------------------------


def test_the_top_level_is_one_statement_and_each_expansion_one_more(
    browser, runtime, people
) -> None:
    before = issued(runtime, people["ana"])
    built = build(browser)
    assert built.status_code == 200, built.text
    assert issued(runtime, people["ana"]) == before + 2  # the source's columns, then the top level
    assert headers(built) == ["shop", "web", "Total"]
    top = lines(built)
    assert [(line.depth, line.label) for line in top] == [
        (0, EMPTY),
        (0, "East"),
        (0, "West"),
        (0, NULL),
    ]
    assert [line.cells for line in top] == [
        ["7", "", "7"],
        ["20", "40", "60"],
        ["", "105", "105"],
        ["9", "8", "17"],
    ]
    assert built.text.count('hx-trigger="click once"') == 4  # every member can be opened
    rebuilt = build(browser)  # the columns are known now: one statement
    assert rebuilt.status_code == 200 and issued(runtime, people["ana"]) == before + 3
    east = expand(browser, built, "East")
    assert east.status_code == 200, east.text
    assert issued(runtime, people["ana"]) == before + 4  # one statement per opened member
    children = lines(east)
    assert [(c.depth, c.label) for c in children] == [(1, "c1"), (1, "c2"), (1, "c3")]
    assert [c.cells for c in children] == [["20", "10", "30"], ["", "30", "30"], ["", "", ""]]
    assert "hx-trigger" not in east.text  # the last row field: nothing below
    assert markup.read(east.text).inline == []


def test_subtotals_are_the_sum_of_their_children_and_totals_independent(
    browser, runtime, admin
) -> None:
    built = build(browser)
    top = {line.label: line.cells for line in lines(built)}
    for member, path in (("East", "East"), ("West", "West"), (EMPTY, ""), (NULL, None)):
        children = lines(expand(browser, built, path))
        assert children, member
        for column, subtotal in enumerate(top[member]):
            summed = sum(int(c.cells[column]) for c in children if c.cells[column])
            assert summed == (int(subtotal) if subtotal else 0), (member, column)
    grand = scalar(runtime, admin, "select sum(amount) from retail.sales")
    web = scalar(runtime, admin, "select sum(amount) from retail.sales where channel = 'web'")
    shop = scalar(runtime, admin, "select sum(amount) from retail.sales where channel = 'shop'")
    assert totals(built) == [str(shop), str(web), str(grand)] == ["36", "153", "189"]


def test_avg_subtotals_are_not_averages_of_averages(browser, runtime, admin) -> None:
    built = build(browser, cols=[], agg="avg")
    assert built.status_code == 200, built.text
    top = {line.label: line.cells for line in lines(built)}
    assert top["East"] == ["20"]  # (10 + 20 + 30) / 3; the customers' averages give 22.5
    east = {c.label: c.cells for c in lines(expand(browser, built, "East"))}
    assert east == {"c1": ["15"], "c2": ["30"], "c3": [""]}
    grand = scalar(runtime, admin, "select avg(amount) from retail.sales")
    assert grand is not None and float(totals(built)[0]) == pytest.approx(grand, abs=1e-6)


def test_count_of_rows_min_and_max(browser) -> None:
    counted = build(browser, agg="count", measure="", cols=[])
    assert counted.status_code == 200, counted.text
    assert [line.cells for line in lines(counted)] == [["1"], ["4"], ["2"], ["2"]]
    caption = "count of rows by region \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} customer"
    assert totals(counted) == ["9"] and caption in counted.text
    counted_values = build(browser, agg="count", cols=[])  # count(amount) skips NULL
    assert [line.cells for line in lines(counted_values)][1] == ["3"]
    highest = build(browser, agg="max", rows=["channel"], cols=["region"])
    assert headers(highest) == [EMPTY, "East", "West", NULL, "Total"]
    assert [line.cells for line in lines(highest)] == [
        ["7", "20", "", "9", "20"],
        ["", "30", "100", "8", "100"],
    ]


def test_null_and_empty_members_are_expanded_apart(browser) -> None:
    built = build(browser)
    null = lines(expand(browser, built, None))
    assert [(c.label, c.cells) for c in null] == [("c7", ["", "8", "8"]), (NULL, ["9", "", "9"])]
    empty = lines(expand(browser, built, ""))
    assert [(c.label, c.cells) for c in empty] == [("c6", ["7", "", "7"])]


# -- governance ----------------------------------------------------------------------------------


def test_a_subscribers_pivot_aggregates_only_their_granted_rows(
    runtime, admin, people, bob
) -> None:
    ana, bob_user = people["ana"], people["bob"]
    runtime.catalog.create_project(bob_user, "analysts", "Sales")
    listing = runtime.listings.publish(ana, "retail", "sales")
    runtime.filters.create_filter(
        ana, "retail", "sales", "east", kind="row", expression="region = 'East'"
    )
    request = runtime.subscriptions.request(bob_user, "analysts", [listing.id], "pivoting")
    runtime.subscriptions.approve(ana, request.id, items=[ItemDecision(listing.id, "east")])

    refused = build(bob)  # not acting in the subscribing project: not found
    assert refused.status_code == 404 and 'data-field="table"' in refused.text
    assert "pivot-table" not in refused.text

    built = build(bob, project="analysts")
    assert built.status_code == 200, built.text
    assert [(line.label, line.cells) for line in lines(built)] == [("East", ["20", "40", "60"])]
    east_only = "select sum(amount) from retail.sales where region = 'East'"
    assert totals(built) == ["20", "40", str(scalar(runtime, admin, east_only))]
    children = lines(expand(bob, built, "East"))
    assert [c.label for c in children] == ["c1", "c2", "c3"]
    west = expand(bob, built, "West")  # a member outside the grant: no rows
    assert west.status_code == 200 and lines(west) == []
    assert XSS not in west.text and "c4" not in west.text


def test_a_query_source_is_governed_too(browser, bob) -> None:
    sql = "select region, amount * 2 as doubled from retail.sales;  -- trailing comment"
    built = build(browser, kind="query", query=sql, rows=["region"], cols=[], measure="doubled")
    assert built.status_code == 200, built.text
    assert [line.cells for line in lines(built)][1] == ["120"] and totals(built) == ["378"]
    refused = build(bob, kind="query", query=sql, rows=["region"], cols=[], measure="doubled")
    assert refused.status_code == 404 and 'data-field="query"' in refused.text


# -- checked fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chosen", "field"),
    [
        ({"rows": ["nope"]}, "rows"),
        ({"rows": ['region" , (select 1) --']}, "rows"),
        ({"rows": []}, "rows"),
        ({"cols": ["region"]}, "cols"),  # used twice
        ({"cols": ["amount; drop table x"]}, "cols"),
        ({"agg": "median"}, "agg"),
        ({"measure": "nope"}, "measure"),
        ({"agg": "sum", "measure": "customer"}, "measure"),  # not numeric
        ({"agg": "avg", "measure": ""}, "measure"),
        ({"table": "sales"}, "table"),
        ({"table": "retail.nope"}, "table"),
        ({"kind": "query", "query": "select 1; select 2"}, "query"),
        ({"kind": "query", "query": "selec region"}, "query"),
        ({"kind": "query", "query": "create table retail.x as select 1"}, "query"),
    ],
)
def test_unknown_fields_are_refused_with_their_name(
    browser, runtime, people, chosen, field
) -> None:
    before = issued(runtime, people["ana"])
    refused = build(browser, **chosen)
    assert 400 <= refused.status_code < 500, refused.text
    assert f'data-field="{field}"' in refused.text and "pivot-table" not in refused.text
    if chosen.get("table") != "retail.nope":
        assert refused.status_code == 400
    assert issued(runtime, people["ana"]) <= before + 1  # at most the probe of the source ran


def test_a_refused_field_without_javascript_is_shown_next_to_it(browser) -> None:
    data = {**form(rows=["nope"]), "csrf_token": token(browser)}
    page = browser.post("/pivot", data=data)
    assert page.status_code == 400
    assert '<p id="pivot-rows-error" class="pivot-field-error" role="alert"' in page.text
    assert "the source has no column &#39;nope&#39;" in page.text
    assert '<option value="region">region</option>' in page.text  # the form is kept


def test_identifiers_are_quoted_not_interpolated(browser) -> None:
    sql = 'select region as "we""ird col", amount from retail.sales'
    built = build(browser, kind="query", query=sql, rows=['we"ird col'], cols=[])
    assert built.status_code == 200, built.text
    assert [line.label for line in lines(built)] == [EMPTY, "East", "West", NULL]
    assert "we&#34;ird col" in built.text  # the name is shown escaped


def test_an_expansion_checks_its_path_and_fields(browser) -> None:
    built = build(browser)
    sent = {**state(built), "csrf_token": token(browser)}
    bad_path = browser.post("/pivot/expand", data={**sent, "path": "{"}, headers=HX)
    assert bad_path.status_code == 400 and 'data-field="path"' in bad_path.text
    too_deep = browser.post("/pivot/expand", data={**sent, "path": '["East", "c1"]'}, headers=HX)
    assert too_deep.status_code == 400 and 'data-field="path"' in too_deep.text
    renamed = {**sent, "rows": ["region", "nope"], "path": '["East"]'}
    unknown = browser.post("/pivot/expand", data=renamed, headers=HX)
    assert unknown.status_code == 400 and 'data-field="rows"' in unknown.text


# -- CSRF, escaping ------------------------------------------------------------------------------


def test_building_and_expanding_need_the_csrf_token(browser, runtime, people) -> None:
    built = build(browser)
    before = issued(runtime, people["ana"])
    assert browser.post("/pivot", data=form(), headers=HX).status_code == 403
    no_token = {**state(built), "path": '["East"]'}
    assert browser.post("/pivot/expand", data=no_token, headers=HX).status_code == 403
    assert issued(runtime, people["ana"]) == before  # nothing ran


def test_members_are_escaped(browser) -> None:
    built = build(browser)
    west = expand(browser, built, "West")
    assert XSS not in west.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in west.text


def test_without_javascript_the_page_shows_the_pivot_under_its_form(browser) -> None:
    data = {**form(), "csrf_token": token(browser)}
    page = browser.post("/pivot", data=data)
    assert page.status_code == 200, page.text
    assert markup.read(page.text).inline == []
    assert '<table class="pivot-table"' in page.text and totals(page) == ["36", "153", "189"]
    assert '<option value="customer" selected>customer</option>' in page.text  # choices kept
