"""Lakehold reads another Lakehold's share (issue 16's cross-account collaboration): two
Lakeholds on this machine, real HTTP between them, no mocks.

Organisation A (the producer) is a served runtime on SQLite: project ``retail`` shares
store_sales (a table with a change data feed, keyed by sale_id) and customer (without one)
with recipient ``org_b``, store_sales through the row filter prod_id = 1 and customer without
``cust_email``. Organisation B (the consumer) is the test's runtime, on SQLite and on
PostgreSQL: its project ``partners`` registers A's profile as a ``delta_sharing`` connection,
crawls it, and syncs the shared tables into its own lakehouse, where B's grants decide who
reads them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from lakehold.api.app import create_app
from lakehold.cli.main import app
from lakehold.config import Settings
from lakehold.connectors.delta_sharing_client import ByteBudget, SharedTable, TableAnswer
from lakehold.connectors.shared_tables import fetch_files
from lakehold.errors import Invalid
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import RecipientToken, utcnow
from lakehold.store.sources import Connection
from tests import store_templates
from tests.delta_sharing.conftest import SHARE, Retail, grant, recipient, serving_retail
from tests.scenarios.helpers import ok
from tests.sharing import client_for, new_user

SALES = f"{SHARE}.retail.store_sales"
CUSTOMER = f"{SHARE}.retail.customer"
JOBS = "/api/v1/projects/partners/sync-jobs"
CONNECTIONS = "/api/v1/projects/partners/connections"


@dataclass
class Consumer:
    """Organisation B: its runtime, the owner of ``partners`` and the analyst of
    ``analytics`` (HTTP clients), the CLI, and A's profile file and grant."""

    runtime: Runtime
    owner: TestClient
    analyst: TestClient
    cli: Callable[..., str]
    producer: Retail
    profile: Path
    grant_id: str
    recipient_id: str


@pytest.fixture
def producer(tmp_path: Path) -> Iterator[Retail]:
    """Organisation A: its own home and SQLite store, served on a real socket."""
    folder = tmp_path / "producer"
    folder.mkdir()
    settings = Settings(
        home=folder / "home",
        database_url=store_templates.sqlite_url(folder),
        statement_timeout_seconds=30,
    )
    runtime = Runtime(settings)
    try:
        created = runtime.security.bootstrap()
        assert created is not None
        admin = runtime.security.authenticate(created[1])
        with TestClient(create_app(runtime)) as client:
            client.headers["Authorization"] = f"Bearer {created[1]}"
            sales = {"keys": "sale_id", "change_data_feed": "true"}
            with serving_retail(runtime, admin, client, folder, **sales) as retail:
                yield retail
    finally:
        runtime.close()


@pytest.fixture
def consumer(
    runtime: Runtime, admin: Principal, admin_token: str, database_url: str, producer: Retail
) -> Iterator[Consumer]:
    """B's projects ``partners`` (owner ``b_owner``) and ``analytics`` (``b_analyst``), A's
    port allowed by B's administrator, and A's grant to ``org_b``: store_sales through
    ``widget_a``, customer through ``no_email``."""
    org_b, profile = recipient(producer, "org_b")
    approved = grant(
        producer,
        org_b,
        [
            {"table": "retail.store_sales", "row_filter": "widget_a"},
            {"table": "retail.customer", "column_filter": "no_email"},
        ],
    )
    port = producer.url.rsplit(":", 1)[1]
    runtime.network.allow(admin, f"127.0.0.1:{port}", description="organisation A")
    with TestClient(create_app(runtime)) as http:
        http.headers["Authorization"] = f"Bearer {admin_token}"
        ok(http.post("/api/v1/domains", json={"name": "Partners"}), 201)
    _, owner_token = new_user(runtime, admin, "b_owner")
    _, analyst_token = new_user(runtime, admin, "b_analyst")
    runner = CliRunner()
    env = {
        "LAKEHOLD_HOME": str(runtime.settings.home),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_TOKEN": owner_token,
        "COLUMNS": "200",
    }

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.stdout  # log lines (stderr) stay out of what the test parses

    with client_for(runtime, owner_token) as owner, client_for(runtime, analyst_token) as analyst:
        ok(owner.post("/api/v1/projects", json={"name": "partners", "domain": "Partners"}), 201)
        ok(analyst.post("/api/v1/projects", json={"name": "analytics", "domain": "Partners"}), 201)
        yield Consumer(runtime, owner, analyst, cli, producer, profile, approved["id"], org_b)


def _token(profile: Path) -> str:
    return json.loads(profile.read_text())["bearerToken"]


def _connect(consumer: Consumer) -> None:
    """``partners.acme`` from A's profile file, through the CLI."""
    out = consumer.cli(
        "connection", "create", "partners.acme", "--kind", "delta_sharing",
        "--profile-file", str(consumer.profile),
    )  # fmt: skip
    assert "created connection partners.acme (delta_sharing)" in out


