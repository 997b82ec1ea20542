"""Which engine runs a statement: in process (DuckDB) or DuckDB tasks on a Ray cluster.

The rules of :mod:`lakehold.cluster.routing` (the engine asked for; else the cluster when
``LAKEHOLD_RAY_ADDRESS`` is set and the data files the statement reads reach
``LAKEHOLD_RAY_THRESHOLD_BYTES``), plus one of statements: a statement must split into partial
queries and a merge to run there (ADR 40). Asked for on the cluster, one that cannot is
refused with the reason; chosen by size, it runs in process instead (also when the check
itself fails: that is logged, and a statement asked for on the cluster is refused).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lakehold.cluster.routing import ClusterOptions, Engine, choose_engine
from lakehold.errors import Invalid
from lakehold.query import BoundTable, PreparedQuery, TableRef

__all__ = ["Engine", "choose_statement_engine"]

log = logging.getLogger(__name__)


def choose_statement_engine(
    cluster: ClusterOptions | None,
    prepared: PreparedQuery,
    resolved: Mapping[TableRef, BoundTable],
    requested: Engine | None,
) -> Engine:
    """The engine of a planned statement; raise Invalid (field ``engine``) when the one
    asked for cannot run it."""
    size = sum(table.size_bytes for table in resolved.values())
    engine = choose_engine(cluster, requested, size)
    if engine == "duckdb":
        return engine
    from lakehold.cluster.statements import check_splits  # sqlglot splitting, on demand

    try:
        check_splits(prepared, resolved)
    except Invalid:
        if requested == "ray":
            raise
        return "duckdb"
    except Exception:  # a statement the checks do not handle: never a reason to fail it
        log.exception("the Ray engine's split check failed on a statement")
        if requested == "ray":
            raise Invalid(
                "the statement cannot run on the Ray engine: it could not be checked",
                field="engine",
            ) from None
        return "duckdb"
    return engine
