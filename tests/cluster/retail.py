"""Scenario 3 for the Ray tests: the retail tables, ``store_sales`` in several data files (the
cluster cuts the largest table by file), shared with project ``analysts`` under the filters of
the scenario: ``store_sales`` by row filter ``prod_id = 1``, ``customer`` without
``cust_email``, ``inventory`` in full."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lakehold.runtime import Runtime
from tests.conftest import SCENARIOS
from tests.scenarios.helpers import ok, retail_filters
from tests.sharing import client_for, new_user

SALES_FILES = 3


def share_retail(runtime: Runtime) -> tuple[str, str]:
    """Bootstrap ``runtime``, load and share the retail tables; the tokens of the owner
    (``retail_owner``) and of the analyst (``analyst``, acting in ``analysts``)."""
    created = runtime.security.bootstrap()
    assert created is not None
    admin = runtime.security.authenticate(created[1])
    _, owner_token = new_user(runtime, admin, "retail_owner")
    _, analyst_token = new_user(runtime, admin, "analyst")
    with client_for(runtime, created[1]) as client:
        ok(client.post("/api/v1/domains", json={"name": "Retail"}), 201)
    with client_for(runtime, owner_token) as owner, client_for(runtime, analyst_token) as analyst:
        ok(owner.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"}), 201)
        ok(analyst.post("/api/v1/projects", json={"name": "analysts", "domain": "Retail"}), 201)
        for table in ("customer", "inventory"):
            path = SCENARIOS / f"retail_{table}.csv"
            files = {"file": (path.name, path.read_bytes())}
            ok(owner.post("/api/v1/projects/retail/tables", data={"name": table}, files=files), 201)
        for i, part in enumerate(_parts(SCENARIOS / "retail_store_sales.csv", SALES_FILES)):
            files = {"file": ("store_sales.csv", part)}
            if i == 0:
                url, data = "/api/v1/projects/retail/tables", {"name": "store_sales"}
                ok(owner.post(url, data=data, files=files), 201)
            else:
                url = "/api/v1/projects/retail/tables/store_sales/writes"
                ok(owner.post(url, data={"mode": "append"}, files=files))
        listings = {
            t: ok(owner.post(f"/api/v1/projects/retail/assets/{t}/publish"), 201)["id"]
            for t in ("customer", "inventory", "store_sales")
        }
        body = {"project": "analysts", "listings": list(listings.values()), "reason": "ray"}
        request = ok(analyst.post("/api/v1/subscription-requests", json=body), 201)
        retail_filters(owner)
        items = [
            {"listing_id": listings["store_sales"], "row_filter": "widget_a"},
            {"listing_id": listings["customer"], "column_filter": "no_email"},
            {"listing_id": listings["inventory"]},
        ]
        url = f"/api/v1/subscription-requests/{request['id']}/approve"
        ok(owner.post(url, json={"items": items}))
    return owner_token, analyst_token


def _parts(path: Path, count: int) -> list[bytes]:
    """A CSV file cut into ``count`` CSV files with its header."""
    header, *rows = list(csv.reader(io.StringIO(path.read_text())))
    size = -(-len(rows) // count)
    parts = []
    for start in range(0, len(rows), size):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *rows[start : start + size]])
        parts.append(out.getvalue().encode())
    return parts
