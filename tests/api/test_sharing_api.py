"""Sharing endpoints: status codes, errors as 4xx, OpenAPI, asynchronous CTAS."""

from __future__ import annotations

import time

import pytest

from lakehold.api.app import create_app
from tests.scenarios.helpers import create_table, ok
from tests.sharing import client_for, new_user

PATHS = (
    "/api/v1/projects/{project}/assets/{asset}/publish",
    "/api/v1/listings",
    "/api/v1/listings/{listing_id}",
    "/api/v1/projects/{project}/assets/{asset}/filters",
    "/api/v1/projects/{project}/assets/{asset}/filters/{name}",
    "/api/v1/subscription-requests",
    "/api/v1/subscription-requests/{request_id}",
    "/api/v1/subscription-requests/{request_id}/approve",
    "/api/v1/subscription-requests/{request_id}/reject",
    "/api/v1/grants",
    "/api/v1/grants/{grant_id}",
    "/api/v1/grants/{grant_id}/revoke",
    "/api/v1/grants/{grant_id}/unsubscribe",
)


@pytest.fixture
def sides(runtime, admin, client):
    ok(client.post("/api/v1/domains", json={"name": "Retail"}), 201)
    ok(client.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"}), 201)
    create_table(client, "retail", "customer", "retail_customer.csv")
    _, token = new_user(runtime, admin, "analyst")
    with (
        client_for(runtime, token) as analyst,
        client_for(runtime, client.headers["Authorization"].split()[1]) as owner,
    ):
        ok(analyst.post("/api/v1/projects", json={"name": "analysts", "domain": "Retail"}), 201)
        yield owner, analyst


def test_openapi_lists_the_sharing_endpoints(runtime) -> None:
    paths = create_app(runtime).openapi()["paths"]
    for path in PATHS:
        assert path in paths, path


def test_bad_input_is_4xx(sides) -> None:
    owner, analyst = sides
    assert analyst.post("/api/v1/subscription-requests", json={}).status_code == 400
    missing_reason = analyst.post(
        "/api/v1/subscription-requests", json={"project": "analysts", "listings": ["x"]}
    )
    assert missing_reason.status_code == 400 and missing_reason.json()["field"] == "reason"
    assert analyst.get("/api/v1/subscription-requests/nope").status_code == 404
    assert analyst.post("/api/v1/subscription-requests/nope/approve", json={}).status_code == 404
    assert analyst.post("/api/v1/grants/nope/revoke").status_code == 404
    assert analyst.get("/api/v1/listings/nope").status_code == 404
    assert analyst.post("/api/v1/projects/retail/assets/customer/publish").status_code == 404
    bad_kind = owner.post(
        "/api/v1/projects/retail/assets/customer/filters", json={"name": "f", "kind": "x"}
    )
    assert bad_kind.status_code == 400
    bad_columns = owner.post(
        "/api/v1/projects/retail/assets/customer/filters",
        json={"name": "f", "kind": "column", "columns": ["nope"]},
    )
    assert bad_columns.status_code == 400 and bad_columns.json()["column"] == "nope"
    assert owner.delete("/api/v1/projects/retail/assets/customer/publish").status_code == 409
    direction = analyst.get("/api/v1/subscription-requests", params={"direction": "sideways"})
    assert direction.status_code == 400


def test_lifecycle_status_codes(sides) -> None:
    owner, analyst = sides
    listing = ok(
        owner.post("/api/v1/projects/retail/assets/customer/publish", json={"asset_version": 0}),
        201,
    )
    assert ok(analyst.get(f"/api/v1/listings/{listing['id']}"))["asset"] == "customer"
    created = ok(
        owner.post(
            "/api/v1/projects/retail/assets/customer/filters",
            json={"name": "no_email", "kind": "column", "columns": ["cust_id", "cust_name"]},
        ),
        201,
    )
    assert created["columns"] == ["cust_id", "cust_name"]
    assert (
        ok(owner.get("/api/v1/projects/retail/assets/customer/filters/no_email"))["id"]
        == (created["id"])
    )
    request = ok(
        analyst.post(
            "/api/v1/subscription-requests",
            json={
                "project": "analysts",
                "listings": [listing["id"]],
                "reason": "need this data for analysis",
                "form_values": {"use_case": "churn"},
            },
        ),
        201,
    )
    seen = ok(owner.get(f"/api/v1/subscription-requests/{request['id']}"))
    assert seen["form_values"] == {"use_case": "churn"} and seen["requester"] == "analyst"
    rejected = ok(
        owner.post(f"/api/v1/subscription-requests/{request['id']}/reject", json={"comment": "no"})
    )
    assert rejected["status"] == "rejected"
    again = ok(
        analyst.post(
            "/api/v1/subscription-requests",
            json={"project": "analysts", "listings": [listing["id"]], "reason": "please"},
        ),
        201,
    )
    approved = ok(
        owner.post(
            f"/api/v1/subscription-requests/{again['id']}/approve",
            json={"items": [{"listing_id": listing["id"], "column_filter": "no_email"}]},
        )
    )
    grant_id = approved["items"][0]["grant_id"]
    assert ok(analyst.get(f"/api/v1/grants/{grant_id}"))["columns"] == ["cust_id", "cust_name"]

    # An asynchronous CREATE TABLE ... AS SELECT reads through the grant.
    submitted = ok(
        analyst.post(
            "/api/v1/statements",
            json={
                "sql": "create table analysts.people as select * from retail.customer",
                "project": "analysts",
            },
        ),
        201,
    )
    deadline = time.monotonic() + 30
    while ok(analyst.get(f"/api/v1/statements/{submitted['id']}"))["status"] not in (
        "FINISHED",
        "FAILED",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    columns = ok(analyst.get("/api/v1/projects/analysts/assets/people"))["columns"]
    assert [c["name"] for c in columns] == ["cust_id", "cust_name"]

    assert (
        owner.delete("/api/v1/projects/retail/assets/customer/filters/no_email").status_code == 409
    )
    ended = ok(analyst.post(f"/api/v1/grants/{grant_id}/unsubscribe"))
    assert ended["status"] == "revoked" and ended["revoked_by"] == "analyst"
    assert (
        owner.delete("/api/v1/projects/retail/assets/customer/filters/no_email").status_code == 204
    )
    withdrawn = ok(owner.delete("/api/v1/projects/retail/assets/customer/publish"))
    assert withdrawn["status"] == "withdrawn"
    assert analyst.get(f"/api/v1/listings/{listing['id']}").status_code == 404
