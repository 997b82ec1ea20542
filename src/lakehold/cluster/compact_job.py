"""Compaction (OPTIMIZE) as DuckDB tasks on Ray, committed once (ADR 40, "Table jobs").

As delta-rs's ``optimize.compact``: the files smaller than the target size
(``delta.targetFileSize``, else 100 MiB) are packed, in log order, into bins of at most the
target size; each bin of two files or more is one task writing one file; one commit removes
the binned files and adds the new ones, all ``dataChange=false`` (no row changed), with the
metrics delta-rs reports. Nothing to pack, no commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from deltalake import CommitProperties, DeltaTable

from lakehold.cluster import table_jobs, write_task
from lakehold.cluster.routing import ClusterOptions
from lakehold.cluster.table_jobs import DataFile
from lakehold.lakehouse.reading import arrow_schema


class RayCompactor:
    """A compactor for :meth:`~lakehold.lakehouse.tables.DeltaTables.optimize` running on a
    Ray cluster (:class:`~lakehold.lakehouse.engines.Compactor`)."""

    name = "ray"

    def __init__(self, cluster: ClusterOptions) -> None:
        self.cluster = cluster

    def unsupported(self, table: DeltaTable) -> str | None:
        return table_jobs.unsupported(table, compaction=True)

    def compact(self, table: DeltaTable, *, commit: CommitProperties) -> dict[str, Any]:
        files, _ = table_jobs.data_files(table)
        target = table_jobs.target_file_size(table)
        small = [f for f in files if f.size < target]
        bins = [b for b in _bins(small, target) if len(b) > 1]
        common = {
            "schema": arrow_schema(table),
            "folder": str(table_jobs.table_folder(table)),
            "memory_limit": self.cluster.memory_limit,
            "max_rows": 1 << 62,
        }
        jobs = [
            {**common, "files": [f.path for f in b], "prefix": table_jobs.new_prefix()}
            for b in bins
        ]
        results = table_jobs.run_tasks([(write_task.compact_files, j) for j in jobs], self.cluster)
        removed = [f for b in bins for f in b]
        adds = table_jobs.add_actions(results, data_change=False)
        metrics = {
            "numFilesAdded": len(adds),
            "numFilesRemoved": len(removed),
            "filesAdded": _sizes([a.size for a in adds]),
            "filesRemoved": _sizes([f.size for f in removed]),
            "partitionsOptimized": 1 if bins else 0,
            "numBatches": sum(len(b) for b in bins),
            "totalConsideredFiles": len(small),
            "totalFilesSkipped": len(small) - len(removed),
            "preserveInsertionOrder": True,
        }
        if bins:
            try:
                removes = table_jobs.remove_actions(removed, data_change=False)
                table_jobs.commit(table, [*adds, *removes], commit, metrics)
            except BaseException:
                table_jobs.delete_outputs(jobs)
                raise
        return metrics


def _bins(files: Sequence[DataFile], target: int) -> list[list[DataFile]]:
    """``files`` in order, cut into runs of at most ``target`` bytes."""
    bins: list[list[DataFile]] = []
    current: list[DataFile] = []
    size = 0
    for file in files:
        if current and size + file.size > target:
            bins.append(current)
            current, size = [], 0
        current.append(file)
        size += file.size
    if current:
        bins.append(current)
    return bins


def _sizes(sizes: Sequence[int]) -> str:
    """delta-rs's summary of file sizes (a JSON text)."""
    total = sum(sizes)
    return json.dumps(
        {
            "avg": total / len(sizes) if sizes else 0.0,
            "max": max(sizes, default=0),
            "min": min(sizes, default=0),
            "totalFiles": len(sizes),
            "totalSize": total,
        },
        separators=(",", ":"),
    )
