"""What crawls and sync jobs read, by the connection's kind: a database or a folder of files
through DuckDB (:mod:`lakehold.connectors.introspect`, :mod:`lakehold.connectors.sync_engine`),
another organisation's shared table through the Delta Sharing client
(:mod:`lakehold.connectors.shared_tables`, opened by
:meth:`~lakehold.sources.connections.ConnectionService.sharing_client`).

Engines are imported at their first use (ADR 26): managing data sources loads no sync
engine, and reading a database never loads the Delta Sharing client (delta-rs, Parquet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lakehold.connectors import introspect
from lakehold.connectors.attach import ConnectionSpec
from lakehold.connectors.params import SHARING_KIND
from lakehold.sources.connections import ConnectionService

if TYPE_CHECKING:
    from lakehold.connectors.sync_engine import Progress, SyncBatch, SyncDefinition


def check_definition(kind: str, definition: SyncDefinition) -> None:
    """Invalid naming the field for a sync job that can never read a ``kind`` connection."""
    if kind == SHARING_KIND:
        from lakehold.connectors import shared_tables

        shared_tables.check_definition(definition)
    else:
        definition.check()


def discover(
    connections: ConnectionService,
    spec: ConnectionSpec,
    patterns: tuple[Sequence[str], Sequence[str], Sequence[str]],
    timeout_s: float,
) -> introspect.Discovery:
    """The source's tables matching the (schemas, include, exclude) patterns; shared tables
    with the column types a lakehouse table of theirs would have."""
    if spec.kind != SHARING_KIND:
        return introspect.discover(spec, *patterns, timeout_s=timeout_s)
    from lakehold.connectors import shared_tables
    from lakehold.query.arrow_types import duckdb_type

    with connections.sharing_client(spec, timeout_s=timeout_s) as client:
        return shared_tables.discover(client, *patterns, type_name=duckdb_type)


def validate(
    connections: ConnectionService, spec: ConnectionSpec, definition: SyncDefinition
) -> None:
    """Invalid naming the field when the job's named columns are not the source's."""
    if spec.kind != SHARING_KIND:
        from lakehold.connectors.sync_engine import describe

        definition.validate(describe(spec, definition))
        return
    from lakehold.connectors import shared_tables

    with connections.sharing_client(spec) as client:
        shared_tables.describe(client, definition)


def read(
    connections: ConnectionService,
    spec: ConnectionSpec,
    definition: SyncDefinition,
    watermark: str | None,
    progress: Progress | None,
) -> SyncBatch:
    """The changes since ``watermark`` (or everything), checked; nothing written."""
    if spec.kind != SHARING_KIND:
        from lakehold.connectors.sync_engine import read_changes

        return read_changes(spec, definition, watermark, progress=progress)
    from lakehold.connectors import shared_tables

    with connections.sharing_client(spec) as client:
        return shared_tables.read_changes(
            client,
            definition,
            watermark,
            max_bytes=connections.max_download_bytes,
            progress=progress,
        )
