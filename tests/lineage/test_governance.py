"""Visibility: Lakehold tables the principal may not discover are placeholders, or absent."""

from __future__ import annotations

import pytest

from tests.lineage.events import dataset, run_event
from tests.scenarios.helpers import create_table, ok
from tests.sharing import add_member, client_for, new_user

SECRET = "dataset:lakehold:retail.customer"


@pytest.fixture
def sides(runtime, admin, client):
    ok(client.post("/api/v1/domains", json={"name": "Retail"}), 201)
    ok(client.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"}), 201)
    create_table(client, "retail", "customer", "retail_customer.csv")
    events = [
        run_event(
            "COMPLETE",
            "crm.export",
            inputs=[dataset("crm", "contacts", "email")],
            outputs=[dataset("lakehold", "retail.customer", "customer_id")],
        ),
        run_event(
            "COMPLETE",
            "retail.copy.customer_copy",
            namespace="lakehold",
            inputs=[dataset("lakehold", "retail.customer")],
            outputs=[dataset("lakehold", "retail.customer_copy")],
        ),
    ]
    runtime.lineage.record(events)  # Lakehold's namespace: written by Lakehold only (ADR 0015)
    user, token = new_user(runtime, admin, "analyst")
    with client_for(runtime, token) as analyst:
        yield client, analyst, user


def test_an_outsider_sees_a_placeholder_until_the_table_is_published(runtime, sides) -> None:
    owner, analyst, _ = sides
    graph = ok(analyst.get("/api/v1/lineage", params={"nodeId": "dataset:crm:contacts"}))
    ids = {n["id"] for n in graph["graph"]}
    assert SECRET not in ids and "job:airflow:crm.export" in ids
    hidden = [n for n in graph["graph"] if n["id"].startswith("dataset:hidden:")]
    assert len(hidden) == 2  # retail.customer and retail.customer_copy
    assert all(n["data"]["name"] is None and "fields" not in n["data"] for n in hidden)
    assert "job:lakehold:retail.copy.customer_copy" not in ids
    job = next(n for n in graph["graph"] if n["id"] == "job:airflow:crm.export")
    assert job["outEdges"][0]["destination"] in {n["id"] for n in hidden}
    assert "retail" not in str(graph)
    again = ok(analyst.get("/api/v1/lineage", params={"nodeId": "dataset:crm:contacts"}))
    assert {n["id"] for n in again["graph"]} == ids  # placeholders are stable
    assert analyst.get("/api/v1/namespaces/lakehold/datasets/retail.customer").status_code == 404
    assert analyst.get("/api/v1/lineage", params={"nodeId": SECRET}).status_code == 404
    assert ok(analyst.get("/api/v1/namespaces/lakehold/datasets"))["totalCount"] == 0
    assert ok(analyst.get("/api/v1/search", params={"q": "customer"}))["totalCount"] == 0
    crm = ok(analyst.get("/api/v1/namespaces/airflow/jobs/crm.export"))
    assert crm["outputs"] == [] and crm["latestRun"]["outputDatasetVersions"] == []

    ok(owner.post("/api/v1/projects/retail/assets/customer/publish"), 201)
    graph = ok(analyst.get("/api/v1/lineage", params={"nodeId": "dataset:crm:contacts"}))
    ids = {n["id"] for n in graph["graph"]}
    assert SECRET in ids
    assert len([i for i in ids if i.startswith("dataset:hidden:")]) == 1  # the copy is not listed
    shown = ok(analyst.get("/api/v1/namespaces/lakehold/datasets/retail.customer"))
    assert [f["name"] for f in shown["fields"]] == ["customer_id"]
    found = ok(analyst.get("/api/v1/search", params={"q": "customer"}))
    names = {r["name"] for r in found["results"]}
    assert names == {"retail.customer", "retail.create.customer"}  # the table, its creating job


def test_project_members_and_admins_see_everything(runtime, sides) -> None:
    owner, analyst, user = sides
    everything = ok(owner.get("/api/v1/lineage", params={"nodeId": "dataset:crm:contacts"}))
    assert not [n for n in everything["graph"] if n["id"].startswith("dataset:hidden:")]
    add_member(runtime, "retail", user, "viewer")
    graph = ok(analyst.get("/api/v1/lineage", params={"nodeId": "dataset:crm:contacts"}))
    assert {n["id"] for n in graph["graph"]} == {n["id"] for n in everything["graph"]}
    assert ok(analyst.get("/api/v1/namespaces/lakehold/datasets"))["totalCount"] == 2
