"""A running Flight SQL endpoint over the test runtime, and scenario 3's state (retail shares
store_sales with a row filter and customer with a column filter to the analysts' project),
built through the HTTP API as tests/scenarios/test_retail_sharing.py builds it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import adbc_driver_flightsql.dbapi as flight_sql
import pytest

from lakehold.flight.server import FlightSqlServer
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.conftest import SCENARIOS
from tests.scenarios.helpers import ok, retail_filters
from tests.sharing import client_for, new_user

PROJECT_HEADER = "adbc.flight.sql.rpc.call_header.x-lakehold-project"
TABLES = ("customer", "inventory", "store_sales")
SCENARIO = (
    "select * from retail.store_sales sales left join retail.customer customer "
    "on sales.cust_id = customer.cust_id inner join retail.inventory inventory "
    "on sales.prod_id = inventory.prod_id where inventory.active = 'Y'"
)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[FlightSqlServer]:
    endpoint = FlightSqlServer(runtime, "grpc://127.0.0.1:0")
    yield endpoint
    endpoint.stop()


def uri(server: FlightSqlServer) -> str:
    return f"grpc://127.0.0.1:{server.port}"


@contextmanager
def connect(
    server: FlightSqlServer,
    token: str | None = None,
    *,
    project: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Iterator[Any]:
    """A DBAPI connection of the real ADBC Flight SQL driver: a bearer token, or a user name
    and password (basic auth), acting in ``project``."""
    options: dict[str, str] = {}
    if token is not None:
        options["adbc.flight.sql.authorization_header"] = f"Bearer {token}"
    if username is not None:
        options["username"] = username
        options["password"] = password or ""
    if project is not None:
        options[PROJECT_HEADER] = project
    with flight_sql.connect(uri(server), db_kwargs=options, autocommit=True) as connection:
        yield connection


@dataclass(frozen=True)
class Retail:
    owner_token: str
    analyst_token: str
    analyst: Principal


def _csv(table: str) -> bytes:
    return (SCENARIOS / f"retail_{table}.csv").read_bytes()


@pytest.fixture
def retail(runtime: Runtime, admin: Principal, client) -> Retail:
    """retail's three tables published; the analysts' grants: all three, then store_sales
    again with row filter ``prod_id = 1`` and customer with column filter ``no_email``."""
    ok(client.post("/api/v1/domains", json={"name": "Retail"}), 201)
    _, owner_token = new_user(runtime, admin, "retail_owner")
    analyst, analyst_token = new_user(runtime, admin, "analyst")
    with client_for(runtime, owner_token) as owner, client_for(runtime, analyst_token) as ana:
        ok(owner.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"}), 201)
        ok(ana.post("/api/v1/projects", json={"name": "analysts", "domain": "Retail"}), 201)
        listings = {}
        for table in TABLES:
            files = {"file": (f"{table}.csv", _csv(table))}
            ok(owner.post("/api/v1/projects/retail/tables", data={"name": table}, files=files), 201)
            listing = ok(owner.post(f"/api/v1/projects/retail/assets/{table}/publish"), 201)
            listings[table] = listing["id"]
        retail_filters(owner)
        body = {
            "project": "analysts",
            "listings": list(listings.values()),
            "reason": "need this data for analysis",
        }
        request = ok(ana.post("/api/v1/subscription-requests", json=body), 201)
        items = [
            {"listing_id": listings["store_sales"], "row_filter": "widget_a"},
            {"listing_id": listings["customer"], "column_filter": "no_email"},
            {"listing_id": listings["inventory"]},
        ]
        ok(
            owner.post(
                f"/api/v1/subscription-requests/{request['id']}/approve", json={"items": items}
            )
        )
    return Retail(owner_token, analyst_token, analyst)
