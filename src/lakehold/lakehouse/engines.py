"""Engines a table job may run on instead of delta-rs in this process (a Ray cluster): the
lakehouse prepares the job, the engine runs and commits it, or says why it cannot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable

from lakehold.lakehouse.schema import Evolution


class MergeEngine(Protocol):
    """Runs a prepared merge in place of :func:`~lakehold.lakehouse.merge.execute_merge`:
    the same source, semantics and metrics, committed once with ``commit``."""

    name: str

    def unsupported(
        self, table: DeltaTable, evolution: Evolution, keys: Sequence[str]
    ) -> str | None:
        """Why the merge of ``evolution``'s batch into ``table`` on ``keys`` must run in
        process."""

    def merge(
        self,
        table: DeltaTable,
        source: pa.Table | pa.RecordBatchReader,
        *,
        keys: Sequence[str],
        commit: CommitProperties,
    ) -> dict[str, Any]:
        """As ``execute_merge`` (no new columns), committed at ``table``'s version."""


class Compactor(Protocol):
    """Runs a compaction in place of delta-rs's ``optimize.compact``."""

    name: str

    def unsupported(self, table: DeltaTable) -> str | None:
        """Why compacting ``table`` must run in process."""

    def compact(self, table: DeltaTable, *, commit: CommitProperties) -> dict[str, Any]:
        """Compact small files as delta-rs does; its metrics (``numFilesAdded``...)."""
