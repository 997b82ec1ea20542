"""The SQL editor (/sql): run a statement as the signed-in user, poll it, page and download its
result, cancel it; errors are the service's message; another user's statement is not found."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.catalog.tables import DataSource
from tests import store_templates
from tests.web import markup
from tests.web.test_sessions import form_token, sign_in

PASSWORD = "correct horse battery"
HX = {"HX-Request": "true"}
FINAL = ("FINISHED", "FAILED", "ABORTED")

PEOPLE = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "name": ["ana", "", None],
        "score": [1.5, None, 3.25],
    }
)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return store_templates.sqlite_url(tmp_path)


@pytest.fixture
def app(runtime, admin) -> FastAPI:
    ana = runtime.security.create_user(admin, "ana", password=PASSWORD)
    runtime.security.create_user(admin, "bob", password="bob's long password")
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(ana, "retail", "Sales")
    runtime.table_service.create_table(ana, "retail", "people", DataSource(PEOPLE))
    app = create_app(runtime)
    return app


@pytest.fixture
def browser(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        sign_in(http)
        yield http


@pytest.fixture
def bob(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        sign_in(http, "bob", "bob's long password")
        yield http


def csrf(browser: TestClient) -> str:
    page = browser.get("/sql")
    assert page.status_code == 200, page.text
    return form_token(page)


def submit(browser: TestClient, query: str, **form: str) -> httpx.Response:
    data = {"sql": query, "csrf_token": csrf(browser), "dialect": "duckdb", **form}
    return browser.post("/sql/statements", data=data, headers=HX)


def statement_id(fragment: httpx.Response) -> str:
    found = re.search(r'id="sql-statement"', fragment.text) and re.search(
        r"statement <code>([0-9a-f]+)</code>", fragment.text
    )
    assert found, fragment.text
    return found.group(1)


def status_of(fragment: httpx.Response) -> str:
    found = re.search(r'data-status="([A-Z]+)"', fragment.text)
    assert found, fragment.text
    return found.group(1)


def finished(browser: TestClient, sid: str, limit_s: float = 60) -> httpx.Response:
    """Poll the status fragment, as htmx does, until the statement ends."""
    deadline = time.monotonic() + limit_s
    while True:
        fragment = browser.get(f"/sql/statements/{sid}", headers=HX)
        assert fragment.status_code == 200, fragment.text
        if status_of(fragment) in FINAL:
            return fragment
        assert 'hx-trigger="load delay:500ms"' in fragment.text  # it polls itself
        assert time.monotonic() < deadline, f"statement {sid} did not end"
        time.sleep(0.05)


def run(browser: TestClient, query: str, **form: str) -> tuple[str, httpx.Response]:
    submitted = submit(browser, query, **form)
    assert submitted.status_code == 200, submitted.text
    sid = statement_id(submitted)
    assert submitted.headers["HX-Push-Url"] == f"/sql/statements/{sid}"
    return sid, finished(browser, sid)


def grid(fragment: httpx.Response) -> tuple[list[str], list[list[str]]]:
    """The column names and the cells' HTML of the result grid."""
    table = re.search(r'<table class="sql-grid">.*?</table>', fragment.text, re.S)
    assert table, fragment.text
    heads = re.findall(r'<span class="sql-col-name">([^<]*)</span>', table.group(0))
    bodies = re.findall(r"<tr>\s*<th scope=\"row\"[^>]*>\d+</th>(.*?)</tr>", table.group(0), re.S)
    rows = [[c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", b, re.S)] for b in bodies]
    return heads, rows


def test_the_page_has_the_editor_projects_and_dialects(browser) -> None:
    page = browser.get("/sql")
    assert page.status_code == 200
    assert markup.read(page.text).inline == []  # nothing the CSP would block
    assert '<option value="retail">retail</option>' in page.text
    assert '<option value="duckdb" selected>duckdb</option>' in page.text
    assert '<option value="postgres">postgres</option>' in page.text
    assert 'id="sql-text" name="sql"' in page.text and '<label for="sql-text">' in page.text
    urls = markup.read(page.text).urls
    for path in ("/static/js/sql.js", "/static/js/sql-chart.js", "/static/css/sql.css"):
        assert path in urls
    for url in (u for u in urls if u.startswith("/static/")):
        assert browser.get(url).status_code == 200, url


def test_signed_out_goes_to_sign_in(app) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        page = http.get("/sql")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/sql"


def test_run_a_query_and_see_its_rows(browser) -> None:
    _, done = run(browser, "select id, name from people order by id", project="retail")
    assert status_of(done) == "FINISHED"
    heads, rows = grid(done)
    assert heads == ["id", "name"]
    assert [r[0] for r in rows] == ["1", "2", "3"] and rows[0][1] == "ana"
    assert "Rows 1 to 3 of 3" in done.text
    assert markup.read(done.text).inline == []


def test_null_and_empty_text_are_told_apart(browser) -> None:
    _, done = run(browser, "select name, score from retail.people order by id")
    _, rows = grid(done)
    null = '<span class="sql-null-badge">NULL</span>'
    assert rows[1][0] == "" and rows[1][1] == null  # '' is an empty cell, NULL a badge
    assert rows[2][0] == null and rows[2][1] == "3.25"
    assert '<td class="sql-null">' in done.text and "<td></td>" in done.text


def test_repeated_column_names_are_all_shown(browser) -> None:
    _, done = run(
        browser, "select p.id, q.id, p.name from retail.people p join retail.people q using (id)"
    )
    heads, rows = grid(done)
    assert heads == ["id", "id", "name"]
    assert all(len(r) == 3 for r in rows) and rows[0][:2] == ["1", "1"]


def test_paging_through_the_result(browser) -> None:
    sid, done = run(browser, "select range as n from range(250)")
    assert "Rows 1 to 100 of 250" in done.text
    assert f'hx-get="/sql/statements/{sid}/result?offset=100"' in done.text
    page = browser.get(f"/sql/statements/{sid}/result", params={"offset": 200}, headers=HX)
    assert page.status_code == 200
    _, rows = grid(page)
    assert [r[0] for r in rows] == [str(n) for n in range(200, 250)]
    assert "Rows 201 to 250 of 250" in page.text and "Next rows" not in page.text
    full = browser.get(f"/sql/statements/{sid}", params={"offset": 100})  # without JavaScript
    assert full.status_code == 200 and "Rows 101 to 200 of 250" in full.text
    assert "select range as n from range(250)</textarea>" in full.text


def test_cancel_a_long_statement(browser) -> None:
    slow = "SELECT count(*) FROM range(100000000) a, range(1000) b"
    submitted = submit(browser, slow)
    assert submitted.status_code == 200, submitted.text
    sid = statement_id(submitted)
    assert 'id="sql-cancel"' in submitted.text
    token = csrf(browser)
    assert browser.post(f"/sql/statements/{sid}/cancel", headers=HX).status_code == 403
    cancelled = browser.post(
        f"/sql/statements/{sid}/cancel", data={"csrf_token": token}, headers=HX
    )
    assert cancelled.status_code == 200, cancelled.text
    done = finished(browser, sid)
    assert status_of(done) == "ABORTED"
    assert '<span class="sql-badge">ABORTED</span>' in done.text
    assert 'id="sql-cancel"' not in done.text and "hx-trigger" not in done.text


def test_an_ungranted_table_is_not_found_and_shows_no_rows(bob) -> None:
    refused = submit(bob, "select * from retail.people")
    assert refused.status_code == 404
    assert 'role="alert"' in refused.text and "not found" in refused.text
    assert "sql-grid" not in refused.text and "ana" not in refused.text


def test_a_syntax_error_names_its_line_and_column(browser) -> None:
    refused = submit(browser, "select *\nfro retail.people")
    assert refused.status_code == 400
    assert 'data-line="2"' in refused.text and "At line 2, column 5." in refused.text
    assert "syntax error" in refused.text
    unknown = submit(browser, "select 1", dialect="nonsense")
    assert unknown.status_code == 400 and "unknown SQL dialect" in unknown.text
    page = browser.post(  # without JavaScript: the page again, the query kept
        "/sql/statements", data={"sql": "select <b>", "csrf_token": csrf(browser)}
    )
    assert page.status_code == 400 and "select &lt;b&gt;</textarea>" in page.text


def test_another_user_cannot_read_the_statement(browser, bob) -> None:
    sid, _ = run(browser, "select * from retail.people")
    for path in (
        f"/sql/statements/{sid}",
        f"/sql/statements/{sid}/result",
        f"/sql/statements/{sid}/download/csv",
        f"/sql/statements/{sid}/chart?x=0&y=0",
    ):
        response = bob.get(path, headers=HX)
        assert response.status_code == 404, path
        assert "ana" not in response.text
    assert bob.get(f"/sql/statements/{sid}").status_code == 404  # the page, too
    refused = bob.post(f"/sql/statements/{sid}/cancel", data={"csrf_token": csrf(bob)}, headers=HX)
    assert refused.status_code == 404


def test_downloads_stream_the_whole_result(browser, monkeypatch) -> None:
    from lakehold.web.routes import sql_downloads

    monkeypatch.setattr(sql_downloads, "DOWNLOAD_ROWS", 2)  # several pages
    query = "select id, name, score, id from retail.people order by id"
    sid, _ = run(browser, query)
    got = browser.get(f"/sql/statements/{sid}/download/csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert f'filename="statement-{sid}.csv"' in got.headers["content-disposition"]
    assert list(csv.reader(io.StringIO(got.text))) == [
        ["id", "name", "score", "id"],
        ["1", "ana", "1.5", "1"],
        ["2", "", "", "2"],
        ["3", "", "3.25", "3"],
    ]
    arrow = pa.ipc.open_stream(browser.get(f"/sql/statements/{sid}/download/arrow").content)
    table = arrow.read_all()
    assert table.column_names == ["id", "name", "score", "id"]
    assert table.column(1).to_pylist() == ["ana", "", None]
    parquet_file = browser.get(f"/sql/statements/{sid}/download/parquet").content
    parquet = pq.ParquetFile(io.BytesIO(parquet_file)).read()  # repeated names: no dataset
    assert parquet.column_names == ["id", "name", "score", "id"]
    assert parquet.num_rows == 3 and parquet.column(2).to_pylist() == [1.5, None, 3.25]


def test_chart_data_by_column_position(browser) -> None:
    sid, done = run(browser, "select name, score, id from retail.people order by id")
    assert 'class="sql-chart-form"' in done.text
    data = browser.get(f"/sql/statements/{sid}/chart", params={"x": 0, "y": [1, 2]}).json()
    assert data["x"] == {
        "name": "name",
        "kind": "category",
        "values": [0.0, 1.0, 2.0],
        "labels": ["ana", "", "NULL"],
    }
    assert [s["values"] for s in data["series"]] == [[1.5, None, 3.25], [1.0, 2.0, 3.0]]
    bad = browser.get(f"/sql/statements/{sid}/chart", params={"x": 2, "y": [0]})
    assert bad.status_code == 400 and bad.json()["field"] == "y"


def test_submit_needs_the_csrf_token(browser, runtime, admin) -> None:
    before = len(runtime.statements.list_statements(admin))
    missing = browser.post("/sql/statements", data={"sql": "select 1"}, headers=HX)
    assert missing.status_code == 403
    wrong = browser.post("/sql/statements", data={"sql": "select 1", "csrf_token": "0" * 64})
    assert wrong.status_code == 403
    assert len(runtime.statements.list_statements(admin)) == before  # nothing ran


def test_names_are_escaped(browser) -> None:
    _, done = run(browser, "select '<script>x()</script>' as \"<b>\"")
    assert "<script>x()" not in done.text and "&lt;script&gt;x()&lt;/script&gt;" in done.text
    assert "&lt;b&gt;" in done.text
