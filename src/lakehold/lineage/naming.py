"""How Lakehold tables are named in OpenLineage, and how a lineage dataset maps to an asset.

Lakehold's own tables live in one namespace (``lakehold`` by default, ``LAKEHOLD_LINEAGE_NAMESPACE``
to change it) and are named ``<project>.<table>``, the name a query uses. Jobs that Lakehold runs
(table writes, ``CREATE TABLE AS SELECT``, sync jobs) are in the same namespace, named
``<project>.<operation>.<table>``. A dataset posted by an external tool links to an asset when
its namespace is Lakehold's and its name is ``<project>.<table>`` of an existing asset.
"""

from __future__ import annotations

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
