"""Request and approve in the portal: a request with a reason and the form a rule requires
reaches the owner's inbox; approval with a written row filter grants through it; rejection,
revocation and filter changes in place; written filters checked before anything is written;
only owners decide; CSRF. Real services on SQLite, signed in through the sign-in form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.catalog.tables import DataSource
from lakehold.governance.subscriptions import ItemDecision
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.web.routes import requests as requests_page
from tests import store_templates
from tests.conftest import SCENARIOS
from tests.web import markup
from tests.web.browsers import form_token, signed_in

PASSWORDS = {
    "owner": "owner's long password",
    "analyst": "analyst's long password",
    "outsider": "outsider's long password",
}
COUNT = "select count(*) as n from retail.store_sales"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The pages on SQLite (the services are tested on PostgreSQL too)."""
    return store_templates.sqlite_url(tmp_path)


@dataclass
class World:
    runtime: Runtime
    owner: Principal
    analyst: Principal
    outsider: Principal
    listing: str

    def request(self, reason: str = "churn model") -> str:
        values = {"usage": {"Use Case": "churn"}}
        made = self.runtime.subscriptions.request(
            self.analyst, "analysts", [self.listing], reason, form_values=values
        )
        return made.id

    def query(self, sql: str = COUNT):
        return self.runtime.statements.execute(self.analyst, sql, project="analysts").table


@pytest.fixture
def world(runtime: Runtime, admin: Principal) -> World:
    """retail (owner; unit Retail/Shop, whose rule needs form ``usage`` to subscribe) publishes
    store_sales; analysts (analyst) and elsewhere (outsider) are other projects."""
    rt = runtime
    users = {
        name: rt.security.create_user(admin, name, password=password)
        for name, password in PASSWORDS.items()
    }
    rt.catalog.create_domain(admin, "Retail")
    rt.organisation.create_unit(admin, "Retail", "Shop")
    rt.organisation.add_unit_owner(admin, "Retail/Shop", user="owner")
    rt.catalog.create_project(users["owner"], "retail", "Retail", domain_unit="Shop")
    rt.catalog.create_project(users["analyst"], "analysts", "Retail")
    rt.catalog.create_project(users["outsider"], "elsewhere", "Retail")
    rt.table_service.create_table(
        users["owner"], "retail", "store_sales", DataSource(SCENARIOS / "retail_store_sales.csv")
    )
    fields = [
        {"name": "Use Case", "type": "text", "required": True},
        {"name": "Until", "type": "date"},
    ]
    rt.forms.create_form(admin, "Retail", "usage", fields)
    rt.rules.create_rule(users["owner"], "Retail/Shop", "why", "subscription_request", "usage")
    listing = rt.listings.publish(users["owner"], "retail", "store_sales")
    return World(rt, users["owner"], users["analyst"], users["outsider"], listing.id)


@pytest.fixture
def app(world: World) -> FastAPI:
    app = create_app(world.runtime)
    return app


def _browser(app: FastAPI, username: str) -> Iterator[TestClient]:
    return signed_in(app, username, PASSWORDS[username])


@pytest.fixture
def owner(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "owner")


@pytest.fixture
def analyst(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "analyst")


@pytest.fixture
def outsider(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "outsider")


def _page(browser: TestClient) -> tuple[httpx.Response, str]:
    page = browser.get("/requests")
    assert page.status_code == 200, page.text
    assert markup.read(page.text).inline == []  # nothing the CSP would block
    return page, form_token(page)


def _filters(world: World) -> list[str]:
    return [
        f.name for f in world.runtime.filters.list_filters(world.owner, "retail", "store_sales")
    ]


def _grants(world: World) -> list:
    return world.runtime.grants.list_grants(world.analyst)


def _status(world: World, request_id: str) -> str:
    return world.runtime.subscriptions.get_request(world.analyst, request_id).status


def test_a_request_with_its_form_values_reaches_the_owners_inbox(world, analyst, owner) -> None:
    path = f"/listings/{world.listing}/request"
    assert analyst.get("/listings/nosuch/request").status_code == 404
    with TestClient(analyst.app, base_url="https://testserver", follow_redirects=False) as anon:
        assert anon.get("/requests").headers["location"] == "/login?next=/requests"
    form = analyst.get(path)
    assert form.status_code == 200 and markup.read(form.text).inline == []
    assert 'name="forms.usage.Use Case"' in form.text and "Required by why" in form.text
    assert '<option value="analysts"' in form.text and '<option value="retail"' not in form.text
    token = form_token(form)
    data = {"csrf_token": token, "project": "analysts", "reason": f"{SCRIPT} churn model"}

    missing = analyst.post(path, data=data)  # the rule's required field left out
    assert missing.status_code == 400
    found = re.search(r'<p class="field-error" id="([^"]+)" role="alert">([^<]+)</p>', missing.text)
    assert found and found.group(2) == "is required"
    assert f'aria-describedby="{found.group(1)}"' in missing.text  # next to its field
    assert escape(f"{SCRIPT} churn model", quote=False) in missing.text  # the reason is kept
    assert world.runtime.subscriptions.list_requests(world.owner) == []

    sent = analyst.post(path, data=data | {"forms.usage.Use Case": "<b>churn</b>"})
    assert sent.status_code == 303 and sent.headers["location"] == "/requests#outgoing"
    (incoming,) = world.runtime.subscriptions.list_requests(world.owner, direction="incoming")
    assert incoming.form_values == {"usage": {"Use Case": "<b>churn</b>"}}

    inbox, _ = _page(owner)
    card = inbox.text.split(f'id="{incoming.id}"', 1)[1].split("</article>", 1)[0]
    assert "<dd>analyst</dd>" in card and "<dd>analysts</dd>" in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt; churn model" in card and SCRIPT not in card
    assert "<dt>Use Case</dt>" in card and "&lt;b&gt;churn&lt;/b&gt;" in card
    assert "Approve" in card and "Reject" in card
    mine, _ = _page(analyst)  # the requester sees it as outgoing, waiting
    assert f'id="out-{incoming.id}"' in mine.text and "waiting" in mine.text
    assert f'id="{incoming.id}"' not in mine.text  # not in its inbox


