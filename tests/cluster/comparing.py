"""Comparing the Ray engine's answer with the single-process engine's, value by value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lakehold.cluster.statements import run_on_cluster
from lakehold.query import PreparedQuery, QueryResult, run
from lakehold.query.model import BoundTable, TableRef

REL = 1e-9


def both(
    prepared: PreparedQuery,
    resolved: Mapping[TableRef, BoundTable],
    address: str,
    *,
    max_rows: int = 100_000,
) -> tuple[QueryResult, QueryResult]:
    """(on the cluster, in process) for the same plan."""
    cluster = run_on_cluster(
        prepared,
        resolved,
        address=address,
        max_rows=max_rows,
        timeout_s=120,
        memory_limit="500MB",
        cancel=None,
    )
    local = run(prepared, resolved, max_rows=max_rows, timeout_s=120)
    return cluster, local


def assert_same(cluster: QueryResult, local: QueryResult, *, ordered: bool) -> None:
    """Same columns (names, types, metadata), same truncation, same rows: in order when the
    statement orders them, else as multisets; floats to a relative 1e-9."""
    assert cluster.table.schema == local.table.schema
    assert cluster.columns == local.columns
    assert cluster.truncated == local.truncated
    ours, theirs = _rows(cluster), _rows(local)
    if not ordered:
        ours, theirs = sorted(ours, key=repr), sorted(theirs, key=repr)
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs, strict=True):
        assert len(mine) == len(expected)
        for a, b in zip(mine, expected, strict=True):
            assert _close(a, b), (mine, expected)


def _rows(result: QueryResult) -> list[tuple[Any, ...]]:
    columns = [c.to_pylist() for c in result.table.columns]
    return list(zip(*columns, strict=True)) if columns else []


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)
