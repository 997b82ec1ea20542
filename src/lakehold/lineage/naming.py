"""How Lakehold tables are named in OpenLineage, and how a lineage dataset maps to an asset.

Lakehold's own tables live in one namespace (``lakehold`` by default, ``LAKEHOLD_LINEAGE_NAMESPACE``
to change it) and are named ``<project>.<table>``, the name a query uses. Jobs that Lakehold runs
(table writes, ``CREATE TABLE AS SELECT``, sync jobs) are in the same namespace, named
``<project>.<operation>.<table>``. A dataset posted by an external tool links to an asset when
its namespace is Lakehold's and its name is ``<project>.<table>`` of an existing asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

DEFAULT_NAMESPACE = "lakehold"


def dataset_name(project: str, table: str) -> str:
    """The OpenLineage dataset name of a Lakehold table."""
    return f"{project}.{table}"


def job_name(project: str, operation: str, table: str) -> str:
    """The OpenLineage job name of a Lakehold operation writing ``project.table``."""
    return f"{project}.{operation}.{table}"


def asset_ref(namespace: str, name: str, lakehold_namespace: str) -> tuple[str, str] | None:
    """``(project, table)`` when the dataset ``namespace``/``name`` is a Lakehold table."""
    if namespace != lakehold_namespace:
        return None
    project, dot, table = name.partition(".")
    if not dot or not project or not table or "." in table:
        return None
    return project, table


_SCHEMES = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite", "files": "file"}


def source_dataset(
    kind: str, params: Mapping[str, Any], object_name: str | None
) -> tuple[str, str]:
    """The OpenLineage namespace and name of an object of an external source, following the
    OpenLineage dataset naming spec: ``postgres://host:port`` + ``database.schema.table``,
    ``mysql://host:port`` + ``database.table``, ``sqlite://<file>`` + ``table``,
    ``file://<folder>`` + ``file``; a Delta Sharing provider's table
    ``delta-sharing://host:port`` (its endpoint's) + ``share.schema.table``. ``object_name`` is
    ``schema.table`` (None: a query, named ``query``)."""
    if kind == "delta_sharing":
        endpoint = urlsplit(str(params.get("endpoint", "")))
        served = endpoint.port or (443 if endpoint.scheme == "https" else 80)
        return f"delta-sharing://{endpoint.hostname}:{served}", object_name or "query"
    scheme = _SCHEMES.get(kind, kind)
    if kind in ("sqlite", "files"):
        return f"{scheme}://{params.get('path', '')}", object_name or "query"
    port = params.get("port") or {"postgresql": 5432, "mysql": 3306}.get(kind, "")
    namespace = f"{scheme}://{params.get('host', '127.0.0.1')}:{port}"
    name = object_name or "query"
    if kind == "postgresql":
        return namespace, f"{params.get('database', '')}.{name}"
    return namespace, name
