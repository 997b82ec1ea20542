"""Reading the standard OpenLineage facets Lakehold folds; everything else stays raw JSON.

Facets come from other tools and are not validated beyond being objects: a malformed part of a
standard facet is ignored rather than refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeGuard

from lakehold.lineage.events import parse_time


def schema_fields(facets: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Fields of the ``schema`` facet in Marquez shape, or None when there is no schema."""
    schema = facets.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        return None
    return _fields(schema["fields"])


def _fields(items: list[Any]) -> list[dict[str, Any]]:
    fields = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        field: dict[str, Any] = {
            "name": item["name"],
            "type": item.get("type") if isinstance(item.get("type"), str) else None,
            "tags": [],
            "description": item.get("description"),
        }
        if isinstance(item.get("fields"), list):
            field["fields"] = _fields(item["fields"])
        fields.append(field)
    return fields


def description(facets: dict[str, Any]) -> str | None:
    """The ``documentation`` facet's description."""
    documentation = facets.get("documentation")
    if isinstance(documentation, dict) and isinstance(documentation.get("description"), str):
        return documentation["description"]
    return None


def tags(facets: dict[str, Any]) -> list[str] | None:
    """Tag keys of the ``tags`` facet, or None without one."""
    facet = facets.get("tags")
    if not isinstance(facet, dict) or not isinstance(facet.get("tags"), list):
        return None
    keys = {
        t["key"] for t in facet["tags"] if isinstance(t, dict) and isinstance(t.get("key"), str)
    }
    return sorted(keys)


def location(facets: dict[str, Any]) -> str | None:
    """The ``sourceCodeLocation`` facet's URL."""
    facet = facets.get("sourceCodeLocation")
    if isinstance(facet, dict) and isinstance(facet.get("url"), str):
        return facet["url"]
    return None


def sql(facets: dict[str, Any]) -> str | None:
    """The ``sql`` job facet's query."""
    facet = facets.get("sql")
    if isinstance(facet, dict) and isinstance(facet.get("query"), str):
        return facet["query"]
    return None


def job_type(facets: dict[str, Any]) -> str | None:
    """``STREAM`` or ``BATCH`` from the ``jobType`` facet's processing type."""
    facet = facets.get("jobType")
    if not isinstance(facet, dict):
        return None
    return "STREAM" if facet.get("processingType") == "STREAMING" else "BATCH"


def nominal_times(facets: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """``(nominalStartTime, nominalEndTime)`` of the ``nominalTime`` run facet."""
    facet = facets.get("nominalTime")
    if not isinstance(facet, dict):
        return None, None
    return (
        parse_time(facet.get("nominalStartTime"), "nominalStartTime"),
        parse_time(facet.get("nominalEndTime"), "nominalEndTime"),
    )


def column_lineage(facets: dict[str, Any]) -> list[tuple[str, str, str, str, list[dict]]] | None:
    """``(field, input namespace, input name, input field, transformations)`` of the
    ``columnLineage`` facet, or None without one. A field-level ``transformationType`` /
    ``transformationDescription`` (the older form) becomes a transformation."""
    facet = facets.get("columnLineage")
    if not isinstance(facet, dict) or not isinstance(facet.get("fields"), dict):
        return None
    found: list[tuple[str, str, str, str, list[dict]]] = []
    for field, spec in facet["fields"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("inputFields"), list):
            continue
        legacy = _legacy_transformation(spec)
        for source in spec["inputFields"]:
            if not isinstance(source, dict):
                continue
            namespace, name, column = (
                source.get("namespace"),
                source.get("name"),
                source.get("field"),
            )
            if not (_text(namespace) and _text(name) and _text(column)):
                continue
            steps = source.get("transformations")
            steps = [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []
            found.append((field, namespace, name, column, steps or legacy))
    return found


def _text(value: Any) -> TypeGuard[str]:
    """A non-empty string."""
    return isinstance(value, str) and bool(value)


def _legacy_transformation(spec: dict[str, Any]) -> list[dict[str, Any]]:
    kind, text = spec.get("transformationType"), spec.get("transformationDescription")
    if not kind and not text:
        return []
    return [{"type": kind, "description": text}]
