"""Physical locations in lineage facets, shown only to those who may see them (ADR 0015).

A Lakehold table's storage location (``dataSource.uri`` = a ``file://`` URI inside the
warehouse, or an object-store URI) is shown only to the owners of its project and to
administrators; everyone else who may see the dataset gets its logical name
``lakehold://<project>.<table>`` instead, and no ``symlinks`` facet (whose identifiers are
physical). Credentials inside a URI (``scheme://user:password@host``) are never shown.
"""

from __future__ import annotations

import re
from typing import Any

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/@?#]*@")
LOCATION_FACETS = ("symlinks",)
"""Facets that hold nothing but physical identifiers: left out for non-owners."""


def logical_uri(project: str, table: str) -> str:
    """The logical name shown instead of a Lakehold table's storage location."""
    return f"lakehold://{project}.{table}"


def without_credentials(uri: str) -> str:
    """``uri`` without a ``user:password@`` part."""
    return _USERINFO.sub(r"\1", uri)


def shown_facets(facets: dict[str, Any], logical: str | None) -> dict[str, Any]:
    """``facets`` as shown: with ``logical`` (not None), the physical location replaced by it;
    in every case, no credentials in ``dataSource.uri``."""
    source = facets.get("dataSource")
    uri = source.get("uri") if isinstance(source, dict) else None
    if logical is None:
        if isinstance(source, dict) and isinstance(uri, str) and _USERINFO.match(uri):
            return {**facets, "dataSource": {**source, "uri": without_credentials(uri)}}
        return facets
    shown = {k: v for k, v in facets.items() if k not in LOCATION_FACETS}
    if isinstance(source, dict) and "uri" in source:
        shown["dataSource"] = {**source, "uri": logical}
    return shown


def scrub_text(text: str, locations: list[str], logical: str) -> str:
    """``text`` (an error message) with every one of ``locations`` replaced by ``logical``."""
    for location in sorted(locations, key=len, reverse=True):
        if location:
            text = text.replace(location, logical)
    return text
