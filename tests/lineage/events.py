"""Builders of OpenLineage events for lineage tests."""

from __future__ import annotations

import uuid
from typing import Any

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://example.com/tests"


def dataset(namespace: str, name: str, *fields: str, **facets: Any) -> dict[str, Any]:
    """An input or output dataset, with a schema facet when ``fields`` are given."""
    all_facets = dict(facets)
    if fields:
        all_facets["schema"] = {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
            "fields": [{"name": f, "type": "VARCHAR"} for f in fields],
        }
    return {"namespace": namespace, "name": name, "facets": all_facets}


def run_event(
    event_type: str,
    job: str,
    *,
    run_id: str | None = None,
    namespace: str = "airflow",
    inputs: list[dict] = (),
    outputs: list[dict] = (),
    time: str = "2026-11-23T10:00:00Z",
    sql: str | None = None,
) -> dict[str, Any]:
    """A RunEvent of ``job``."""
    job_facets = {"sql": {"_producer": PRODUCER, "_schemaURL": "x", "query": sql}} if sql else {}
    return {
        "eventType": event_type,
        "eventTime": time,
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": namespace, "name": job, "facets": job_facets},
        "inputs": list(inputs),
        "outputs": list(outputs),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
    }


def column_lineage(**fields: list[tuple[str, str, str]]) -> dict[str, Any]:
    """A ``columnLineage`` facet: output field -> [(namespace, name, field), ...]."""
    return {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
        "fields": {
            out: {
                "inputFields": [
                    {
                        "namespace": ns,
                        "name": name,
                        "field": field,
                        "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}],
                    }
                    for ns, name, field in sources
                ]
            }
            for out, sources in fields.items()
        },
    }
