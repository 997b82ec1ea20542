"""Governed statements on a Ray cluster: the coordinator's two calls (ADR 40).

:func:`check_splits` tells, before anything runs, whether a prepared and bound statement can
run as DuckDB tasks (else :class:`Unsplittable`, naming the reason); :func:`run_on_cluster`
runs it: split, one task per slice of the largest table's files, merge. Its result, errors,
timeout and cancellation are those of :func:`lakehold.query.run`.
"""

from __future__ import annotations

from collections.abc import Mapping

from lakehold.cluster.gather import MAX_PARTIAL_BYTES, gather
from lakehold.cluster.merge import Merge
from lakehold.cluster.ray_client import connect
from lakehold.cluster.slices import partitioned, slices
from lakehold.errors import Invalid
from lakehold.query.cancel import CancelHandle
from lakehold.query.engine import PreparedQuery
from lakehold.query.model import BoundTable, QueryResult, TableRef
from lakehold.query.results import column_metadata
from lakehold.query.split import PARTIALS, Split, Unsplittable, split
from lakehold.query.verify import verify

__all__ = ["Unsplittable", "check_splits", "run_on_cluster"]


def check_splits(prepared: PreparedQuery, resolved: Mapping[TableRef, BoundTable]) -> None:
    """Raise :class:`Unsplittable` unless the statement can run on the Ray engine (its split,
    checked over empty tables by :class:`Merge`)."""
    _, parts = _split(prepared, resolved)
    Merge(prepared, resolved, parts).close()


def run_on_cluster(
    prepared: PreparedQuery,
    resolved: Mapping[TableRef, BoundTable],
    *,
    address: str,
    max_rows: int,
    timeout_s: float | None,
    memory_limit: str | None,
    cancel: CancelHandle | None,
    token: str | None = None,
    max_partial_bytes: int = MAX_PARTIAL_BYTES,
) -> QueryResult:
    """Run the statement on the Ray cluster at ``address`` (``token``: the cluster's
    authentication token, if it requires one); ``memory_limit`` bounds each task,
    ``max_partial_bytes`` the partial aggregates the coordinator merges."""
    if max_rows < 0:
        raise Invalid("max_rows must be 0 or more", field="max_rows")
    handle = cancel or CancelHandle()
    handle.check()
    ref, parts = _split(prepared, resolved)
    merge = Merge(prepared, resolved, parts)
    try:
        handle.attach(merge.connection, timeout_s)
        try:
            ray = connect(address, token)
            work = slices(prepared, resolved, ref, parts.partial, memory_limit=memory_limit)
            handle.check()
            limit = max_rows if parts.final is None else None
            partials = gather(
                ray, work, handle, address=address, limit=limit, max_bytes=max_partial_bytes
            )
            table, truncated = merge.answer(parts.final, partials, max_rows, handle)
        finally:
            handle.detach()
    finally:
        merge.close()
    return QueryResult(table=table, truncated=truncated, columns=column_metadata(table.schema))


def _split(
    prepared: PreparedQuery, resolved: Mapping[TableRef, BoundTable]
) -> tuple[TableRef, Split]:
    if not prepared.table_refs:
        raise Unsplittable("the statement reads no table")
    if any(table.remote is not None for table in resolved.values()):
        raise Unsplittable("federated tables run on the single-process engine")
    ref = partitioned(resolved)
    columns = {field.name for table in resolved.values() for field in table.schema}
    parts = split(prepared.duckdb_sql, prepared.view_names[ref], columns)
    # what the tasks and the merge run calls allowed functions only, as the statement does
    verify(parts.partial, prepared.view_names.values())
    verify(parts.source, prepared.view_names.values())
    if parts.final is not None:
        verify(parts.final, [PARTIALS])
    return ref, parts
