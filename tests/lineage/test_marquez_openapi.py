"""Marquez-compatible reads validated against Marquez's own OpenAPI document.

``tests/data/marquez/openapi.yml`` is Marquez's published spec (see the README beside it).
Each read Lakehold implements is answered from a few ingested OpenLineage events, and its JSON
is validated against the response schema Marquez documents for the same path. Marquez's server
writes an absent optional value as ``null`` (its spec never says ``nullable``), so a ``null`` is
accepted where a property is optional, and only there.
"""

from __future__ import annotations

import uuid
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import pytest
import yaml

from tests.lineage.events import PRODUCER, column_lineage, dataset, run_event

SPEC = Path(__file__).resolve().parents[1] / "data" / "marquez" / "openapi.yml"
PG = "postgres://db:5432"
NS = quote(PG, safe="")
FACETS = "https://openlineage.io/spec/facets"


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text())


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema (draft 4): ``nullable``, and optional properties,
    admit ``null``; an empty ``type:`` (as the spec has in places) constrains nothing."""
    if isinstance(node, list):
        return [json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: json_schema(v)
        for k, v in node.items()
        if k not in ("nullable", "example") and not (k == "type" and v is None)
    }
    if isinstance(out.get("properties"), dict):
        required = set(node.get("required", ()))
        out["properties"] = {
            name: prop if name in required else _or_null(prop)
            for name, prop in out["properties"].items()
        }
    return _or_null(out) if node.get("nullable") else out


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _node(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"type": {"enum": [kind]}, "data": data}}


_FIELD_DATA = {
    "type": "object",
    "properties": {
        "namespace": {"type": "string"},
        "dataset": {"type": "string"},
        "datasetVersion": {"type": ["string", "null"], "format": "uuid"},
        "field": {"type": "string"},
        "fieldType": {"type": ["string", "null"]},
        "transformationDescription": {"type": ["string", "null"]},
        "transformationType": {"type": ["string", "null"]},
        "inputFields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "namespace": {"type": "string"},
                    "dataset": {"type": "string"},
                    "datasetVersion": {"type": ["string", "null"], "format": "uuid"},
                    "field": {"type": "string"},
                    "transformationDescription": {"type": ["string", "null"]},
                    "transformationType": {"type": ["string", "null"]},
                },
                "required": ["namespace", "dataset", "field"],
            },
        },
    },
    "required": ["namespace", "dataset", "field", "inputFields"],
}
"""A column lineage node's data, as Marquez's ``ColumnLineageNodeData`` and
``InputFieldNodeData`` (``marquez.db.models``) write it: the spec leaves it out."""


def errata(schemas: dict[str, Any]) -> dict[str, Any]:
    """Marquez's spec where it contradicts Marquez's own server (and its own examples)."""
    version = schemas["DatasetVersion"]["properties"]
    # `tags: type: string`, yet its example (and Marquez) gives a list, as Dataset.tags does.
    version["tags"] = _or_null(schemas["Dataset"]["properties"]["tags"])
    # Required, but Marquez writes `null` for a dataset without a description.
    version["description"] = _or_null(version["description"])
    # `data` is a oneOf of Dataset and Job, which both match any node (no required property
    # tells them apart); the node's own `type` says which it is. Column lineage graphs have
    # DATASET_FIELD nodes (Marquez's NodeType), which the spec leaves out.
    schemas["NodeType"]["enum"] = [*schemas["NodeType"]["enum"], "DATASET_FIELD"]
    node = schemas["GraphNode"]
    node["properties"]["data"] = {"type": "object"}
    node["oneOf"] = [
        _node("DATASET", _ref("Dataset")),
        _node("JOB", _ref("Job")),
        _node("DATASET_FIELD", _FIELD_DATA),
    ]
    return schemas


def response_schema(path: str) -> dict[str, Any]:
    """The JSON Schema of the 200 answer of ``GET path`` in Marquez's spec, whose components
    its ``$ref``s resolve to."""
    responses = spec()["paths"][path]["get"]["responses"]
    ok = responses.get("200", responses.get(200))  # the spec quotes some codes, not all
    schema = ok["content"]["application/json"]["schema"]
    components = json_schema(spec()["components"])
    return {
        **json_schema(schema),
        "components": {**components, "schemas": errata(components["schemas"])},
    }


def violations(path: str, body: Any) -> list[str]:
    """What in ``body`` breaks the schema of ``path``: ``pointer: message`` lines."""
    validator = jsonschema_rs.Draft4Validator(response_schema(path), validate_formats=True)
    return [line for error in validator.iter_errors(body) for line in _leaves(error)]


def _leaves(error: jsonschema_rs.ValidationError) -> list[str]:
    """The innermost failures of ``error``: the branches of an ``anyOf`` that added ``null``
    explain the failure, the ``null`` branch does not."""
    branches = getattr(error.kind, "context", None)
    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.AnyOf) and branches:
        inner = [e for branch in branches for e in branch if not _only_not_null(e)]
        if inner:
            return [line for e in inner for line in _leaves(e)]
    return [f"/{'/'.join(map(str, error.instance_path))}: {error.message}"]


def _only_not_null(error: jsonschema_rs.ValidationError) -> bool:
    return error.message.endswith('is not of type "null"')


@pytest.fixture
def loaded(client) -> dict[str, str]:
    """Two jobs over three datasets: tags, a SQL facet, column lineage, a failed run."""
    daily, hourly = str(uuid.uuid4()), str(uuid.uuid4())
    tags = {
        "_producer": PRODUCER,
        "_schemaURL": f"{FACETS}/1-0-0/TagsDatasetFacet.json#/$defs/TagsDatasetFacet",
        "tags": [{"key": "pii", "value": "true"}],
    }
    orders = dataset(PG, "public.orders", "id", "amount", tags=tags)
    lineage = column_lineage(total=[(PG, "public.orders", "amount")])
    totals = dataset(PG, "public.totals", "total", columnLineage=lineage)
    sql = "INSERT INTO totals SELECT sum(amount) FROM orders"
    events = [
        run_event("START", "daily.totals", run_id=daily, inputs=[orders], sql=sql),
        run_event(
            "COMPLETE",
            "daily.totals",
            run_id=daily,
            inputs=[orders],
            outputs=[totals],
            time="2026-11-23T10:05:00Z",
            sql=sql,
        ),
        run_event("START", "hourly.report", run_id=hourly, inputs=[totals]),
        run_event(
            "FAIL",
            "hourly.report",
            run_id=hourly,
            inputs=[totals],
            outputs=[dataset("s3://reports", "hourly/report.csv")],
            time="2026-11-23T11:00:00Z",
        ),
    ]
    for event in events:  # the builders' SQL facet has a placeholder schema URL
        if sql_facet := event["job"]["facets"].get("sql"):
            sql_facet["_schemaURL"] = f"{FACETS}/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet"
    response = client.post("/api/v1/lineage/batch", json=events)
    assert response.status_code == 200, response.text
    return {"daily": daily, "hourly": hourly}


def reads(runs: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(Lakehold URL, Marquez spec path, query) of every Marquez-compatible read."""
    orders = f"dataset:{PG}:public.orders"
    return [
        ("/api/v1/namespaces", "/namespaces", {}),
        (f"/api/v1/namespaces/{NS}", "/namespaces/{namespace}", {}),
        (f"/api/v1/namespaces/{NS}/datasets", "/namespaces/{namespace}/datasets", {}),
        *[
            (
                f"/api/v1/namespaces/{NS}/datasets/{name}",
                "/namespaces/{namespace}/datasets/{dataset}",
                {},
            )
            for name in ("public.orders", "public.totals")
        ],
        *[
            (
                f"/api/v1/namespaces/{NS}/datasets/{name}/versions",
                "/namespaces/{namespace}/datasets/{dataset}/versions",
                {},
            )
            for name in ("public.orders", "public.totals")
        ],
        ("/api/v1/namespaces/airflow/jobs", "/namespaces/{namespace}/jobs", {}),
        # Marquez's spec has no `GET /jobs`; Marquez answers it with the same JobList.
        ("/api/v1/jobs", "/namespaces/{namespace}/jobs", {}),
        *[
            (
                f"/api/v1/namespaces/airflow/jobs/{job}{tail}",
                f"/namespaces/{{namespace}}/jobs/{{job}}{tail}",
                {},
            )
            for job in ("daily.totals", "hourly.report")
            for tail in ("", "/versions", "/runs")
        ],
        *[(f"/api/v1/jobs/runs/{run}", "/jobs/runs/{id}", {}) for run in runs.values()],
        ("/api/v1/lineage", "/lineage", {"nodeId": orders, "depth": 5}),
        ("/api/v1/lineage", "/lineage", {"nodeId": "job:airflow:hourly.report"}),
        ("/api/v1/column-lineage", "/column-lineage", {"nodeId": f"dataset:{PG}:public.totals"}),
        ("/api/v1/column-lineage", "/column-lineage", {"nodeId": orders, "withDownstream": True}),
        ("/api/v1/search", "/search", {"q": "o"}),
        ("/api/v1/search", "/search", {"q": "report", "filter": "JOB", "sort": "UPDATE_AT"}),
        ("/api/v1/tags", "/tags", {}),
    ]


