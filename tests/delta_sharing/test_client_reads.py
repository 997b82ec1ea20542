"""The real delta-sharing client (1.4.2) reads scenario 3's tables through Lakehold's Delta
Sharing server: a full grant, a row-filtered grant, a column-filtered grant, with a version, a
limit and a timestamp; the source commits and the recipient sees the new version (ADR 37)."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from prometheus_client import REGISTRY

from tests.conftest import SCENARIOS
from tests.delta_sharing.conftest import (
    CUSTOMER,
    SALES,
    SHARE,
    Retail,
    client_read,
    grant,
    recipient,
    share_orders,
    total,
)
from tests.scenarios.helpers import ok


def _sales_csv(rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["sale_id", "cust_id", "sale_date", "sale_amount", "prod_id", "last_purchase_date"]
    )
    writer.writerows(rows)
    return out.getvalue().encode()


def _append_sales(retail: Retail, rows: list[tuple]) -> dict:
    return ok(
        retail.owner.post(
            "/api/v1/projects/retail/tables/store_sales/writes",
            data={"mode": "append"},
            files={"file": ("more.csv", _sales_csv(rows))},
        )
    )


def _bearer(profile) -> dict:
    return {"Authorization": f"Bearer {json.loads(profile.read_text())['bearerToken']}"}


def _query(retail: Retail, profile, table: str, body: dict | None = None) -> httpx.Response:
    share, schema, name = table.split(".")
    return httpx.post(
        f"{retail.url}/delta-sharing/shares/{share}/schemas/{schema}/tables/{name}/query",
        json=body or {},
        headers=_bearer(profile),
    )


def _lines(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line]


def _counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_full_grant_reads_the_whole_table_with_a_limit(retail: Retail) -> None:
    acme, profile = recipient(retail, "acme")
    grant(retail, acme)
    queries = _counted("lakehold_share_reads_total", project="retail", kind="query")
    fetches = _counted("lakehold_share_file_fetches_total")
    listed = client_read("tables", profile)
    assert sorted(listed["tables"]) == sorted([SALES, CUSTOMER])
    frame = client_read("load", profile, SALES)
    assert len(frame["rows"]) == 20 and total(frame["rows"]) == Decimal("3530.50")
    assert frame["columns"] == [
        "sale_id",
        "cust_id",
        "sale_date",
        "sale_amount",
        "prod_id",
        "last_purchase_date",
    ]
    limited = client_read("load", profile, SALES, limit=5)
    assert len(limited["rows"]) == 5
    assert _counted("lakehold_share_reads_total", project="retail", kind="query") == queries + 2
    assert _counted("lakehold_share_file_fetches_total") > fetches


def test_a_row_filtered_grant_reads_7_rows_of_1500_and_never_a_producer_file(
    retail: Retail,
) -> None:
    widget, profile = recipient(retail, "widget_buyer")
    approved = grant(retail, widget, [{"table": "retail.store_sales", "row_filter": "widget_a"}])
    sales = next(t for t in approved["tables"] if t["table"] == "retail.store_sales")
    assert sales["row_filter"] == "widget_a" and sales["snapshot_version"] == 0
    frame = client_read("load", profile, SALES)
    assert "error" not in frame, frame
    assert len(frame["rows"]) == 7 and total(frame["rows"]) == Decimal("1500.00")
    assert {r["prod_id"] for r in frame["rows"]} == {1}

    # Every URL the recipient is given opens a file of its snapshot, none of the source's.
    source_files = {f.path for f in _source_version(retail, "store_sales").files}
    files = [line["file"] for line in _lines(_query(retail, profile, SALES))[2:]]
    assert files
    signer = retail.runtime.sharing_reads.signer
    for file in files:
        claim = signer.verify(file["url"].rsplit("/", 1)[1])
        assert claim.snapshot and claim.path not in source_files
        assert httpx.get(file["url"]).status_code == 200
    # The unfiltered customer table of the same grant is served in full.
    assert len(client_read("load", profile, CUSTOMER)["rows"]) == 6


def test_a_column_filtered_grant_has_no_cust_email_in_data_or_metadata(retail: Retail) -> None:
    partner, profile = recipient(retail, "partner")
    grant(retail, partner, [{"table": "retail.customer", "column_filter": "no_email"}])
    frame = client_read("load", profile, CUSTOMER)
    assert frame["columns"] == ["cust_id", "cust_name", "cust_country"]
    assert len(frame["rows"]) == 6
    assert "example.com" not in json.dumps(frame)
    metadata = httpx.get(
        f"{retail.url}/delta-sharing/shares/{SHARE}/schemas/retail/tables/customer/metadata",
        headers=_bearer(profile),
    )
    schema = json.loads(_lines(metadata)[1]["metaData"]["schemaString"])
    assert [f["name"] for f in schema["fields"]] == ["cust_id", "cust_name", "cust_country"]


def test_the_source_commits_and_the_recipient_sees_the_new_version(retail: Retail) -> None:
    acme, full = recipient(retail, "acme")
    grant(retail, acme)
    widget, filtered = recipient(retail, "widget_buyer")
    grant(retail, widget, [{"table": "retail.store_sales", "row_filter": "widget_a"}])
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    time.sleep(1.1)
    version = _append_sales(retail, [(21, 1, "2023-03-01", "99.50", 1, "2023-03-01")])["result"][
        "version"
    ]
    assert version == 1

    now = client_read("load", full, SALES)
    assert len(now["rows"]) == 21 and total(now["rows"]) == Decimal("3630.00")
    assert len(client_read("load", full, SALES, version=0)["rows"]) == 20
    assert len(client_read("load", full, SALES, timestamp=before)["rows"]) == 20

    # The filtered grant catches its snapshot up when read: a new snapshot version.
    seen = client_read("load", filtered, SALES)
    assert len(seen["rows"]) == 8 and total(seen["rows"]) == Decimal("1599.50")
    assert len(client_read("load", filtered, SALES, version=0)["rows"]) == 7
    head = httpx.get(
        f"{retail.url}/delta-sharing/shares/{SHARE}/schemas/retail/tables/store_sales/version",
        headers=_bearer(filtered),
    )
    assert head.status_code == 200 and head.headers["delta-table-version"] == "1"


def _source_version(retail: Retail, table: str):
    from lakehold.lakehouse.sharing_reads import table_version

    path = retail.runtime.tables.path_for("retail", table)
    return table_version(path, 0)


def test_change_data_feed_of_a_cdf_table_and_refused_without_one(retail: Retail) -> None:
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
    ok(owner.post(f"/api/v1/shares/{SHARE}/tables", json={"asset": "orders"}), 201)
    ok(
        owner.post(
            "/api/v1/projects/retail/tables/orders/writes",
            data={"mode": "merge"},
            files={
                "file": (
                    "m.csv",
                    _sales_csv([(1, 13251813, "2023-01-15", "175.00", 1, "2023-01-15")]),
                )
            },
        )
    )
    acme, profile = recipient(retail, "acme")
    grant(retail, acme)
    changes = client_read("changes", profile, f"{SHARE}.retail.orders", starting_version=0)
    assert "error" not in changes, changes
    kinds = [(r["_change_type"], r["_commit_version"]) for r in changes["rows"]]
    assert kinds.count(("insert", 0)) == 20
    updated = {
        r["_change_type"]: r["sale_amount"] for r in changes["rows"] if r["_commit_version"] == 1
    }
    assert updated == {"update_preimage": "150.00", "update_postimage": "175.00"}

    refused = client_read("changes", profile, SALES, starting_version=0)
    assert refused["error"] == "http" and refused["status"] == 400
    assert "cdf is not enabled" in refused["message"]


def test_a_row_filtered_change_data_feed_holds_only_granted_changes(retail: Retail) -> None:
    owner = retail.owner
    share_orders(retail)
    widget, profile = recipient(retail, "widget_buyer")
    grant(retail, widget, [{"table": "retail.orders", "row_filter": "widget_a"}])
    changed = _sales_csv(
        [
            (1, 13251813, "2023-01-15", "175.00", 1, "2023-01-15"),  # granted: prod_id 1
            (2, 29033279, "2023-01-20", "250.00", 4, "2023-01-20"),  # not granted
        ]
    )
    ok(
        owner.post(
            "/api/v1/projects/retail/tables/orders/writes",
            data={"mode": "merge"},
            files={"file": ("m.csv", changed)},
        )
    )
    changes = client_read("changes", profile, f"{SHARE}.retail.orders", starting_version=0)
    assert "error" not in changes, changes
    first = [r for r in changes["rows"] if r["_commit_version"] == 0]
    assert len(first) == 7 and {r["_change_type"] for r in first} == {"insert"}
    later = sorted(
        (r["_change_type"], r["sale_id"], r["sale_amount"])
        for r in changes["rows"]
        if r["_commit_version"] == 1
    )
    assert later == [("update_postimage", 1, "175.00"), ("update_preimage", 1, "150.00")]


def test_the_delta_response_format_wraps_the_logs_own_actions(retail: Retail) -> None:
    """``responseformat=delta`` alone gets Delta actions (the client's Rust kernel reads them;
    it resolves http:// URLs as local paths, so the test reads the lines themselves)."""
    widget, profile = recipient(retail, "widget_buyer")
    grant(retail, widget, [{"table": "retail.store_sales", "row_filter": "widget_a"}])
    share, schema, name = SALES.split(".")
    answer = httpx.post(
        f"{retail.url}/delta-sharing/shares/{share}/schemas/{schema}/tables/{name}/query",
        json={"version": 0},
        headers={**_bearer(profile), "delta-sharing-capabilities": "responseformat=delta"},
    )
    assert answer.headers["delta-sharing-capabilities"] == "responseformat=delta"
    protocol, metadata, *files = _lines(answer)
    assert protocol["protocol"]["deltaProtocol"]["minReaderVersion"] == 1
    assert metadata["metaData"]["version"] == 0
    assert "schemaString" in metadata["metaData"]["deltaMetadata"]
    add = files[0]["file"]["deltaSingleAction"]["add"]
    assert add["path"].startswith(f"{retail.url}/delta-sharing/files/")
    assert json.loads(add["stats"])["numRecords"] == 7
    assert httpx.get(add["path"]).status_code == 200
    both = httpx.post(
        f"{retail.url}/delta-sharing/shares/{share}/schemas/{schema}/tables/{name}/query",
        json={},
        headers={**_bearer(profile), "delta-sharing-capabilities": "responseformat=delta,parquet"},
    )
    assert both.headers["delta-sharing-capabilities"] == "responseformat=parquet"
    assert "url" in _lines(both)[2]["file"]