def _job(consumer: Consumer, name: str, table: str, **fields) -> dict:
    body = {
        "name": name,
        "connection": "acme",
        "source_table": table,
        "target_table": name,
        "key_columns": ["sale_id"],
        **fields,
    }
    return ok(consumer.owner.post(JOBS, json=body), 201)


def _run(consumer: Consumer, job: str, status: int = 200) -> dict:
    return ok(consumer.owner.post(f"{JOBS}/{job}/runs"), status)


def _sales_csv(rows: list[tuple], op: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["sale_id", "cust_id", "sale_date", "sale_amount", "prod_id", "last_purchase_date"]
    writer.writerow([*header, "op"] if op else header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _write_sales(producer: Retail, rows: list[tuple], mode: str = "append") -> None:
    ok(
        producer.owner.post(
            "/api/v1/projects/retail/tables/store_sales/writes",
            data={"mode": mode},
            files={"file": ("more.csv", _sales_csv(rows, op=mode == "cdc"))},
        )
    )


def _sales(consumer: Consumer) -> tuple[int, Decimal]:
    """What B's analyst reads of ``partners.acme_sales`` through B's own subscription."""
    body = {
        "sql": "select count(*) as n, sum(sale_amount) as total from partners.acme_sales",
        "project": "analytics",
    }
    row = ok(consumer.analyst.post("/api/v1/query", json=body))["rows"][0]
    return row["n"], Decimal(str(row["total"]))


def _subscribe(consumer: Consumer) -> None:
    """B's owner publishes the synced table; B's analyst asks for it and gets it."""
    owner, analyst = consumer.owner, consumer.analyst
    listing = ok(owner.post("/api/v1/projects/partners/assets/acme_sales/publish"), 201)
    body = {"project": "analytics", "listings": [listing["id"]], "reason": "partner sales"}
    asked = ok(analyst.post("/api/v1/subscription-requests", json=body), 201)
    ok(owner.post(f"/api/v1/subscription-requests/{asked['id']}/approve", json={}))


def test_b_syncs_a_row_filtered_share_and_follows_its_changes(
    consumer: Consumer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    producer, owner, runtime = consumer.producer, consumer.owner, consumer.runtime
    token = _token(consumer.profile)
    _connect(consumer)
    shown = consumer.cli("connection", "show", "partners.acme", "--json")
    view = json.loads(shown)[0]
    assert view["kind"] == "delta_sharing" and view["has_secret"]
    assert view["params"]["endpoint"] == f"{producer.url}/delta-sharing"
    assert view["params"]["expirationTime"].endswith("Z")
    assert token not in shown
    tested = consumer.cli("connection", "test", "partners.acme")
    assert "Delta Sharing: 1 share(s) (retail_share); 2 tables" in tested

    # The crawl imports both shared tables as B's assets, typed as B's tables are.
    crawler = {"name": "acme_tables", "connection": "acme"}
    ok(owner.post("/api/v1/projects/partners/data-sources", json=crawler), 201)
    crawled = ok(owner.post("/api/v1/projects/partners/data-sources/acme_tables/runs"), 201)
    assert (crawled["status"], crawled["tables_added"]) == ("succeeded", 2)
    asset = ok(owner.get("/api/v1/projects/partners/assets/store_sales"))
    assert asset["asset_type"] == "federated_table"
    types = {c["name"]: c["data_type"] for c in asset["columns"]}
    assert types["sale_amount"].startswith("DECIMAL") and types["sale_id"] == "BIGINT"
    customer = ok(owner.get("/api/v1/projects/partners/assets/customer"))
    assert "cust_email" not in [c["name"] for c in customer["columns"]]
    where = owner.post(
        "/api/v1/query", json={"sql": "select * from store_sales", "project": "partners"}
    )
    assert where.status_code == 400 and "sync job" in where.json()["message"]

    # The first run reads the granted rows at the share's version 0: 7 rows, 1500.00.
    consumer.cli(
        "sync", "create", "partners.acme_sales", "--connection", "acme", "--table", SALES,
        "--target", "acme_sales", "--key", "sale_id",
    )  # fmt: skip
    assert ok(owner.get(f"{JOBS}/acme_sales"))["mode"] == "incremental"
    first = consumer.cli("sync", "run", "partners.acme_sales")
    assert "succeeded" in first and "7 read, 7 inserted" in first and "watermark 0" in first
    _subscribe(consumer)
    assert _sales(consumer) == (7, Decimal("1500.00"))

    # Lineage: the run read the share's table, named by A's endpoint.
    b_owner = runtime.security.authenticate(owner.headers["Authorization"].split()[1])
    graph = runtime.lineage.lineage(b_owner, "dataset:lakehold:partners.acme_sales", depth=2)
    nodes = {node["id"] for node in graph["graph"]}
    host = producer.url.removeprefix("http://")
    assert {f"dataset:delta-sharing://{host}:{SALES}", "job:lakehold:partners.sync.acme_sales"} <= (
        nodes
    )

    # A appends a granted and an ungranted row: B's next run reads exactly the granted one.
    _write_sales(
        producer,
        [(21, 1, "2023-08-01", "99.50", 1, "2023-08-01"), (22, 2, "2023-08-02", "50.00", 2, "")],
    )
    second = _run(consumer, "acme_sales")
    assert (second["rows_read"], second["rows_inserted"], second["rows_updated"]) == (1, 1, 0)
    assert (second["watermark_before"], second["watermark_after"]) == ("0", "1")
    assert _sales(consumer) == (8, Decimal("1599.50"))

    # A updates one granted sale and deletes another (and changes an ungranted one).
    _write_sales(
        producer,
        [
            (1, 13251813, "2023-01-15", "175.00", 1, "2023-01-15", "U"),
            (7, 10251183, "2023-03-10", "250.00", 1, "2023-03-10", "D"),
            (2, 29033279, "2023-01-20", "999.00", 4, "2023-01-20", "U"),
        ],
        mode="cdc",
    )
    third = _run(consumer, "acme_sales")
    assert (third["rows_updated"], third["rows_deleted"], third["rows_inserted"]) == (1, 1, 0)
    assert _sales(consumer) == (7, Decimal("1374.50"))
    quiet = _run(consumer, "acme_sales")  # nothing new: nothing written
    assert (quiet["rows_read"], quiet["watermark_after"]) == (0, "2")

    # A revokes the grant: B's run fails, saying why, and B's table keeps its last data.
    ok(producer.owner.post(f"/api/v1/share-grants/{consumer.grant_id}/revoke"))
    refused = owner.post(f"{JOBS}/acme_sales/runs")
    assert refused.status_code == 502, refused.text
    message = refused.json()["message"]
    assert "connection 'acme': the provider denies access" in message
    assert "PERMISSION_DENIED" in message and token not in refused.text
    assert _sales(consumer) == (7, Decimal("1374.50"))
    runs = ok(owner.get(f"{JOBS}/acme_sales/runs"))
    assert runs[0]["status"] == "failed" and "PERMISSION_DENIED" in runs[0]["error"]
    assert ok(owner.get(f"{JOBS}/acme_sales"))["last_watermark"] == "2"
    assert caplog.records and token not in caplog.text  # logged at every level: never the token


def test_a_table_without_a_change_data_feed_is_read_whole_each_time(
    consumer: Consumer,
) -> None:
    producer = consumer.producer
    _connect(consumer)
    _job(consumer, "acme_customers", CUSTOMER, key_columns=["cust_id"], mode="incremental")
    first = _run(consumer, "acme_customers")
    # six customers, one cust_id twice: its last row wins, as in any keyed sync
    assert (first["rows_read"], first["rows_inserted"], first["watermark_after"]) == (6, 5, "0")
    columns = ok(consumer.owner.get("/api/v1/projects/partners/assets/acme_customers"))["columns"]
    assert [c["name"] for c in columns] == ["cust_id", "cust_name", "cust_country"]
    more = "cust_id,cust_name,cust_country,cust_email\n1,New Customer,Chile,new@example.com\n"
    ok(
        producer.owner.post(
            "/api/v1/projects/retail/tables/customer/writes",
            data={"mode": "append"},
            files={"file": ("c.csv", more.encode())},
        )
    )
    second = _run(consumer, "acme_customers")  # no change data feed: the whole table again
    assert (second["rows_read"], second["watermark_before"], second["watermark_after"]) == (
        7,
        "0",
        "1",
    )
    body = {"sql": "select count(*) as n from acme_customers", "project": "partners"}
    assert ok(consumer.owner.post("/api/v1/query", json=body))["rows"] == [{"n": 6}]


def test_an_expired_token_is_a_clear_error(consumer: Consumer) -> None:
    producer, runtime, owner = consumer.producer, consumer.runtime, consumer.owner
    profile = json.loads(consumer.profile.read_text())
    past = {**profile, "expirationTime": "2020-01-01T00:00:00Z"}
    refused = owner.post(
        CONNECTIONS,
        json={
            "name": "old",
            "kind": "delta_sharing",
            "params": {"endpoint": past["endpoint"], "expirationTime": past["expirationTime"]},
            "password": past["bearerToken"],
        },
    )
    assert refused.status_code == 400 and refused.json()["field"] == "params.expirationTime"
    assert "expired at 2020-01-01" in refused.json()["message"]
    _connect(consumer)

    # A expires the token early: the provider's answer, with its reason.
    with producer.runtime.store.session() as session:
        session.execute(
            update(RecipientToken)
            .where(RecipientToken.recipient_id == consumer.recipient_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    failed = owner.post(f"{CONNECTIONS}/acme/test")
    assert failed.status_code == 502
    assert failed.json()["message"] == (
        "connection 'acme': the provider refused the share profile's token "
        "(UNAUTHENTICATED: the recipient token has expired)"
    )

    # The profile's own expiry passes: refused before anything is sent.
    with runtime.store.session() as session:
        stored = session.query(Connection).filter_by(name="acme").one()
        stored.params = {**stored.params, "expirationTime": "2021-06-30T00:00:00Z"}
        connection_id = stored.id
    runtime.connections.spec_cache.invalidate(connection_id)
    failed = owner.post(f"{CONNECTIONS}/acme/test")
    assert failed.status_code == 502
    assert "the share profile's token expired at 2021-06-30" in failed.json()["message"]
    assert "update the connection" in failed.json()["message"]

    # A new profile replaces endpoint, expiry and token at once.
    issued = ok(
        producer.owner.post(f"/api/v1/share-recipients/{consumer.recipient_id}/tokens", json={}),
        201,
    )
    renewed = consumer.profile.with_name("renewed.share")
    fresh = {**issued["profile"], "endpoint": f"{producer.url}/delta-sharing"}
    renewed.write_text(json.dumps(fresh))
    out = consumer.cli("connection", "update", "partners.acme", "--profile-file", str(renewed))
    assert "from its new profile" in out
    assert "1 share(s)" in ok(owner.post(f"{CONNECTIONS}/acme/test"))["version"]
    assert runtime.connections.spec(connection_id).secret == fresh["bearerToken"]


def test_the_endpoint_and_the_file_urls_pass_the_network_allow_list(
    consumer: Consumer, admin: Principal
) -> None:
    runtime, owner, producer = consumer.runtime, consumer.owner, consumer.producer
    rule = f"127.0.0.1:{producer.url.rsplit(':', 1)[1]}"
    runtime.network.remove(admin, rule)
    profile = json.loads(consumer.profile.read_text())
    body = {
        "name": "acme",
        "kind": "delta_sharing",
        "params": {"endpoint": profile["endpoint"]},
        "password": profile["bearerToken"],
    }
    refused = owner.post(CONNECTIONS, json=body)
    assert refused.status_code == 400 and refused.json()["field"] == "params.endpoint"
    assert "loopback" in refused.json()["message"]
    secret = owner.post(CONNECTIONS, json={**body, "params": {"bearerToken": "x"}})
    assert secret.status_code == 400
    assert secret.json()["message"] == "give the bearer token as the secret, never in params"
    tokenless = owner.post(CONNECTIONS, json={**body, "password": None})
    assert tokenless.status_code == 400 and tokenless.json()["field"] == "password"

    # The endpoint allowed, A's file URLs on another loopback address: refused, not fetched.
    runtime.network.allow(admin, rule)
    ok(owner.post(CONNECTIONS, json=body), 201)
    _job(consumer, "acme_sales", SALES)
    elsewhere = producer.url.replace("127.0.0.1", "127.0.0.2")
    producer.runtime.settings.public_url = elsewhere
    try:
        run = owner.post(f"{JOBS}/acme_sales/runs")
    finally:
        producer.runtime.settings.public_url = None
    assert run.status_code == 400, run.text
    assert run.json()["field"] == "url" and "127.0.0.2" in run.json()["message"]
    assert profile["bearerToken"] not in run.text


def test_expired_and_refused_file_urls_are_replaced_by_a_new_query(consumer: Consumer) -> None:
    """The client asks again for a table's files when a URL has expired (by its stated time)
    or the provider refuses it, and reads the same rows."""
    runtime = consumer.runtime
    _connect(consumer)
    with runtime.store.session() as session:
        connection_id = session.query(Connection).filter_by(name="acme").one().id
    spec = runtime.connections.spec(connection_id)
    table = SharedTable.parse(SALES)
    with runtime.connections.sharing_client(spec) as client:
        answer = client.query(table)
        expired = tuple(replace(f, expires_ms=0) for f in answer.files)
        refused = tuple(replace(f, url=f.url + "x") for f in answer.files)
        asked: list[int] = []

        def again() -> TableAnswer:
            asked.append(1)
            return client.query(table)

        for stale in (expired, refused):
            read = fetch_files(client, replace(answer, files=stale), again, ByteBudget(10**9))
            assert sum(data.num_rows for _, data in read) == 7
        assert asked == [1, 1]  # one new query for each stale answer
        budget = ByteBudget(10)
        with pytest.raises(Invalid, match="larger than 10 bytes"):
            list(fetch_files(client, answer, lambda: client.query(table), budget))
    assert not any(runtime.settings.staging_path.iterdir())