def test_the_vendored_spec_is_marquezs() -> None:
    assert spec()["info"]["title"] == "Marquez"
    assert spec()["openapi"].startswith("3.0")


def test_the_checker_rejects_a_wrong_shape() -> None:
    assert violations("/namespaces", {"namespaces": [{"name": 1}]})
    versions = "/namespaces/{namespace}/datasets/{dataset}/versions"
    assert violations(versions, {"versions": [{"name": "x"}]})  # required properties missing
    assert any("/versions/0/id" in v for v in violations(versions, {"versions": [{"id": None}]}))
    assert violations("/lineage", {"graph": [{"type": "DATASET_FIELD", "data": {"field": "x"}}]})
    assert violations("/lineage", {"graph": [{"type": "TABLE", "data": {}}]})
    assert not violations("/tags", {"tags": [{"name": "pii", "description": None}]})


def test_every_read_matches_marquezs_response_schema(client, loaded) -> None:
    failures = {}
    for url, path, params in reads(loaded):
        response = client.get(url, params=params)
        assert response.status_code == 200, (url, response.text)
        if found := violations(path, response.json()):
            failures[f"{url} {params}"] = found
    assert not failures, "\n".join(f"{url}\n  " + "\n  ".join(f) for url, f in failures.items())


def test_the_reads_are_not_empty(client, loaded) -> None:
    """The validated answers carry the shapes in question, not empty lists."""
    graph = client.get("/api/v1/column-lineage", params={"nodeId": f"dataset:{PG}:public.totals"})
    assert any(n["type"] == "DATASET_FIELD" for n in graph.json()["graph"])
    assert client.get("/api/v1/search", params={"q": "o"}).json()["totalCount"] >= 3
    assert client.get("/api/v1/tags").json()["tags"]
    for _ in range(2):  # graphs share their nodes between responses: none may change them
        nodes = client.get("/api/v1/lineage", params={"nodeId": "job:airflow:hourly.report"})
        states = {
            n["id"]: n["data"]["latestRun"]["state"]
            for n in nodes.json()["graph"]
            if n["type"] == "JOB"
        }
        assert states == {
            "job:airflow:daily.totals": "COMPLETED",
            "job:airflow:hourly.report": "FAILED",
        }
    run = client.get(f"/api/v1/jobs/runs/{loaded['hourly']}").json()
    assert run["state"] == "FAILED" and run["inputDatasetVersions"]
