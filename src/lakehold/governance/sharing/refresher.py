"""The background refresh of filtered snapshots: every interval, each snapshot of an approved
grant is caught up with its source's catalog version (ADR 37). ``lakehold serve`` runs it;
reads catch a snapshot up themselves, so the refresher only keeps them warm."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select

from lakehold.governance.sharing.snapshots import SharedSnapshots, SnapshotFilters
from lakehold.periodic import Periodic
from lakehold.store.db import Store
from lakehold.store.models import Asset, ShareGrant, ShareGrantTable, ShareTable

log = logging.getLogger(__name__)

_APPROVED_SNAPSHOTS = (
    select(ShareGrantTable, Asset.storage_path, Asset.current_version)
    .join(ShareGrant, ShareGrant.id == ShareGrantTable.grant_id)
    .join(ShareTable, ShareTable.id == ShareGrantTable.share_table_id)
    .join(Asset, Asset.id == ShareTable.asset_id)
    .where(ShareGrant.status == "approved")
    .order_by(ShareGrantTable.id)
)


class SnapshotRefresher:
    """Catches every approved grant's snapshots up, every ``interval_seconds`` (0: never, the
    reads alone catch them up)."""

    def __init__(self, store: Store, snapshots: SharedSnapshots, interval_seconds: float) -> None:
        self.store = store
        self.snapshots = snapshots
        self._loop = Periodic("lakehold-sharing-refresh", self.run_once, interval_seconds)

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._loop.stop(timeout)

    def run_once(self) -> int:
        """Catch every snapshot up once; how many were behind. One failing snapshot is logged
        and the others still refresh. Snapshots no approved grant serves any more (their table
        dropped, a crash before a removal) are removed: the folders are listed before the
        grants are read, so a snapshot materialised meanwhile has its committed grant."""
        folders = self.snapshots.materialised()
        with self.store.session() as session:
            rows = [
                (SnapshotFilters.of(row), path, version)
                for row, path, version in session.execute(_APPROVED_SNAPSHOTS)
            ]
        self.snapshots.remove(folders - {filters.id for filters, _, _ in rows})
        refreshed = 0
        for filters, path, version in rows:
            before = self.snapshots.latest(filters.id)
            try:
                after = self.snapshots.catch_up(Path(path), filters, version)
            except Exception:
                log.exception("refreshing the sharing snapshot %s failed", filters.id)
                continue
            refreshed += after != before
        return refreshed
