"""Delta Sharing tests: scenario 3's retail tables shared with a recipient outside Lakehold,
read by the real ``delta-sharing`` client against a running server.

The client pins pyarrow and pandas versions of its own, so it runs in ``.venv-sharing``
(``python3 -m venv .venv-sharing && .venv-sharing/bin/pip install delta-sharing==1.4.2``),
driven by ``client_driver.py`` in a subprocess; it fetches the signed file URLs over HTTP
from the server (uvicorn in a thread, serving the test's runtime).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.conftest import SCENARIOS
from tests.scenarios.helpers import ok, retail_filters
from tests.servers import served
from tests.sharing import client_for, new_user

ROOT = Path(__file__).resolve().parents[2]
SHARING_PYTHON = ROOT / ".venv-sharing" / "bin" / "python"
DRIVER = Path(__file__).with_name("client_driver.py")
SHARE = "retail_share"
SALES = f"{SHARE}.retail.store_sales"
CUSTOMER = f"{SHARE}.retail.customer"


@dataclass
class Retail:
    """The producer side: the owner's HTTP client, the share and the filters."""

    runtime: Runtime
    owner: TestClient
    url: str
    """The running server's address."""
    tmp: Path


@pytest.fixture
def retail(
    runtime: Runtime, admin: Principal, client: TestClient, tmp_path: Path
) -> Iterator[Retail]:
    """Project ``retail`` with store_sales and customer published, the row filter
    ``widget_a`` (prod_id = 1) and the column filter ``no_email``, and a share of both
    tables; the app served on a real socket."""
    if not SHARING_PYTHON.exists():
        pytest.fail(
            "the delta-sharing client is not installed: python3 -m venv .venv-sharing && "
            ".venv-sharing/bin/pip install delta-sharing==1.4.2"
        )
    with serving_retail(runtime, admin, client, tmp_path) as producer:
        yield producer


@contextmanager
def serving_retail(
    runtime: Runtime, admin: Principal, client: TestClient, tmp_path: Path, **sales_form: Any
) -> Iterator[Retail]:
    """What :func:`retail` makes, in ``runtime`` (``client``: its administrator's);
    ``sales_form``: store_sales' creation form (e.g. ``keys``, ``change_data_feed``)."""
    ok(client.post("/api/v1/domains", json={"name": "Retail"}), 201)
    _, token = new_user(runtime, admin, "retail_owner")
    with client_for(runtime, token) as owner, served(runtime) as url:
        ok(owner.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"}), 201)
        for table in ("store_sales", "customer"):
            form = sales_form if table == "store_sales" else {}
            upload(owner, table, (SCENARIOS / f"retail_{table}.csv").read_bytes(), **form)
            ok(owner.post(f"/api/v1/projects/retail/assets/{table}/publish"), 201)
        retail_filters(owner)
        ok(owner.post("/api/v1/shares", json={"name": SHARE, "project": "retail"}), 201)
        for table in ("store_sales", "customer"):
            ok(owner.post(f"/api/v1/shares/{SHARE}/tables", json={"asset": table}), 201)
        yield Retail(runtime, owner, url, tmp_path)


def upload(owner: TestClient, table: str, data: bytes, **form: Any) -> dict:
    return ok(
        owner.post(
            "/api/v1/projects/retail/tables",
            data={"name": table, **form},
            files={"file": (f"{table}.csv", data)},
        ),
        201,
    )


def recipient(retail: Retail, name: str, **body: Any) -> tuple[str, Path]:
    """A recipient of ``retail``: its id and its profile file (pointing at the server)."""
    made = ok(
        retail.owner.post(
            "/api/v1/share-recipients",
            json={"project": "retail", "name": name, "organisation": f"{name} Ltd", **body},
        ),
        201,
    )
    return made["recipient"]["id"], write_profile(retail, name, made["profile"])


def write_profile(retail: Retail, name: str, profile: dict) -> Path:
    assert profile["endpoint"].endswith("/delta-sharing")
    path = retail.tmp / f"{name}.share"
    path.write_text(json.dumps({**profile, "endpoint": f"{retail.url}/delta-sharing"}))
    return path


def share_orders(retail: Retail) -> None:
    """``orders``: store_sales again, keyed by sale_id, with a change data feed and the row
    filter ``widget_a``, in the share."""
    owner = retail.owner
    data = (SCENARIOS / "retail_store_sales.csv").read_bytes()
    ok(
        owner.post(
            "/api/v1/projects/retail/tables",
            data={"name": "orders", "keys": "sale_id", "change_data_feed": "true"},
            files={"file": ("orders.csv", data)},
        ),
        201,
    )
    ok(owner.post("/api/v1/projects/retail/assets/orders/publish"), 201)
    ok(
        owner.post(
            "/api/v1/projects/retail/assets/orders/filters",
            json={"name": "widget_a", "kind": "row", "expression": "prod_id = 1"},
        ),
        201,
    )
    ok(owner.post(f"/api/v1/shares/{SHARE}/tables", json={"asset": "orders"}), 201)


def grant(retail: Retail, recipient_id: str, tables: list[dict] | None = None) -> dict:
    """Request access to the share for the recipient and approve it (``tables``: filters)."""
    asked = ok(
        retail.owner.post(
            "/api/v1/share-grants",
            json={"share": SHARE, "recipient": recipient_id, "reason": "quarterly reporting"},
        ),
        201,
    )
    return ok(
        retail.owner.post(
            f"/api/v1/share-grants/{asked['id']}/approve", json={"tables": tables or []}
        )
    )


def client_read(op: str, profile: Path, table: str | None = None, **args: Any) -> dict:
    """What the real client read (``{"columns", "rows"}``), or its error (``{"error",
    "status", "message"}``)."""
    if table is not None:
        args["url"] = f"{profile}#{table}"
    else:
        args["profile"] = str(profile)
    done = subprocess.run(
        [str(SHARING_PYTHON), str(DRIVER), json.dumps({"op": op, **args})],
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the client printed nothing: {done.stderr[-2000:]}"
    return json.loads(lines[-1])


def total(rows: list[dict], column: str = "sale_amount") -> Decimal:
    return sum((Decimal(str(r[column])) for r in rows), Decimal("0"))
