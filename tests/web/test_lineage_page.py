"""The lineage page through the real application on SQLite, with OpenLineage events recorded
through the lineage service: neighbourhoods by depth, expanding one node, hidden nodes as
placeholders, column lineage, sign-in, and a long chain read only as far as asked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.catalog.tables import DataSource
from lakehold.config import Settings
from lakehold.runtime import Runtime
from tests import store_templates
from tests.conftest import SCENARIOS
from tests.lineage.events import column_lineage, dataset, run_event
from tests.web import markup

PASSWORDS = {"owner": "owner's long password", "viewer": "viewer's password"}
SCRIPT = "<script>alert('x')</script>"
CHAIN = 1000  # jobs: c0000 -> j0000 -> c0001 -> ... -> c1000, 2,001 nodes


def _events() -> list[dict]:
    """etl: raw_a, raw_b -> etl.build_orders -> orders -> etl.report -> report -> etl.publish ->
    published; lakehold:secret.payroll (hidden from the viewer) -> etl.costs -> costs;
    lakehold:shop.customers -> etl.score -> <script> scores; and the chain."""
    orders_lineage = column_lineage(
        id=[("etl", "raw_a", "id")],
        total=[("etl", "raw_a", "amount"), ("etl", "raw_b", "fee")],
        cost=[("lakehold", "secret.payroll", "salary")],
    )
    events = [
        run_event(
            "COMPLETE",
            "etl.build_orders",
            namespace="etl",
            inputs=[dataset("etl", "raw_a", "id", "amount"), dataset("etl", "raw_b", "fee")],
            outputs=[dataset("etl", "orders", "id", "total", "cost", columnLineage=orders_lineage)],
        ),
        run_event(
            "COMPLETE",
            "etl.report",
            namespace="etl",
            inputs=[dataset("etl", "orders")],
            outputs=[dataset("etl", "report")],
        ),
        run_event(
            "COMPLETE",
            "etl.publish",
            namespace="etl",
            inputs=[dataset("etl", "report")],
            outputs=[dataset("etl", "published")],
        ),
        run_event(
            "COMPLETE",
            "etl.costs",
            namespace="etl",
            inputs=[dataset("lakehold", "secret.payroll", "salary")],
            outputs=[dataset("etl", "costs")],
        ),
        run_event(
            "COMPLETE",
            "etl.score",
            namespace="etl",
            inputs=[dataset("lakehold", "shop.customers")],
            outputs=[dataset("etl", f"scores {SCRIPT}")],
        ),
    ]
    events += [
        run_event(
            "COMPLETE",
            f"j{i:04d}",
            namespace="chain",
            inputs=[dataset("chain", f"c{i:04d}")],
            outputs=[dataset("chain", f"c{i + 1:04d}")],
        )
        for i in range(CHAIN)
    ]
    return events


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """owner: projects shop (a table customers) and secret; viewer is a member of neither."""
    home = tmp_path_factory.mktemp("lineage-page")
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
    runtime.catalog.create_domain(admin, "Retail")
    runtime.catalog.create_project(users["owner"], "shop", "Retail")
    runtime.catalog.create_project(users["owner"], "secret", "Retail")
    runtime.table_service.create_table(
        users["owner"], "shop", "customers", DataSource(SCENARIOS / "retail_customer.csv")
    )
    runtime.lineage.record(_events())
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


def graph(browser: TestClient, path: str) -> dict:
    answer = browser.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def ids(shown: dict) -> set[str]:
    return {node["id"] for node in shown["nodes"]}


def page(browser: TestClient, path: str, status: int = 200) -> httpx.Response:
    answer = browser.get(path)
    assert answer.status_code == status, answer.text
    assert markup.read(answer.text).inline == []  # nothing the CSP would block
    return answer


def listed(answer: httpx.Response) -> list[list[str]]:
    """The rows of the nodes table: [steps away, side, kind, name, namespace]."""
    table = re.search(r'<table id="lineage-nodes".*?<tbody>(.*?)</tbody>', answer.text, re.S)
    assert table, answer.text
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    cells = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in rows]
    text = [[unescape(re.sub(r"<[^>]+>", "", c)) for c in r[:5]] for r in cells]
    return [[c.replace(" (asset)", "").strip() for c in r] for r in text]


ORDERS_1 = {
    "dataset:etl:orders",
    "job:etl:etl.build_orders",
    "dataset:etl:raw_a",
    "dataset:etl:raw_b",
    "job:etl:etl.report",
    "dataset:etl:report",
}


def test_the_neighbourhood_at_depth_1_and_2(browser: TestClient) -> None:
    sign_in(browser, "viewer")
    one = graph(browser, "/lineage/graph?node=dataset:etl:orders&depth=1")
    assert ids(one) == ORDERS_1
    two = graph(browser, "/lineage/graph?node=dataset:etl:orders&depth=2")
    assert ids(two) == ORDERS_1 | {"job:etl:etl.publish", "dataset:etl:published"}
    by_id = {node["id"]: node for node in one["nodes"]}
    assert by_id["dataset:etl:orders"]["start"] and by_id["dataset:etl:orders"]["layer"] == 0
    assert by_id["dataset:etl:raw_a"]["layer"] == -2 and by_id["dataset:etl:report"]["layer"] == 2
    assert {n for n, node in by_id.items() if node["boundary"]} == {
        "dataset:etl:raw_a",
        "dataset:etl:raw_b",
        "dataset:etl:report",
    }
    assert {(e["source"], e["target"]) for e in one["edges"]} == {
        ("dataset:etl:raw_a", "job:etl:etl.build_orders"),
        ("dataset:etl:raw_b", "job:etl:etl.build_orders"),
        ("job:etl:etl.build_orders", "dataset:etl:orders"),
        ("dataset:etl:orders", "job:etl:etl.report"),
        ("job:etl:etl.report", "dataset:etl:report"),
    }

    # The page (namespace/name works too) lists the same nodes, nearest first.
    shown = page(browser, "/lineage?node=etl/orders&depth=1")
    assert 'data-graph-url="/lineage/graph?node=dataset%3Aetl%3Aorders&amp;depth=1"' in shown.text
    rows = listed(shown)
    assert rows[0] == ["0", "start", "dataset", "orders", "etl"]
    assert [r[0] for r in rows] == ["0", "1", "1", "2", "2", "2"]
    assert {r[3] for r in rows} == {"orders", "etl.build_orders", "etl.report"} | {
        "raw_a",
        "raw_b",
        "report",
    }
    assert len(re.findall(r'<tr data-source="', shown.text)) == 5


def test_expanding_a_node_gives_the_next_ring_only(browser: TestClient) -> None:
    sign_in(browser, "viewer")
    ring = graph(browser, "/lineage/expand?node=dataset:etl:report")
    assert ids(ring) - ORDERS_1 == {"job:etl:etl.publish", "dataset:etl:published"}
    assert "dataset:etl:raw_a" not in ids(ring)  # two jobs away from report
    by_id = {node["id"]: node for node in ring["nodes"]}
    assert by_id["dataset:etl:report"]["start"]
    assert (
        by_id["dataset:etl:published"]["layer"] == 2 and by_id["dataset:etl:orders"]["layer"] == -2
    )
    job = graph(browser, "/lineage/expand?node=job:etl:etl.publish")
    assert ids(job) == {"job:etl:etl.publish", "dataset:etl:report", "dataset:etl:published"}
    hidden = browser.get("/lineage/expand?node=dataset:hidden:whatever")
    assert hidden.status_code == 404 and hidden.json()["field"] == "nodeId"


def test_a_hidden_node_is_a_nameless_placeholder(browser: TestClient) -> None:
    sign_in(browser, "viewer")
    shown = graph(browser, "/lineage/graph?node=dataset:etl:costs&depth=1")
    placeholders = [node for node in shown["nodes"] if node["hidden"]]
    assert len(placeholders) == 1
    hidden = placeholders[0]
    assert hidden["id"].startswith("dataset:hidden:")
    assert hidden["label"] == "hidden" and hidden["name"] is None and hidden["namespace"] is None
    assert hidden["expandUrl"] is None and hidden["columnsUrl"] is None
    answer = page(browser, "/lineage?node=dataset:etl:costs&depth=1")
    for text in (str(shown), answer.text):
        assert "payroll" not in text and "secret" not in text
    assert ["2", "upstream", "dataset", "hidden", ""] in listed(answer)

    # The owner, a member of the project, sees its name.
    browser.cookies.clear()
    sign_in(browser, "owner")
    owned = graph(browser, "/lineage/graph?node=dataset:etl:costs&depth=1")
    assert "dataset:lakehold:secret.payroll" in ids(owned)


def test_column_lineage_of_a_dataset(browser: TestClient) -> None:
    sign_in(browser, "viewer")
    url = graph(browser, "/lineage/graph?node=dataset:etl:orders&depth=1")["nodes"][0]["columnsUrl"]
    assert url == "/lineage/columns?namespace=etl&name=orders"
    fragment = browser.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    rows = re.findall(r'<th scope="row">([^<]+)</th>.*?<td>(.*?)</td>\s*</tr>', fragment.text, re.S)
    derived = {
        name: sorted(
            unescape(re.sub(r"<[^>]+>|\s+", "", item))
            for item in re.findall(r"<li>(.*?)</li>", cell)
        )
        for name, cell in rows
    }
    assert derived == {
        "cost": ["hiddenDIRECT(identity)"],
        "id": ["etl/raw_a.idDIRECT(identity)"],
        "total": ["etl/raw_a.amountDIRECT(identity)", "etl/raw_b.feeDIRECT(identity)"],
    }
    assert "salary" not in fragment.text and "payroll" not in fragment.text
    whole = page(browser, url)  # without JavaScript: a page of its own
    assert "<html" in whole.text and "Column lineage of orders" in whole.text
    missing = browser.get("/lineage/columns?namespace=lakehold&name=secret.payroll")
    assert missing.status_code == 404 and "not found" in missing.text  # the name asked, no more
    assert "salary" not in missing.text and "Derived from" not in missing.text


def test_not_signed_in_is_sent_to_sign_in(browser: TestClient) -> None:
    refused = browser.get("/lineage?node=etl/orders")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/login?next=/lineage%3Fnode%3Detl/orders"
    for path in (
        "/lineage/graph?node=dataset:etl:orders",
        "/lineage/expand?node=dataset:etl:orders",
        "/lineage/columns?namespace=etl&name=orders",
        "/assets/shop/customers/lineage",
    ):
        answer = browser.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_long_chain_is_read_only_as_far_as_asked(browser: TestClient) -> None:
    sign_in(browser, "viewer")
    shown = graph(browser, "/lineage/graph?node=dataset:chain:c0000&depth=2")
    assert ids(shown) == {
        "dataset:chain:c0000",
        "job:chain:j0000",
        "dataset:chain:c0001",
        "job:chain:j0001",
        "dataset:chain:c0002",
    }
    assert [n["id"] for n in shown["nodes"] if n["boundary"]] == ["dataset:chain:c0002"]
    middle = graph(browser, "/lineage/graph?node=job:chain:j0500&depth=1")
    assert len(middle["nodes"]) == 7  # c0499, j0499, c0500, j0500, c0501, j0501, c0502
    ring = graph(browser, "/lineage/expand?node=dataset:chain:c0002")
    assert ids(ring) - ids(shown) == {"job:chain:j0002", "dataset:chain:c0003"}


def test_the_asset_page_s_lineage(browser: TestClient) -> None:
    sign_in(browser, "owner")
    answer = page(browser, "/assets/shop/customers/lineage?depth=1")
    assert "<h1>Lineage of shop.customers</h1>" in answer.text
    rows = listed(answer)
    assert rows[0][1:] == ["start", "dataset", "shop.customers", "lakehold"]
    assert '<a href="/assets/shop/customers">asset</a>' in answer.text
    assert f"scores {SCRIPT}" not in answer.text  # escaped
    assert "scores &lt;script&gt;" in answer.text
    assert [r[3] for r in rows if r[1] == "downstream"] == ["etl.score", f"scores {SCRIPT}"]

    browser.cookies.clear()
    sign_in(browser, "viewer")  # not a member of shop
    page(browser, "/assets/shop/customers/lineage", status=404)


def test_bad_input_is_named(browser: TestClient) -> None:
    sign_in(browser, "viewer")
    for depth in ("0", "21", "two"):
        answer = page(browser, f"/lineage?node=etl/orders&depth={depth}", status=400)
        error = re.search(r'<p id="lineage-depth-error"[^>]*>([^<]+)</p>', answer.text)
        assert error and "depth must be a whole number from 1 to 20" in error.group(1)
        assert browser.get(f"/lineage/graph?node=etl/orders&depth={depth}").json()["field"] == (
            "depth"
        )
    nonsense = page(browser, "/lineage?node=nonsense", status=400)
    assert re.search(r'<p id="lineage-node-error"[^>]*>node must be', nonsense.text)
    unknown = page(browser, "/lineage?node=etl/nothing", status=404)
    assert re.search(r'<p id="lineage-node-error"[^>]*>node &#39;dataset:etl:nothing', unknown.text)
    assert page(browser, "/lineage").text.count('id="lineage-graph"') == 0
