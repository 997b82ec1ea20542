"""The asset page: sections by who is looking, forms, governed preview, publishing, CSRF, XSS."""

from __future__ import annotations

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
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests import store_templates
from tests.web import markup
from tests.web.browsers import form_token

PAGE = "/assets/retail/people"
PASSWORD = "a long enough password"
EVIL_DESCRIPTION = '<script>alert("description")</script>'
EVIL_COLUMN = "<img src=x onerror=alert(1)>"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The pages on SQLite (the services run on PostgreSQL too, in their own tests)."""
    return store_templates.sqlite_url(tmp_path)


def _rows(*rows: tuple) -> pa.Table:
    names = ["id", "region", "note", "secret", EVIL_COLUMN]
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})


@dataclass
class Shop:
    runtime: Runtime
    owner: Principal
    analyst: Principal
    stranger: Principal
    form_id: str


@pytest.fixture
def shop(runtime: Runtime, admin: Principal) -> Shop:
    """retail.people (owner), granted to project analysts with a row and a column filter;
    version 0 has two rows, version 1 four."""
    rt = runtime
    users = {
        name: rt.security.create_user(admin, name, password=PASSWORD)
        for name in ("owner", "analyst", "stranger")
    }
    owner, analyst = users["owner"], users["analyst"]
    rt.catalog.create_domain(admin, "Retail")
    for project, user in (
        ("retail", owner),
        ("analysts", analyst),
        ("elsewhere", users["stranger"]),
    ):
        rt.catalog.create_project(user, project, "Retail")
    first = _rows((1, "EU", None, "s1", "x"), (2, "US", "", "s2", "y"))
    rt.table_service.create_table(owner, "retail", "people", DataSource(first))
    more = _rows((3, "EU", "", "s3", "z"), (4, "EU", "kept", "s4", "w"))
    rt.table_service.write(owner, "retail", "people", DataSource(more), mode="append")
    rt.catalog.update_asset(
        owner, "retail", "people", description=EVIL_DESCRIPTION, tags=["pii", "customers"]
    )
    rt.glossaries.create_glossary(admin, "Retail", "Business")
    rt.glossaries.create_term(admin, "Business", "Customer")
    rt.glossaries.set_asset_terms(owner, "retail", "people", ["Business/Customer"])
    fields = [
        {"name": "Steward", "type": "text", "required": True},
        {"name": "Quality score", "type": "number"},
        {"name": "Tier", "type": "one_of", "allowed_values": ["gold", "silver"]},
    ]
    form = rt.forms.create_form(admin, "Retail", "stewardship", fields)
    rt.forms.set_values(owner, "retail", "people", form.id, {"Steward": "Olga", "Tier": "gold"})
    rt.filters.create_filter(
        owner, "retail", "people", "eu", kind="row", expression="region = 'EU'"
    )
    rt.filters.create_filter(
        owner, "retail", "people", "open", kind="column", columns=["id", "region", "note"]
    )
    listing = rt.listings.publish(owner, "retail", "people")
    request = rt.subscriptions.request(analyst, "analysts", [listing.id], "monthly report")
    decision = ItemDecision(listing.id, row_filter="eu", column_filter="open")
    rt.subscriptions.approve(owner, request.id, items=[decision])
    return Shop(rt, owner, analyst, users["stranger"], form.id)


@pytest.fixture
def app(shop: Shop) -> FastAPI:
    app = create_app(shop.runtime)
    return app


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        yield http


def sign_in(browser: TestClient, username: str) -> TestClient:
    token = form_token(browser.get("/login"))
    data = {"username": username, "password": PASSWORD, "csrf_token": token}
    assert browser.post("/login", data=data).status_code == 303
    return browser


def section(page: str, heading_id: str) -> str:
    """The HTML of the section labelled by ``heading_id``."""
    found = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', page, re.S)
    assert found, f"no section {heading_id}"
    return found.group(0)


def preview_table(html: str) -> tuple[list[str], list[list[str]]]:
    """Column names and cell markers of the preview (NULL, '' for empty text, else text)."""
    body = re.search(r'<div id="asset-preview".*?</table>', html, re.S)
    assert body, html
    text = body.group(0)
    names = [unescape(n) for n in re.findall(r'<th scope="col"><code>(.*?)</code>', text)]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", text.split("<tbody>")[1], re.S):
        cells = []
        for attrs, content in re.findall(r"<td([^>]*)>(.*?)</td>", row, re.S):
            if 'class="cell-null"' in attrs:
                cells.append("NULL")
            elif 'class="cell-empty"' in attrs:
                cells.append("")
            else:
                cells.append(unescape(content))
        rows.append(cells)
    return names, rows


def csrf(page: httpx.Response) -> str:
    return form_token(page)


def test_the_owner_sees_every_section(browser: TestClient) -> None:
    sign_in(browser, "owner")
    response = browser.get(PAGE)
    assert response.status_code == 200, response.text
    page = response.text
    assert markup.read(page).inline == []  # nothing the CSP would block
    assert "/static/css/asset.css" in markup.read(page).urls
    assert browser.get("/static/css/asset.css").status_code == 200
    assert '<h1 id="asset-heading">retail.people</h1>' in page
    columns = section(page, "columns-heading")
    for name, data_type in (("id", "BIGINT"), ("region", "VARCHAR"), ("secret", "VARCHAR")):
        assert f"<code>{name}</code></th>\n          <td><code>{data_type}</code>" in columns
    assert '<span class="chip">pii</span>' in page
    assert '<span class="chip chip-term">Customer</span>' in page
    forms = section(page, "forms-heading")
    assert "stewardship" in forms and 'value="Olga"' in forms
    assert '<option value="gold" selected>' in forms
    names, rows = preview_table(page)
    assert names == ["id", "region", "note", "secret", EVIL_COLUMN]
    assert sorted(r[:3] for r in rows) == [
        ["1", "EU", "NULL"],
        ["2", "US", ""],
        ["3", "EU", ""],
        ["4", "EU", "kept"],
    ]  # NULL is marked; empty text is an empty cell
    versions = section(page, "versions-heading")
    assert re.findall(r'<th scope="row">(\d+)</th>', versions) == ["1", "0"]
    assert 'hx-get="/assets/retail/people/preview?version=0"' in versions
    access = section(page, "access-heading")
    assert '<th scope="row">analysts</th>' in access
    assert (
        "eu: <code>&#34;region&#34; = &#39;EU&#39;</code>" in access
        and "id, region, note" in access
    )
    assert '<th scope="row">owner</th><td>user</td><td>owner</td>' in access
    publishing = section(page, "publishing-heading")
    assert "Published as revision 1 of version 1" in publishing
    assert 'action="/assets/retail/people/unpublish"' in publishing


def test_time_travel_through_htmx(browser: TestClient) -> None:
    sign_in(browser, "owner")
    fragment = browser.get(f"{PAGE}/preview?version=0", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="asset-preview"')  # the fragment alone
    assert "At version 0" in fragment.text
    assert sorted(r[0] for r in preview_table(fragment.text)[1]) == ["1", "2"]
    full = browser.get(f"{PAGE}?version=0")  # the same without JavaScript
    assert sorted(r[0] for r in preview_table(full.text)[1]) == ["1", "2"]
    missing = browser.get(f"{PAGE}/preview?version=9", headers={"HX-Request": "true"})
    assert missing.status_code == 200 and 'role="alert"' in missing.text
    refused = browser.get(f"{PAGE}/preview?version=-1")
    assert refused.status_code == 400 and refused.json()["field"] == "version"


def test_form_edit_saves_and_names_invalid_fields(browser: TestClient, shop: Shop) -> None:
    sign_in(browser, "owner")
    token = csrf(browser.get(PAGE))
    target = f"{PAGE}/forms/{shop.form_id}"
    saved = browser.post(
        target,
        data={
            "csrf_token": token,
            "value:Steward": "Sam",
            "value:Quality score": "7.5",
            "value:Tier": "silver",
        },
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{PAGE}?saved={shop.form_id}#form-{shop.form_id}"
    values = shop.runtime.forms.get_values(shop.owner, "retail", "people", shop.form_id).values
    assert values == {"Steward": "Sam", "Quality score": 7.5, "Tier": "silver"}
    assert 'role="status">Saved.' in browser.get(saved.headers["location"]).text

    refused = browser.post(
        target,
        data={
            "csrf_token": token,
            "value:Steward": " ",
            "value:Quality score": "lots",
            "value:Tier": "silver",
        },
    )
    assert refused.status_code == 400
    errors = dict(
        re.findall(r'<p class="field-error" id="([^"]+)-error">([^<]+)</p>', refused.text)
    )
    assert sorted(errors.values()) == [
        "Quality score must be a number, not &#39;lots&#39;",
        "Steward is required",
    ]
    for input_id in errors:  # each message is tied to its input
        assert re.search(rf'id="{input_id}"[^>]*aria-invalid="true"', refused.text, re.S)
    assert 'value="lots"' in refused.text  # what was typed stays in the form
    after = shop.runtime.forms.get_values(shop.owner, "retail", "people", shop.form_id).values
    assert after == values  # nothing saved


def test_a_subscriber_previews_exactly_its_grant(browser: TestClient) -> None:
    sign_in(browser, "analyst")
    response = browser.get(PAGE)
    assert response.status_code == 200, response.text
    page = response.text
    names, rows = preview_table(page)
    assert names == ["id", "region", "note"]  # the column filter
    assert sorted(rows) == [["1", "EU", "NULL"], ["3", "EU", ""], ["4", "EU", "kept"]]
    assert "acting in project analysts" in page
    assert "s1" not in page and "s2" not in page  # no secret value anywhere
    assert 'aria-labelledby="access-heading"' not in page  # no access list
    assert 'aria-labelledby="versions-heading"' not in page
    assert 'aria-labelledby="publishing-heading"' not in page
    assert re.findall(r'<form method="post" action="([^"]+)"', page) == ["/logout"]
    assert "Granted to project <strong>analysts</strong>" in page
    travelled = browser.get(f"{PAGE}/preview?version=0", headers={"HX-Request": "true"})
    assert preview_table(travelled.text) == (["id", "region", "note"], [["1", "EU", "NULL"]])


def test_a_viewer_reads_everything_and_changes_nothing(
    browser: TestClient, shop: Shop, admin
) -> None:
    shop.runtime.security.create_user(admin, "vera", password=PASSWORD)
    shop.runtime.organisation.add_member(shop.owner, "retail", "viewer", user="vera")
    sign_in(browser, "vera")
    page = browser.get(PAGE).text
    names, rows = preview_table(page)
    assert "secret" in names and len(rows) == 4  # members read every row and column
    assert 'aria-labelledby="versions-heading"' in page
    assert 'aria-labelledby="access-heading"' not in page  # owners only
    assert re.findall(r'<form method="post" action="([^"]+)"', page) == ["/logout"]
    assert "<dt>Steward</dt>\n      <dd>Olga</dd>" in page  # the values, read-only
    token = csrf(browser.get("/sessions"))
    refused = browser.post(
        f"{PAGE}/forms/{shop.form_id}", data={"csrf_token": token, "value:Steward": "Vera"}
    )
    assert refused.status_code == 403 and "only contributors" in refused.text
    assert browser.post(f"{PAGE}/publish", data={"csrf_token": token}).status_code == 403
    values = shop.runtime.forms.get_values(shop.owner, "retail", "people", shop.form_id).values
    assert values["Steward"] == "Olga"


def test_no_access_is_not_found(browser: TestClient, shop: Shop) -> None:
    sign_in(browser, "stranger")
    hidden = browser.get(PAGE)
    missing = browser.get("/assets/retail/nothing")
    assert hidden.status_code == missing.status_code == 404
    assert "Asset not found" in hidden.text and "secret" not in hidden.text
    assert browser.get(f"{PAGE}/preview", headers={"HX-Request": "true"}).status_code == 404
    token = csrf(browser.get("/sessions"))
    for path in ("/publish", "/unpublish", f"/forms/{shop.form_id}"):
        refused = browser.post(PAGE + path, data={"csrf_token": token, "value:Steward": "x"})
        assert refused.status_code == 404, path
    assert shop.runtime.listings.list_listings(shop.owner, project="retail")[0].revision == 1
    assert browser.get("/assets/Bad..Name/x").status_code == 404


def test_publishing_names_each_unmet_rule_field(browser: TestClient, shop: Shop, admin) -> None:
    rt = shop.runtime
    rt.forms.create_form(
        admin,
        "Retail",
        "quality",
        [
            {"name": "Score", "type": "number", "required": True},
            {"name": "Checked on", "type": "date", "required": True},
        ],
    )
    rt.rules.create_rule(admin, "Retail", "quality first", "publish", "quality")
    sign_in(browser, "owner")
    token = csrf(browser.get(PAGE))
    refused = browser.post(f"{PAGE}/publish", data={"csrf_token": token})
    assert refused.status_code == 400
    problems = section(refused.text, "publishing-heading")
    items = [unescape(re.sub(r"<[^>]+>", "", li)) for li in re.findall(r"<li>(.*?)</li>", problems)]
    assert items == [
        "quality: Score is required (rule quality first)",
        "quality: Checked on is required (rule quality first)",
    ]
    forms = section(refused.text, "forms-heading")  # and marked on the form's inputs
    assert "Score is required</p>" in forms and "Checked on is required</p>" in forms
    assert rt.listings.list_listings(shop.owner, project="retail")[0].revision == 1
    quality = rt.forms.get_form(admin, "quality", domain="Retail")
    rt.forms.set_values(
        shop.owner, "retail", "people", quality.id, {"Score": 9, "Checked on": "2026-01-31"}
    )
    assert browser.post(f"{PAGE}/publish", data={"csrf_token": token}).status_code == 303
    assert rt.listings.list_listings(shop.owner, project="retail")[0].revision == 2
    assert browser.post(f"{PAGE}/unpublish", data={"csrf_token": token}).status_code == 303
    assert rt.listings.list_listings(shop.owner, project="retail") == []
    again = browser.post(f"{PAGE}/unpublish", data={"csrf_token": token})
    assert again.status_code == 409 and "is not published" in again.text


def test_changes_need_the_csrf_token(browser: TestClient, shop: Shop) -> None:
    sign_in(browser, "owner")
    data = {"value:Steward": "Mallory"}
    for path in (f"/forms/{shop.form_id}", "/unpublish"):
        for token in (None, "0" * 64):
            sent = data if token is None else {**data, "csrf_token": token}
            refused = browser.post(PAGE + path, data=sent)
            assert refused.status_code == 403, path
    values = shop.runtime.forms.get_values(shop.owner, "retail", "people", shop.form_id).values
    assert values["Steward"] == "Olga"
    assert len(shop.runtime.listings.list_listings(shop.owner, project="retail")) == 1


def test_names_and_descriptions_are_escaped(browser: TestClient) -> None:
    for user in ("owner", "analyst"):
        sign_in(browser, user)
        page = browser.get(PAGE).text
        assert EVIL_DESCRIPTION not in page and EVIL_COLUMN not in page
        assert "&lt;script&gt;alert(&#34;description&#34;)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert markup.read(page).inline == []
        browser.cookies.clear()
