"""The background refresh of filtered snapshots: every interval, each snapshot of an approved
grant is caught up with its source's catalog version (ADR 37), and once a day the copies its
refreshes removed are deleted once older than the retention. ``lakehold serve`` runs it;
reads catch a snapshot up themselves, so the refresher only keeps them warm (and small)."""

from __future__ import annotations

import logging
import time
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


VACUUM_EVERY_SECONDS = 86_400.0
"""How often each snapshot's removed copies are vacuumed (the first refresh of a process too)."""


class SnapshotRefresher:
    """Catches every approved grant's snapshots up, every ``interval_seconds`` (0: never, the
    reads alone catch them up), and vacuums each every ``vacuum_every_seconds``: the copies
    its refreshes removed, once older than ``retention_hours``."""

    def __init__(
        self,
        store: Store,
        snapshots: SharedSnapshots,
        interval_seconds: float,
        *,
        retention_hours: int,
        vacuum_every_seconds: float = VACUUM_EVERY_SECONDS,
    ) -> None:
        self.store = store
        self.snapshots = snapshots
        self.retention_hours = retention_hours
        self.vacuum_every_seconds = vacuum_every_seconds
        self._vacuumed: dict[str, float] = {}
        """When each snapshot was last vacuumed by this process (monotonic seconds)."""
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
            self._vacuum(filters.id)
        return refreshed

    def _vacuum(self, snapshot_id: str) -> None:
        """Vacuum the snapshot if it is due; a failure is logged (the next run tries again)."""
        now = time.monotonic()
        last = self._vacuumed.get(snapshot_id)
        if last is not None and now - last < self.vacuum_every_seconds:
            return
        self._vacuumed[snapshot_id] = now
        try:
            deleted = self.snapshots.vacuum(snapshot_id, self.retention_hours)
        except Exception:
            log.exception("vacuuming the sharing snapshot %s failed", snapshot_id)
            return
        if deleted:
            log.info("vacuumed %d files of the sharing snapshot %s", deleted, snapshot_id)
