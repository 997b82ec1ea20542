"""Which engine runs a table job (a merge, a CDC write, a compaction): in process, or as
DuckDB tasks on a Ray cluster (ADR 40). As for statements: the one asked for; else the
cluster when one is configured (``LAKEHOLD_RAY_ADDRESS``) and the job's data reaches
``LAKEHOLD_RAY_THRESHOLD_BYTES``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lakehold.errors import Invalid

Engine = Literal["duckdb", "ray"]
ENGINES: tuple[Engine, ...] = ("duckdb", "ray")


@dataclass(frozen=True)
class ClusterOptions:
    """Where the Ray cluster is, when work runs there, and its bounds."""

    address: str
    threshold_bytes: int | None = None
    """Jobs reading at least this many bytes run on the cluster unless told otherwise."""
    memory_limit: str | None = None
    """DuckDB's memory limit in each task."""
    token: str | None = field(default=None, repr=False)
    """The cluster's authentication token (``RAY_AUTH_MODE=token``), for the driver only."""
    max_partial_bytes: int = 1 << 30
    """Most bytes of partial results a statement's tasks may send back to be merged."""


def choose_engine(cluster: ClusterOptions | None, requested: str | None, size_bytes: int) -> Engine:
    """The engine of a table job reading ``size_bytes``: the one ``requested``, else the
    cluster when one is configured and the job reaches its threshold."""
    if requested is not None and requested not in ENGINES:
        raise Invalid(f"engine is one of {', '.join(ENGINES)}, not {requested!r}", field="engine")
    if requested == "ray" and cluster is None:
        raise Invalid(
            "the ray engine needs a Ray cluster: set LAKEHOLD_RAY_ADDRESS", field="engine"
        )
    if requested is not None:
        return "ray" if requested == "ray" else "duckdb"
    if cluster is None or cluster.threshold_bytes is None:
        return "duckdb"
    return "ray" if size_bytes >= cluster.threshold_bytes else "duckdb"
