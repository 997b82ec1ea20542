"""Scenario 3: retail data shared across teams, queried where it sits (through the HTTP API).

Project ``retail`` (its owner) owns customer, inventory and store_sales and publishes them;
project ``analysts`` (another user) discovers them, is refused as if they did not exist,
requests them, and queries them under full access, a row filter, a column filter, and after
revocation. It runs twice: with the three tables in the lakehouse, and *federated* --
``customer`` in the PostgreSQL server and ``inventory`` in the MariaDB server, registered as
connections and imported by data source runs, ``store_sales`` in the lakehouse. The
administrator allows the two servers on the network allow-list first; the owner reaches them
as a role that may only read tables, and PostgreSQL sources live in a database other than
the metadata store's (ADR 0014).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import psycopg
import pymysql
import pytest

from tests.conftest import SCENARIOS
from tests.scenarios.helpers import ok
from tests.sharing import client_for, new_user
from tests.sources.conftest import (
    MARIADB,
    READER,
    SOURCES_DB,
    SOURCES_PG,
    ensure_mariadb_reader,
    ensure_sources_database,
)

SCENARIO = (
    "select * from retail.store_sales sales left join retail.customer customer "
    "on sales.cust_id = customer.cust_id inner join retail.inventory inventory "
    "on sales.prod_id = inventory.prod_id where inventory.active = 'Y'"
)
TABLES = ("customer", "inventory", "store_sales")


def _total(rows: list[dict]) -> Decimal:
    return sum((Decimal(str(r["sale_amount"])) for r in rows), Decimal("0"))


@pytest.fixture(params=["lakehouse", "federated"])
def people(request, runtime, admin, client):
    ok(client.post("/api/v1/domains", json={"name": "Retail"}), 201)
    _, owner_token = new_user(runtime, admin, "retail_owner")
    _, analyst_token = new_user(runtime, admin, "analyst")
    with client_for(runtime, owner_token) as owner, client_for(runtime, analyst_token) as analyst:
        ok(owner.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"}), 201)
        ok(analyst.post("/api/v1/projects", json={"name": "analysts", "domain": "Retail"}), 201)
        in_lakehouse = TABLES if request.param == "lakehouse" else ("store_sales",)
        for table in in_lakehouse:
            ok(
                owner.post(
                    "/api/v1/projects/retail/tables",
                    data={"name": table},
                    files={"file": (f"{table}.csv", _csv(table))},
                ),
                201,
            )
        if request.param == "federated":
            for rule in ("127.0.0.1:5432", "127.0.0.1:3306"):  # the administrator allows them
                ok(client.post("/api/v1/network-rules", json={"rule": rule}), 201)
            with federated_sources() as (postgres, mariadb):
                _import(owner, "crm", "postgresql", postgres, "customer")
                _import(owner, "stock", "mysql", mariadb, "inventory")
                yield owner, analyst
        else:
            yield owner, analyst


def _csv(table: str) -> bytes:
    return (SCENARIOS / f"retail_{table}.csv").read_bytes()


def _rows(table: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(_csv(table).decode())))[1:]


@contextmanager
def federated_sources() -> Iterator[tuple[dict, dict]]:
    """``customer`` in a fresh PostgreSQL schema, ``inventory`` in a fresh MariaDB database;
    the connection params of each (``schema`` names where the table is)."""
    name = f"lh_retail_{uuid.uuid4().hex[:10]}"
    ensure_sources_database()
    with psycopg.connect(SOURCES_PG, autocommit=True) as pg:
        pg.execute(f"CREATE SCHEMA {name}")
        pg.execute(f"GRANT USAGE ON SCHEMA {name} TO {READER}")
        pg.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {name} GRANT SELECT ON TABLES TO {READER}")
        pg.execute(
            f"CREATE TABLE {name}.customer (cust_id bigint, cust_name text, "
            "cust_country text, cust_email text)"
        )
        with pg.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {name}.customer VALUES (%s, %s, %s, %s)", _rows("customer")
            )
        maria = pymysql.connect(**MARIADB, autocommit=True)
        try:
            with maria.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name}")
                ensure_mariadb_reader(cursor.execute)
                for host in ("127.0.0.1", "%"):
                    cursor.execute(f"GRANT SELECT ON {name}.* TO '{READER}'@'{host}'")
                cursor.execute(
                    f"CREATE TABLE {name}.inventory (prod_id INT PRIMARY KEY, "
                    "prod_name VARCHAR(100), active CHAR(1))"
                )
                cursor.executemany(
                    f"INSERT INTO {name}.inventory VALUES (%s, %s, %s)", _rows("inventory")
                )
            yield (
                {
                    "host": "127.0.0.1",
                    "port": 5432,
                    "database": SOURCES_DB,
                    "user": READER,
                    "schema": name,
                },
                {
                    "host": "127.0.0.1",
                    "port": 3306,
                    "database": name,
                    "user": READER,
                    "schema": name,
                },
            )
        finally:
            with maria.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {name}")
            maria.close()
            pg.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def _import(owner, connection: str, kind: str, params: dict, table: str) -> None:
    """Register a connection of ``retail`` and import ``table`` with a data source run."""
    schema = params.pop("schema")
    body = {"name": connection, "kind": kind, "params": params}
    ok(owner.post("/api/v1/projects/retail/connections", json=body), 201)
    crawler = {
        "name": f"{connection}_crawler",
        "connection": connection,
        "schemas": [schema],
        "include": [table],
    }
    ok(owner.post("/api/v1/projects/retail/data-sources", json=crawler), 201)
    run = ok(owner.post(f"/api/v1/projects/retail/data-sources/{connection}_crawler/runs"), 201)
    assert run["status"] == "succeeded", run
    asset = ok(owner.get(f"/api/v1/projects/retail/assets/{table}"))
    assert asset["asset_type"] == "federated_table"


def _query(client, sql: str) -> list[dict]:
    body = {"sql": sql, "project": "analysts", "limit": 1000}
    return ok(client.post("/api/v1/query", json=body))["rows"]


def _refused(client, sql: str, table: str) -> None:
    response = client.post("/api/v1/query", json={"sql": sql, "project": "analysts"})
    assert response.status_code == 404, response.text
    body = response.json()
    assert body.pop("request_id") == response.headers["X-Request-ID"]
    assert body == {"error": "not_found", "message": f"table '{table}' not found"}


def test_retail_sharing(people, client) -> None:
    owner, analyst = people

    # retail publishes its three tables; the inventory stays private.
    listings = {}
    for table in TABLES:
        listing = ok(owner.post(f"/api/v1/projects/retail/assets/{table}/publish"), 201)
        assert listing["status"] == "active" and listing["revision"] == 1
        listings[table] = listing["id"]
    assert analyst.get("/api/v1/projects/retail/assets").status_code == 404

    # analysts discover the listings.
    found = ok(analyst.get("/api/v1/listings", params={"project": "retail"}))
    assert {f["asset"] for f in found} == set(TABLES)
    customer = next(f for f in found if f["asset"] == "customer")
    assert "cust_email" in [c["name"] for c in customer["columns"]]
    assert (
        ok(analyst.get("/api/v1/listings", params={"name": "sales"}))[0]["id"]
        == (listings["store_sales"])
    )

    # Before approval the query is refused exactly like one on a missing table.
    _refused(analyst, SCENARIO, "retail.store_sales")
    _refused(analyst, "select * from retail.no_such_table", "retail.no_such_table")

    # The request needs a reason.
    missing = analyst.post(
        "/api/v1/subscription-requests",
        json={"project": "analysts", "listings": list(listings.values()), "reason": " "},
    )
    assert missing.status_code == 400 and missing.json()["field"] == "reason"
    request = ok(
        analyst.post(
            "/api/v1/subscription-requests",
            json={
                "project": "analysts",
                "listings": list(listings.values()),
                "reason": "need this data for analysis",
            },
        ),
        201,
    )
    assert request["status"] == "requested"
    incoming = ok(owner.get("/api/v1/subscription-requests", params={"direction": "incoming"}))
    assert [(r["id"], r["requester"], r["project"], r["reason"]) for r in incoming] == [
        (request["id"], "analyst", "analysts", "need this data for analysis")
    ]
    assert (
        analyst.post(f"/api/v1/subscription-requests/{request['id']}/approve", json={}).status_code
        == 403
    )
    _refused(analyst, SCENARIO, "retail.store_sales")

    # Full access: 13 rows, 2410.00.
    approved = ok(
        owner.post(f"/api/v1/subscription-requests/{request['id']}/approve", json={"comment": "ok"})
    )
    assert approved["status"] == "approved"
    again = owner.post(f"/api/v1/subscription-requests/{request['id']}/approve", json={})
    assert again.status_code == 409
    rows = _query(analyst, SCENARIO)
    assert len(rows) == 13 and _total(rows) == Decimal("2410.00")
    # Money is exact (sale_amount is DECIMAL, inferred from the file's decimal text), and the
    # select * keeps both cust_id columns: sale 4's customer 26009249 is not in the customer
    # table, so only the second cust_id (keyed cust_id_1) is null.
    exact = _query(analyst, SCENARIO.replace("select *", "select sum(sale_amount) as total", 1))
    assert exact == [{"total": "2410.00"}]
    sale = next(r for r in rows if r["sale_id"] == 4)
    assert sale["cust_id"] == 26009249 and sale["cust_id_1"] is None
    assert sale["prod_id"] == sale["prod_id_1"] == 2

    # Row filter prod_id = 1 on store_sales: 7 rows, 1500.00.
    ok(
        owner.post(
            "/api/v1/projects/retail/assets/store_sales/filters",
            json={"name": "widget_a", "kind": "row", "expression": "prod_id = 1"},
        ),
        201,
    )
    bad = owner.post(
        "/api/v1/projects/retail/assets/store_sales/filters",
        json={"name": "bad", "kind": "row", "expression": "prod_id in (select 1)"},
    )
    assert bad.status_code == 400 and bad.json()["field"] == "expression"
    ok(
        owner.post(
            "/api/v1/projects/retail/assets/customer/filters",
            json={
                "name": "no_email",
                "kind": "column",
                "columns": ["cust_id", "cust_name", "cust_country"],
            },
        ),
        201,
    )
    second = ok(
        analyst.post(
            "/api/v1/subscription-requests",
            json={
                "project": "analysts",
                "listings": [listings["store_sales"], listings["customer"]],
                "reason": "need this data for analysis",
            },
        ),
        201,
    )
    ok(
        owner.post(
            f"/api/v1/subscription-requests/{second['id']}/approve",
            json={
                "items": [
                    {"listing_id": listings["store_sales"], "row_filter": "widget_a"},
                    {"listing_id": listings["customer"], "column_filter": "no_email"},
                ]
            },
        )
    )
    rows = _query(analyst, SCENARIO)
    assert len(rows) == 7 and _total(rows) == Decimal("1500.00")

    # Column filter without cust_email: not selectable, and not in select *.
    star = _query(analyst, "select * from retail.customer")
    assert len(star) == 6 and all("cust_email" not in r for r in star)
    assert not any("@" in str(v) for r in rows for v in r.values())
    hidden = analyst.post(
        "/api/v1/query",
        json={"sql": "select cust_email from retail.customer", "project": "analysts"},
    )
    assert hidden.status_code == 400 and "example.com" not in hidden.text

    # A filter change applies at once to the existing grant.
    ok(
        owner.patch(
            "/api/v1/projects/retail/assets/store_sales/filters/widget_a",
            json={"expression": "prod_id = 2"},
        )
    )
    rows = _query(analyst, SCENARIO)
    assert len(rows) == 6 and {r["prod_id"] for r in rows} == {2}
    in_use = owner.delete("/api/v1/projects/retail/assets/store_sales/filters/widget_a")
    assert in_use.status_code == 409

    # Grants are listed for both sides; revocation refuses the query again.
    grants = ok(owner.get("/api/v1/grants", params={"project": "retail"}))
    assert {g["asset"] for g in grants} == {f"retail.{t}" for t in TABLES}
    assert ok(analyst.get("/api/v1/grants")) == grants
    sales = next(g for g in grants if g["asset"] == "retail.store_sales")
    assert sales["row_filter"] == "widget_a"
    assert analyst.post(f"/api/v1/grants/{sales['id']}/revoke").status_code == 403
    ok(owner.post(f"/api/v1/grants/{sales['id']}/revoke"))
    _refused(analyst, SCENARIO, "retail.store_sales")
    assert len(_query(analyst, "select * from retail.customer")) == 6

    # Everything is in the audit log.
    events = ok(client.get("/api/v1/audit", params={"limit": 1000}))
    actions = {(e["action"], e["allowed"]) for e in events}
    for expected in (
        ("listing.publish", True),
        ("subscription.request", True),
        ("subscription.request", False),
        ("subscription.approve", True),
        ("subscription.approve", False),
        ("filter.create", True),
        ("filter.create", False),
        ("filter.update", True),
        ("filter.delete", False),
        ("grant.revoke", True),
        ("grant.revoke", False),
        ("statement", True),
        ("statement", False),
    ):
        assert expected in actions, expected
    refusal = next(e for e in events if e["action"] == "statement" and not e["allowed"])
    assert refusal["username"] == "analyst" and refusal["project"] == "analysts"
    assert refusal["reason"] == "no active grant to project 'analysts'"