def test_approve_with_a_written_row_filter(world, owner, analyst) -> None:
    request_id = world.request()
    key = world.listing
    _, token = _page(owner)
    approved = owner.post(
        f"/requests/{request_id}/approve",
        data={
            "csrf_token": token,
            f"row_choice.{key}": requests_page.NEW,
            f"row_name.{key}": "prod1",
            f"row_expression.{key}": "prod_id = 1",
            f"column_choice.{key}": "",
            "comment": "only product 1",
        },
    )
    assert approved.status_code == 303, approved.text
    (grant,) = _grants(world)
    assert (grant.asset, grant.project) == ("retail.store_sales", "analysts")
    assert (grant.row_filter, grant.row_filter_expression) == ("prod1", '"prod_id" = 1')
    assert grant.column_filter is None
    assert _status(world, request_id) == "approved"
    assert world.query().to_pylist() == [{"n": 7}]  # of 20 rows
    rows = world.query("select distinct prod_id from retail.store_sales").to_pylist()
    assert rows == [{"prod_id": 1}]
    seen, _ = _page(analyst)
    assert "approved" in seen.text and "only product 1" in seen.text
    assert f'id="out-grant-{grant.id}"' in seen.text and "&#34;prod_id&#34; = 1" in seen.text


def test_a_written_filter_is_checked_live_and_before_anything_is_written(world, owner) -> None:
    request_id = world.request()
    key = world.listing
    _, token = _page(owner)
    check = f"/requests/{request_id}/check/row/{key}"
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    written = {f"row_choice.{key}": requests_page.NEW, f"row_name.{key}": "bad"}
    cases = {
        "nosuch = 1": "unknown column &#39;nosuch&#39;",
        "prod_id in (select 1)": "IN takes a list of literals",
        "sale_amount": "must be a boolean expression",
    }
    for expression, message in cases.items():
        answer = owner.post(
            check, data=written | {f"row_expression.{key}": expression}, headers=headers
        )
        assert answer.status_code == 200 and message in answer.text, answer.text
        assert 'class="field-error"' in answer.text
    valid = owner.post(
        check, data=written | {f"row_expression.{key}": "prod_id = 2"}, headers=headers
    )
    assert "Valid filter." in valid.text
    columns = owner.post(
        f"/requests/{request_id}/check/column/{key}",
        data={f"column_choice.{key}": requests_page.NEW, f"column_name.{key}": "c"},
        headers=headers,
    )
    assert "at least one column" in columns.text

    refused = owner.post(
        f"/requests/{request_id}/approve",
        data={"csrf_token": token, **written, f"row_expression.{key}": "nosuch = 1"},
    )
    assert refused.status_code == 400
    box = re.search(rf'<div id="check-row-{key}"[^>]*>(.*?)</div>', refused.text, re.S)
    assert box and "unknown column" in box.group(1)  # next to the expression
    assert 'aria-invalid="true">nosuch = 1</textarea>' in refused.text  # kept, marked
    assert _filters(world) == [] and _grants(world) == []
    assert _status(world, request_id) == "requested"


def test_reject_with_a_comment(world, owner, analyst) -> None:
    request_id = world.request()
    _, token = _page(owner)
    rejected = owner.post(
        f"/requests/{request_id}/reject", data={"csrf_token": token, "comment": f"{SCRIPT}no"}
    )
    assert rejected.status_code == 303
    decided = world.runtime.subscriptions.get_request(world.analyst, request_id)
    assert (decided.status, decided.decision_comment) == ("rejected", f"{SCRIPT}no")
    seen, _ = _page(analyst)
    row = seen.text.split(f'id="out-{request_id}"', 1)[1].split("</tr>", 1)[0]
    assert "rejected" in row and "&lt;script&gt;alert(1)&lt;/script&gt;no" in row
    assert "by owner" in row and SCRIPT not in seen.text
    assert _grants(world) == []


