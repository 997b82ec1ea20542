"""Which engine runs a statement: in process (DuckDB) or DuckDB tasks on a Ray cluster.

A statement runs on the cluster (ADR 40) when it asks for ``engine="ray"``, or when it asks for
nothing, a cluster is configured (``LAKEHOLD_RAY_ADDRESS``) and the data files it reads add up
to at least ``LAKEHOLD_RAY_THRESHOLD_BYTES``. A statement asked for on the cluster that cannot
run there (it does not split into partial queries and a merge, or reads a federated table) is
refused with the reason; one chosen by size runs in process instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from lakehold.config import Settings
from lakehold.errors import Invalid
from lakehold.query import BoundTable, PreparedQuery, TableRef

Engine = Literal["duckdb", "ray"]
ENGINES: tuple[Engine, ...] = ("duckdb", "ray")


def choose_engine(
    settings: Settings,
    prepared: PreparedQuery,
    resolved: Mapping[TableRef, BoundTable],
    requested: Engine | None,
) -> Engine:
    """The engine of a planned statement; raise Invalid (field ``engine``) when the one
    asked for cannot run it."""
    if requested is not None and requested not in ENGINES:
        raise Invalid(f"engine is one of {', '.join(ENGINES)}, not {requested!r}", field="engine")
    if requested == "duckdb":
        return "duckdb"
    if requested == "ray":
        if settings.ray_address is None:
            raise Invalid(
                "the ray engine needs a Ray cluster: set LAKEHOLD_RAY_ADDRESS", field="engine"
            )
        _check_splits(prepared, resolved)
        return "ray"
    threshold = settings.ray_threshold_bytes
    if settings.ray_address is None or threshold is None or not resolved:
        return "duckdb"
    if sum(table.size_bytes for table in resolved.values()) < threshold:
        return "duckdb"
    try:
        _check_splits(prepared, resolved)
    except Invalid:
        return "duckdb"
    return "ray"


def _check_splits(prepared: PreparedQuery, resolved: Mapping[TableRef, BoundTable]) -> None:
    from lakehold.cluster.statements import check_splits  # sqlglot splitting, on demand

    check_splits(prepared, resolved)
