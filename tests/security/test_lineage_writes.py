"""Issue 9, section 3: only the system and administrator-issued writers write lineage;
physical locations stay private; events are bounded and stored events never break a read.

Each test reproduces a finding against the real app (TestClient over the real runtime, on
SQLite and PostgreSQL) and checks that it now fails closed (ADR 0015).
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import text as sql_text
from sqlalchemy import update

from lakehold.lineage.emitter import JobRun, _without_location
from lakehold.security.principal import namespace_matches
from lakehold.store.lineage import LineageEvent
from lakehold.store.models import ApiToken, Project
from lakehold.store.sources import Connection
from tests.lineage.events import PRODUCER, column_lineage, dataset, run_event
from tests.scenarios.helpers import create_table, ok, setup_project
from tests.sharing import add_member, client_for, new_user

TABLE = "dataset:lakehold:retail.customer"


def _writer(runtime, admin, username: str, *namespaces: str) -> str:
    """An administrator-issued lineage:write token of a new user, bound to ``namespaces``."""
    new_user(runtime, admin, username)
    issued = runtime.security.create_token(
        admin, "ol", username=username, scopes=["lineage:write"], namespaces=list(namespaces)
    )
    return issued.value


def _fields(client, namespace: str, name: str) -> list[str]:
    found = ok(client.get(f"/api/v1/namespaces/{quote(namespace, safe='')}/datasets/{name}"))
    return [f["name"] for f in found["fields"]]


@pytest.fixture
def retail(runtime, admin, client):
    """Project retail (owned by the admin) with the table customer, written by Lakehold."""
    setup_project(client, "retail")
    create_table(client, "retail", "customer", "retail_customer.csv")
    return _fields(client, "lakehold", "retail.customer")


# -- who may write -------------------------------------------------------------------------


def test_only_administrators_grant_lineage_write(runtime, admin, client) -> None:
    _, plain = new_user(runtime, admin, "mallory")
    with client_for(runtime, plain) as mallory:
        asked = mallory.post(
            "/api/v1/tokens",
            json={"name": "x", "scopes": ["lineage:write"], "namespaces": ["airflow"]},
        )
        assert asked.status_code == 403, asked.text
        assert "administrators" in asked.json()["message"]
        assert mallory.post("/api/v1/lineage", json=run_event("START", "j")).status_code == 403
    body = {"name": "ol", "username": "mallory", "scopes": ["lineage:write"]}
    unbound = client.post("/api/v1/tokens", json=body)
    assert unbound.status_code == 400 and unbound.json()["field"] == "namespaces"
    stray = client.post("/api/v1/tokens", json={"name": "x", "namespaces": ["airflow"]})
    assert stray.status_code == 400 and stray.json()["field"] == "namespaces"
    issued = ok(client.post("/api/v1/tokens", json={**body, "namespaces": ["airflow"]}), 201)
    assert issued["namespaces"] == ["airflow"] and issued["username"] == "mallory"
    listed = ok(client.get("/api/v1/tokens"))
    assert {"namespaces": ["airflow"]}.items() <= next(
        t for t in listed if t["id"] == issued["id"]
    ).items()
    with client_for(runtime, issued["value"]) as writer:
        assert writer.post("/api/v1/lineage", json=run_event("START", "j")).status_code == 201


def test_a_token_minted_before_the_fix_no_longer_writes(runtime, admin) -> None:
    """Tokens that were given lineage:write without namespaces (by anyone) fail closed."""
    _, plain = new_user(runtime, admin, "mallory")
    with runtime.store.session() as session:
        session.execute(update(ApiToken).values(scopes=["lineage:write"], namespaces=None))
    with client_for(runtime, plain) as mallory:
        refused = mallory.post("/api/v1/lineage", json=run_event("START", "j"))
        assert refused.status_code == 403


def test_a_writer_cannot_rewrite_another_projects_hidden_table(
    runtime, admin, client, retail
) -> None:
    fake = dataset("lakehold", "retail.customer", "fake_column")
    attack = run_event("COMPLETE", "evil.job", outputs=[fake])
    token = _writer(runtime, admin, "mallory", "*")  # even a writer of every namespace
    with client_for(runtime, token) as mallory:
        refused = mallory.post("/api/v1/lineage", json=attack)
        assert refused.status_code == 403, refused.text
        assert refused.json()["namespace"] == "lakehold"
        assert refused.json()["field"] == "events[0].outputs[0].namespace"
        assert "'lakehold'" in refused.json()["message"]
        as_job = run_event("COMPLETE", "retail.create.customer", namespace="lakehold")
        assert mallory.post("/api/v1/lineage/batch", json=[as_job]).status_code == 403
        dataset_event = {
            "eventTime": "2026-11-23T10:00:00Z",
            "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
            "dataset": fake,
        }
        assert mallory.post("/api/v1/lineage", json=dataset_event).status_code == 403
    # Not even an administrator's token writes Lakehold's namespace through the API.
    assert client.post("/api/v1/lineage", json=attack).status_code == 403
    assert _fields(client, "lakehold", "retail.customer") == retail
    assert "fake_column" not in json.dumps(ok(client.get("/api/v1/jobs")))
    denied = runtime.audit.events(admin, action="lineage.write", allowed=False)
    assert {e.username for e in denied} == {"mallory", "admin"}
    assert all(e.details.get("namespace") == "lakehold" for e in denied)


def test_a_writer_is_bound_to_its_namespaces(runtime, admin, client) -> None:
    token = _writer(runtime, admin, "airflow-bot", "airflow", "postgres://prod:*")
    with client_for(runtime, token) as writer:
        mine = run_event(
            "COMPLETE", "etl", outputs=[dataset("postgres://prod:5432", "shop.orders", "id")]
        )
        assert writer.post("/api/v1/lineage", json=mine).status_code == 201
        for event, field in (
            (run_event("START", "etl", namespace="spark"), "events[0].job.namespace"),
            (
                run_event("COMPLETE", "etl", outputs=[dataset("postgres://test:5432", "x")]),
                "events[0].outputs[0].namespace",
            ),
            (
                run_event("COMPLETE", "etl", inputs=[dataset("spark", "in", "a")]),
                None,  # an input outside: a read reference, its facets dropped
            ),
        ):
            response = writer.post("/api/v1/lineage/batch", json=[event])
            if field is None:
                assert response.status_code == 200, response.text
                continue
            assert response.status_code == 403, response.text
            assert response.json()["field"] == field
    assert _fields(client, "spark", "in") == []
    denied = runtime.audit.events(admin, action="lineage.write", allowed=False)
    assert {e.details.get("namespace") for e in denied} == {"spark", "postgres://test:5432"}


def test_reading_a_lakehold_table_is_lineage_but_changes_nothing(
    runtime, admin, client, retail
) -> None:
    before = ok(client.get("/api/v1/namespaces/lakehold/datasets/retail.customer"))
    reading = dataset(
        "lakehold",
        "retail.customer",
        "fake_column",
        documentation={"_producer": PRODUCER, "_schemaURL": "x", "description": "pwned"},
    )
    event = run_event(
        "COMPLETE", "report", inputs=[reading], outputs=[dataset("airflow", "report", "n")]
    )
    with client_for(runtime, _writer(runtime, admin, "airflow-bot", "airflow")) as writer:
        assert writer.post("/api/v1/lineage", json=event).status_code == 201
    after = ok(client.get("/api/v1/namespaces/lakehold/datasets/retail.customer"))
    assert after["fields"] == before["fields"] and after["facets"] == before["facets"]
    assert after["description"] == before["description"] and "pwned" not in str(after)
    graph = ok(client.get("/api/v1/lineage", params={"nodeId": "job:airflow:report"}))
    assert TABLE in {n["id"] for n in graph["graph"]}  # the read is in the graph
    with runtime.store.session() as session:
        stored = [json.loads(e.payload) for e in session.query(LineageEvent)]
    posted = next(e for e in stored if e["job"]["name"] == "report")
    assert "facets" not in posted["inputs"][0]  # stored as folded: a bare reference


def test_lakeholds_own_emitter_still_records(runtime, admin, client, retail) -> None:
    runs = ok(client.get("/api/v1/namespaces/lakehold/jobs/retail.create.customer/runs"))
    assert [r["state"] for r in runs["runs"]] == ["COMPLETED"]
    assert retail  # the fields come from Lakehold's own event


# -- physical locations ----------------------------------------------------------------------


def test_physical_locations_only_for_owners_and_admins(
    runtime, admin, client, retail, settings
) -> None:
    warehouse = str(settings.warehouse_path)
    path = "/api/v1/namespaces/lakehold/datasets/retail.customer"
    admin_view = ok(client.get(path))
    assert admin_view["facets"]["dataSource"]["uri"].startswith("file://")
    viewer, token = new_user(runtime, admin, "viewer")
    add_member(runtime, "retail", viewer, "viewer")
    owner, owner_token = new_user(runtime, admin, "co-owner")
    add_member(runtime, "retail", owner, "owner")
    with client_for(runtime, token) as http:
        shown = ok(http.get(path))
        assert shown["facets"]["dataSource"]["uri"] == "lakehold://retail.customer"
        for url in (
            path,
            f"{path}/versions",
            "/api/v1/namespaces/lakehold/datasets",
            "/api/v1/namespaces/lakehold/jobs/retail.create.customer/runs",
            "/api/v1/jobs",
            "/api/v1/projects/retail/assets/customer",
            "/api/v1/projects/retail/assets/customer/lineage",
            "/api/v1/projects/retail/tables/customer/history",
        ):
            response = http.get(url)
            assert response.status_code == 200, (url, response.text)
            assert warehouse not in response.text and "file://" not in response.text, url
    with client_for(runtime, owner_token) as http:
        assert ok(http.get(path))["facets"]["dataSource"]["uri"].startswith("file://")


def test_connection_namespaces_follow_the_owning_projects_visibility(
    runtime, admin, client, retail
) -> None:
    namespace = "postgres://db.internal:5432"
    with runtime.store.session() as session:
        project = session.query(Project).filter_by(name="retail").one()
        session.add(
            Connection(
                project_id=project.id,
                name="shop",
                kind="postgresql",
                params={"host": "db.internal", "port": 5432, "database": "shop"},
                created_by=admin.user_id,
            )
        )
    runtime.lineage.record(  # what a sync job of project retail records
        [
            run_event(
                "COMPLETE",
                "retail.sync.customer",
                namespace="lakehold",
                inputs=[dataset(namespace, "shop.public.orders", "id")],
                outputs=[dataset("lakehold", "retail.customer")],
            )
        ]
    )
    encoded = quote(namespace, safe="")
    source = f"dataset:{namespace}:shop.public.orders"
    outsider, token = new_user(runtime, admin, "outsider")
    with client_for(runtime, token) as http:
        names = {n["name"] for n in ok(http.get("/api/v1/namespaces"))["namespaces"]}
        assert namespace not in names
        assert http.get(f"/api/v1/namespaces/{encoded}").status_code == 404
        assert (
            http.get(f"/api/v1/namespaces/{encoded}/datasets/shop.public.orders").status_code == 404
        )
        assert ok(http.get(f"/api/v1/namespaces/{encoded}/datasets"))["totalCount"] == 0
        assert http.get("/api/v1/lineage", params={"nodeId": source}).status_code == 404
        assert ok(http.get("/api/v1/search", params={"q": "orders"}))["totalCount"] == 0
        assert "db.internal" not in http.get("/api/v1/jobs").text
    ok(client.post("/api/v1/projects/retail/assets/customer/publish"), 201)
    with client_for(runtime, token) as http:  # the table is published, its source is not
        graph = ok(http.get("/api/v1/lineage", params={"nodeId": TABLE, "depth": 2}))
        ids = {n["id"] for n in graph["graph"]}
        assert "job:lakehold:retail.sync.customer" in ids
        assert any(i.startswith("dataset:hidden:") for i in ids)
        assert "db.internal" not in json.dumps(graph)
        around = http.get("/api/v1/projects/retail/assets/customer/lineage")
        assert around.status_code == 404  # the asset page is for members
        job = ok(http.get("/api/v1/namespaces/lakehold/jobs/retail.sync.customer"))
        assert job["inputs"] == [] and "db.internal" not in json.dumps(job)
    add_member(runtime, "retail", outsider, "viewer")
    with client_for(runtime, token) as http:
        graph = ok(http.get("/api/v1/lineage", params={"nodeId": source}))
        assert "job:lakehold:retail.sync.customer" in {n["id"] for n in graph["graph"]}
        assert _fields(http, namespace, "shop.public.orders") == ["id"]


# -- bounded events, robust reads ----------------------------------------------------------


def _nested(depth: int) -> str:
    """JSON text of objects nested ``depth`` levels (text: never materialised as Python
    objects on the test's own stack)."""
    return '{"a":' * (depth - 1) + '{"leaf":true}' + "}" * (depth - 1)


def _posting(event: dict, deep: str) -> bytes:
    """``event`` as JSON with its ``"__deep__"`` placeholder replaced by ``deep`` text."""
    return json.dumps(event).replace('"__deep__"', deep).encode()


def _with_facet(facet: dict, **extra) -> dict:
    out = dataset("airflow", "deep", **{"custom": {"_producer": PRODUCER, **facet}})
    return run_event("COMPLETE", "deep.job", outputs=[out], **extra)


def test_events_are_bounded_and_a_violation_names_limit_and_path(runtime, client) -> None:
    body = _posting(_with_facet({"x": "__deep__"}), _nested(900))
    deep = client.post("/api/v1/lineage", content=body)
    assert deep.status_code == 400, deep.text
    assert deep.json()["limit"] == "lineage_max_depth"
    assert deep.json()["field"].startswith("events[0].outputs[0].facets.custom.x.a.a")
    deeper = "[" * 5000 + "]" * 5000  # too deep for the JSON parser itself
    refused = client.post("/api/v1/lineage", content=deeper.encode())
    assert refused.status_code == 400
    assert client.get("/api/v1/jobs").status_code == 200
    wide = run_event("START", "j", inputs=[dataset("a", f"t{i}") for i in range(1001)])
    refused = client.post("/api/v1/lineage", json=wide)
    assert refused.status_code == 400 and refused.json()["limit"] == "lineage_max_datasets"
    assert refused.json()["field"] == "events[0].inputs"

    runtime.settings.lineage_max_event_bytes = 50_000
    runtime.settings.lineage_max_facet_bytes = 20_000
    runtime.settings.lineage_max_string = 10_000
    runtime.settings.lineage_max_batch_events = 3
    runtime.settings.lineage_max_batch_bytes = 200_000
    many = {f"f{i}": {"_producer": PRODUCER} for i in range(101)}
    cases = {
        "lineage_max_event_bytes": (_with_facet({"x": "y" * 60_000}), "events[0]"),
        "lineage_max_facet_bytes": (
            _with_facet({"x": ["y" * 9_000, "z" * 9_000, "w" * 9_000]}),
            "events[0].outputs[0].facets.custom",
        ),
        "lineage_max_string": (_with_facet({"x": "y" * 10_001}), "events[0].outputs[0].facets"),
        "lineage_max_facets": (
            run_event("START", "j") | {"run": {"runId": str(uuid.uuid4()), "facets": many}},
            "events[0].run.facets",
        ),
    }
    for limit, (event, field) in cases.items():
        response = client.post("/api/v1/lineage", json=event)
        assert response.status_code == 400, (limit, response.text)
        assert response.json()["limit"] == limit, response.text
        assert response.json()["field"].startswith(field), (limit, response.json())
    batch = client.post("/api/v1/lineage/batch", json=[run_event("START", "j")] * 4)
    assert batch.status_code == 400 and batch.json()["limit"] == "lineage_max_batch_events"
    big = client.post("/api/v1/lineage/batch", content=b"[" + b" " * 200_001 + b"]")
    assert big.status_code == 400 and big.json()["limit"] == "lineage_max_batch_bytes"
    with runtime.store.session() as session:
        assert session.query(LineageEvent).count() == 0


def _store_raw(session, table: str, column: str, text: str) -> None:
    """Overwrite a JSON column of every row of ``table`` with the JSON ``text``."""
    cast = "CAST(:v AS json)" if session.bind.dialect.name == "postgresql" else ":v"
    session.execute(sql_text(f"UPDATE {table} SET {column} = {cast}"), {"v": text})


def test_a_stored_deep_facet_never_breaks_a_read(runtime, client) -> None:
    """Rows stored before the limits existed (900 levels deep) are read, the facet left out."""
    run_id = str(uuid.uuid4())
    event = run_event(
        "COMPLETE",
        "deep.job",
        run_id=run_id,
        inputs=[dataset("airflow", "source", "id")],
        outputs=[
            dataset(
                "airflow",
                "deep",
                "id",
                columnLineage=column_lineage(id=[("airflow", "source", "id")]),
            )
        ],
    )
    runtime.lineage.record([event])
    deep = '{"custom":{"_producer":"p","x":' + _nested(900) + "}}"
    with runtime.store.session() as session:
        for table in ("lineage_jobs", "lineage_runs", "lineage_datasets"):
            _store_raw(session, table, "facets", deep)
        _store_raw(session, "lineage_dataset_versions", "facets", deep)
        _store_raw(session, "lineage_datasets", "fields", "[" + _nested(900) + "]")
        _store_raw(session, "lineage_columns", "transformations", "[" + _nested(900) + "]")
    for url in (
        "/api/v1/jobs",
        "/api/v1/namespaces/airflow/jobs",
        "/api/v1/namespaces/airflow/jobs/deep.job",
        "/api/v1/namespaces/airflow/jobs/deep.job/runs",
        "/api/v1/namespaces/airflow/jobs/deep.job/versions",
        f"/api/v1/jobs/runs/{run_id}",
        "/api/v1/namespaces/airflow/datasets",
        "/api/v1/namespaces/airflow/datasets/deep",
        "/api/v1/namespaces/airflow/datasets/deep/versions",
        "/api/v1/lineage?nodeId=dataset:airflow:deep",
        "/api/v1/column-lineage?nodeId=dataset:airflow:deep",
        "/api/v1/search?q=deep",
        "/api/v1/tags",
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
    shown = ok(client.get("/api/v1/namespaces/airflow/datasets/deep"))
    assert shown["facets"] == {} and shown["fields"] == []
    job = ok(client.get("/api/v1/namespaces/airflow/jobs/deep.job"))
    assert job["facets"] == {} and job["latestRun"]["facets"] == {}


def test_namespace_patterns() -> None:
    assert namespace_matches("airflow", "airflow")
    assert not namespace_matches("airflow", "airflow2")
    assert namespace_matches("postgres://prod:*", "postgres://prod:5432")
    assert not namespace_matches("postgres://prod:*", "postgres://production:5432")
    assert namespace_matches("*", "anything")
    assert namespace_matches("s3://*/raw/*", "s3://bucket/raw/x")
    assert not namespace_matches("a*a", "a")


def test_lakeholds_error_messages_name_the_table_not_its_location(tmp_path) -> None:
    location = (tmp_path / "warehouse" / "retail" / "customer").as_uri()
    current = JobRun("retail", "customer", "append", "WRITE", location=location)
    path = str(tmp_path / "warehouse" / "retail" / "customer")
    message = _without_location(f"DeltaError: no log at {path}/_delta_log ({location})", current)
    assert str(tmp_path) not in message and "file://" not in message
    assert message.count("lakehold://retail.customer") == 2
