"""Bind an admitted table reference to its storage, with the grant's columns and rows.

A lakehouse table binds to the Parquet files of one Delta snapshot (the catalog's current
version unless the statement travels in time). A federated table binds to its source: the
connection (credentials decrypted here, in-process only) and the object in it, read where it
lives with the columns the catalog knows (the crawler keeps them current). Those columns are
kept per asset version: the crawler changes a federated asset's columns only together with a
new ``current_version`` (:mod:`lakehold.sources.importer`), and the version comes with the
statement's own, fresh access decision, so a statement binds no metadata of its own.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlglot
from sqlalchemy import bindparam, select
from sqlglot import exp

from lakehold.connectors.files import table_files
from lakehold.errors import Invalid, NotFound
from lakehold.kernel.access import Access, SourceObject
from lakehold.query import BoundTable, TableRef
from lakehold.query.identifiers import fold
from lakehold.query.model import RemoteTable
from lakehold.store.db import Store
from lakehold.store.models import Asset, AssetColumn

if TYPE_CHECKING:  # a statement reading no Delta table does not import the lakehouse
    from lakehold.connectors.attach import ConnectionSpec
    from lakehold.lakehouse.tables import DeltaTables


@functools.lru_cache(maxsize=1024)
def filter_columns(row_filter: str) -> frozenset[str]:
    """The folded columns a (validated, immutable) row filter expression references."""
    parsed = sqlglot.parse_one(row_filter, read="duckdb")
    return frozenset(fold(c.name) for c in parsed.find_all(exp.Column))


def fit_to_schema(access: Access, schema: pa.Schema) -> tuple[list[str] | None, str | None]:
    """The grant's columns and row filter for one version of the table (time travel).

    Granted columns the version does not have are left out; a row filter naming a column
    the version does not have refuses the read (its error would name the table's columns).
    """
    names = {fold(f.name) for f in schema}
    columns = access.columns
    if columns is not None:
        columns = [c for c in columns if fold(c) in names]
        if not columns:
            raise Invalid("no granted column exists in this version of the table", field="sql")
    if access.row_filter is not None and not filter_columns(access.row_filter) <= names:
        raise Invalid(
            "the row filter of your grant does not apply to this version of the table",
            field="sql",
        )
    return columns, access.row_filter


def bind_lakehouse(tables: DeltaTables, ref: TableRef, access: Access) -> BoundTable:
    """A lakehouse table at the version ``ref`` asks for (else the catalog's current one)."""
    asset = access.asset
    pinned = asset.current_version if ref.timestamp is None else None
    snapshot = tables.snapshot(
        Path(asset.storage_path),
        version=ref.version if ref.version is not None else pinned,
        timestamp=ref.timestamp,
    )
    columns, row_filter = fit_to_schema(access, snapshot.schema)
    return BoundTable(
        files=snapshot.files,
        schema=snapshot.schema,
        columns=columns,
        row_filter=row_filter,
        size_bytes=snapshot.size_bytes,
    )


#: an asset's columns in order, each with the asset's version (one snapshot: they match)
_COLUMNS = (
    select(AssetColumn.name, Asset.current_version)
    .join(Asset, Asset.id == AssetColumn.asset_id)
    .where(AssetColumn.asset_id == bindparam("asset"))
    .order_by(AssetColumn.ordinal)
)


MAX_COLUMN_LISTS = 4096
_column_lists: OrderedDict[tuple[str, int], tuple[str, ...]] = OrderedDict()
_column_lists_lock = threading.Lock()


def _column_names(store: Store, access: Access) -> tuple[str, ...]:
    """The columns of a federated asset's current version, in order; read once per version
    (asset ids are unique and a version's columns never change)."""
    key = (access.asset.id, access.asset.current_version)
    with _column_lists_lock:
        names = _column_lists.get(key)
        if names is not None:
            _column_lists.move_to_end(key)
            return names
    with store.session() as session:
        rows = session.connection().execute(_COLUMNS, {"asset": key[0]}).all()
    names = tuple(name for name, _ in rows)
    if not rows:
        return names
    with _column_lists_lock:  # under the version they were read with
        _column_lists[(key[0], rows[0][1])] = names
        while len(_column_lists) > MAX_COLUMN_LISTS:
            _column_lists.popitem(last=False)
    return names


def bind_federated(
    store: Store, spec_of: Callable[[str], ConnectionSpec], ref: TableRef, access: Access
) -> BoundTable:
    """A federated table, read at its source (no time travel: the source has no versions)."""
    source = access.asset.source
    assert source is not None
    if ref.version is not None or ref.timestamp is not None:
        raise Invalid(
            f"table '{ref.name}' is federated: it has no versions to travel to", field="sql"
        )
    if source.status != "ok":
        raise NotFound(f"table '{ref.name}' is missing at its source (status {source.status})")
    schema = pa.schema([pa.field(name, pa.null()) for name in _column_names(store, access)])
    columns, row_filter = fit_to_schema(access, schema)
    return BoundTable(
        files=(),
        schema=schema,
        columns=columns,
        row_filter=row_filter,
        remote=_remote(spec_of(source.connection_id), source),
    )


def _remote(spec: ConnectionSpec, source: SourceObject) -> RemoteTable:
    if spec.kind == "delta_sharing":  # read through a sync job's copy, not where it sits
        raise Invalid(
            f"table '{source.table}' is another organisation's shared table: a sync job "
            "copies it into a lakehouse table, which is queried",
            field="sql",
        )
    if spec.kind != "files":
        return RemoteTable(spec, schema=source.schema, table=source.table)
    root = Path(str(spec.params["path"]))
    paths = table_files(root, source.table)
    if not paths:
        raise NotFound(f"table '{source.table}' has no data files at its source")
    return RemoteTable(spec, fmt=source.schema, paths=paths)
