"""Apply what a crawl discovered to the catalog: federated assets, their columns and versions.

New source tables become assets (``asset_type`` federated_table) with a FederatedTable row;
changed columns (added, removed, retyped, nullability) make a new asset version; a table the
crawl no longer finds is marked ``missing``, never deleted (grants, listings and business
metadata stay; it returns to ``ok`` when the table is back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.search import index_asset
from lakehold.connectors.introspect import SourceTable
from lakehold.connectors.naming import unique_name
from lakehold.store.models import Asset, AssetColumn
from lakehold.store.sources import AssetVersion, Connection, DataSource, FederatedTable

FEDERATED_TABLE = "federated_table"
OK, MISSING = "ok", "missing"


@dataclass
class ImportCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0


def storage_path(connection: Connection, table: SourceTable) -> str:
    """``<kind>://<connection>/<schema>.<table>`` (``files://<connection>/<relative path>``)."""
    if connection.kind == "files":
        return f"files://{connection.name}/{table.source_table}"
    return f"{connection.kind}://{connection.name}/{table.schema}.{table.name}"


def column_dicts(columns) -> list[dict[str, Any]]:
    return [{"name": c.name, "data_type": c.data_type, "nullable": c.nullable} for c in columns]


def diff_columns(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` columns; empty when nothing did."""
    before, after = {c["name"]: c for c in old}, {c["name"]: c for c in new}
    changes: dict[str, Any] = {
        "added": [n for n in after if n not in before],
        "removed": [n for n in before if n not in after],
        "retyped": [
            {"name": n, "from": before[n]["data_type"], "to": after[n]["data_type"]}
            for n in after
            if n in before and before[n]["data_type"] != after[n]["data_type"]
        ],
        "nullability": [
            n for n in after if n in before and before[n]["nullable"] != after[n]["nullable"]
        ],
    }
    changes = {k: v for k, v in changes.items() if v}
    if not changes and [c["name"] for c in old] != [c["name"] for c in new]:
        changes["reordered"] = True
    return changes


class Importer:
    """Imports one crawl of ``data_source`` into the catalog, in the caller's session."""

    def __init__(
        self, session: Session, data_source: DataSource, connection: Connection, user_id: str
    ) -> None:
        self.session = session
        self.data_source = data_source
        self.connection = connection
        self.user_id = user_id
        self.counts = ImportCounts()

    def apply(self, tables: list[SourceTable], now: datetime) -> ImportCounts:
        existing = {
            (f.source_schema, f.source_table): f
            for f in self.session.scalars(
                select(FederatedTable).where(FederatedTable.connection_id == self.connection.id)
            )
        }
        seen: set[str] = set()
        for table in tables:
            federated = existing.get((table.schema, table.source_table))
            if federated is None:
                federated = self._add(table, now)
            else:
                self._refresh(federated, table, now)
            seen.add(federated.asset_id)
        for federated in existing.values():
            mine = federated.data_source_id == self.data_source.id
            if mine and federated.asset_id not in seen and federated.status != MISSING:
                federated.status = MISSING
                self.counts.missing += 1
        self.session.flush()
        return self.counts

    def _taken(self, name: str) -> bool:
        return (
            self.session.scalar(
                select(Asset.id).where(
                    Asset.project_id == self.data_source.project_id, Asset.name == name
                )
            )
            is not None
        )

    def _add(self, table: SourceTable, now: datetime) -> FederatedTable:
        columns = column_dicts(table.columns)
        asset = Asset(
            project_id=self.data_source.project_id,
            name=unique_name(table.schema, table.name, self._taken),
            asset_type=FEDERATED_TABLE,
            description=f"{table.kind} {table.schema}.{table.name} of connection "
            f"'{self.connection.name}'",
            storage_path=storage_path(self.connection, table),
            created_by=self.user_id,
            current_version=1,
        )
        self._set_columns(asset, columns)
        self.session.add(asset)
        self.session.flush()
        self.session.add(
            AssetVersion(asset_id=asset.id, version=1, columns=columns, changes={"created": True})
        )
        federated = FederatedTable(
            asset_id=asset.id,
            connection_id=self.connection.id,
            data_source_id=self.data_source.id,
            source_schema=table.schema,
            source_table=table.source_table,
            status=OK,
            last_seen_at=now,
        )
        self.session.add(federated)
        index_asset(asset)
        self.counts.added += 1
        return federated

    def _refresh(self, federated: FederatedTable, table: SourceTable, now: datetime) -> None:
        asset = self.session.get(Asset, federated.asset_id)
        assert asset is not None  # a federated table's asset (it cascades with the asset)
        old = column_dicts(asset.columns)
        new = column_dicts(table.columns)
        changes = diff_columns(old, new)
        if federated.status != OK:
            changes["status"] = {"from": federated.status, "to": OK}
        federated.status, federated.last_seen_at = OK, now
        if federated.data_source_id is None:
            federated.data_source_id = self.data_source.id
        if not changes:
            self.counts.unchanged += 1
            return
        self._set_columns(asset, new)
        asset.current_version = (asset.current_version or 0) + 1
        asset.updated_at = now
        self.session.add(
            AssetVersion(
                asset_id=asset.id, version=asset.current_version, columns=new, changes=changes
            )
        )
        index_asset(asset)
        self.counts.updated += 1

    def _set_columns(self, asset: Asset, columns: list[dict[str, Any]]) -> None:
        existing = {c.name: c for c in asset.columns}
        kept = []
        for ordinal, column in enumerate(columns):
            row = existing.get(column["name"]) or AssetColumn(name=column["name"])
            row.data_type, row.nullable, row.ordinal = (
                column["data_type"],
                column["nullable"],
                ordinal,
            )
            kept.append(row)
        asset.columns = kept