def test_only_owners_of_the_assets_project_decide(world, outsider, analyst) -> None:
    request_id = world.request()
    key = world.listing
    page, token = _page(outsider)
    assert request_id not in page.text  # neither incoming nor outgoing for a third user
    approve = f"/requests/{request_id}/approve"
    written = {
        f"row_choice.{key}": requests_page.NEW,
        f"row_name.{key}": "mine",
        f"row_expression.{key}": "prod_id = 1",
    }
    for data in ({}, written):
        unrelated = outsider.post(approve, data={"csrf_token": token, **data})
        assert unrelated.status_code == 404 and "not found" in unrelated.text
    assert (
        outsider.post(f"/requests/{request_id}/reject", data={"csrf_token": token}).status_code
        == 404
    )
    # The requester is related but does not own the data: refused, as the API refuses.
    _, mine = _page(analyst)
    related = analyst.post(approve, data={"csrf_token": mine})
    assert related.status_code == 403, related.text[:3000]
    assert "only owners of project &#39;retail&#39; may decide" in related.text
    written_by_analyst = analyst.post(approve, data={"csrf_token": mine, **written})
    assert written_by_analyst.status_code in (403, 404)
    assert _status(world, request_id) == "requested"
    assert _filters(world) == [] and _grants(world) == []


def test_decisions_need_the_csrf_token(world, owner) -> None:
    request_id = world.request()
    for path in (f"/requests/{request_id}/approve", f"/requests/{request_id}/reject"):
        assert owner.post(path).status_code == 403
        assert owner.post(path, data={"csrf_token": "forged"}).status_code == 403
    assert _status(world, request_id) == "requested"
    approved = world.runtime.subscriptions.approve(world.owner, request_id)
    grant_id = approved.items[0].grant_id
    assert owner.post(f"/grants/{grant_id}/revoke").status_code == 403
    assert world.runtime.grants.get_grant(world.owner, grant_id or "").status == "active"


def test_revoke_a_grant(world, owner, analyst) -> None:
    approved = world.runtime.subscriptions.approve(world.owner, world.request())
    grant_id = approved.items[0].grant_id or ""
    assert world.query().to_pylist() == [{"n": 20}]
    page, token = _page(owner)
    assert f'action="/grants/{grant_id}/revoke"' in page.text
    seen, analyst_token = _page(analyst)  # the subscriber sees the grant, with no revoke
    assert f'id="out-grant-{grant_id}"' in seen.text
    assert f'action="/grants/{grant_id}/revoke"' not in seen.text
    refused = analyst.post(f"/grants/{grant_id}/revoke", data={"csrf_token": analyst_token})
    assert refused.status_code == 403
    revoked = owner.post(f"/grants/{grant_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert world.runtime.grants.get_grant(world.owner, grant_id).status == "revoked"
    assert f'id="out-grant-{grant_id}"' not in _page(analyst)[0].text
    again = owner.post(f"/grants/{grant_id}/revoke", data={"csrf_token": token})
    assert again.status_code == 409 and "already revoked" in again.text


def test_change_a_grants_filters_in_place(world, owner) -> None:
    rt = world.runtime
    rt.filters.create_filter(
        world.owner, "retail", "store_sales", "p2", kind="row", expression="prod_id = 2"
    )
    decision = ItemDecision(world.listing)
    approved = rt.subscriptions.approve(world.owner, world.request(), items=[decision])
    grant_id = approved.items[0].grant_id or ""
    page, token = _page(owner)
    assert '<option value="p2">p2: &#34;prod_id&#34; = 2</option>' in page.text
    path = f"/grants/{grant_id}/filters"
    bad = owner.post(
        path,
        data={
            "csrf_token": token,
            f"row_choice.{grant_id}": "p2",
            f"column_choice.{grant_id}": requests_page.NEW,
            f"column_name.{grant_id}": "ids",
            f"column_columns.{grant_id}": ["sale_id", "no_such_column"],
        },
    )
    assert bad.status_code == 400 and "unknown column &#39;no_such_column&#39;" in bad.text
    assert (
        _filters(world) == ["p2"] and rt.grants.get_grant(world.owner, grant_id).row_filter is None
    )
    changed = owner.post(
        path,
        data={
            "csrf_token": token,
            f"row_choice.{grant_id}": "p2",
            f"column_choice.{grant_id}": requests_page.NEW,
            f"column_name.{grant_id}": "ids",
            f"column_columns.{grant_id}": ["prod_id", "sale_id"],
        },
    )
    assert changed.status_code == 303, changed.text
    grant = rt.grants.get_grant(world.owner, grant_id)
    assert (grant.id, grant.status, grant.row_filter) == (grant_id, "active", "p2")
    assert (grant.column_filter, grant.columns) == ("ids", ["sale_id", "prod_id"])
    assert [g.id for g in rt.grants.list_grants(world.owner, include_revoked=True)] == [grant_id]
    result = world.query("select * from retail.store_sales")
    assert result.column_names == ["sale_id", "prod_id"]
    assert {r["prod_id"] for r in result.to_pylist()} == {2}
    page, _ = _page(owner)  # the form now starts from the grant's filters
    assert '<option value="p2" selected>' in page.text
    assert '<option value="ids" selected>' in page.text
