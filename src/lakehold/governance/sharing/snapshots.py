"""The filtered snapshots of share grants: where they live, catching one up with its source,
removing them (ADR 37; the engine is :mod:`lakehold.lakehouse.filtered_snapshots`, ADR 39).

A grant that approved a table through filters serves that table from a Delta table of its
own, ``<warehouse>/.sharing/<grant table id>``, holding only the granted rows and columns:
materialised on approval, refreshed when the source commits (the :class:`SnapshotRefresher`
of ``lakehold serve``) and caught up when read, so a reader never sees a version older than
the catalog's; the copies its refreshes removed deleted once older than the retention (the
refresher, daily); removed when the grant ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lakehold.lakehouse import filtered_snapshots
from lakehold.lakehouse.folders import latest_version
from lakehold.store.models import ShareGrantTable

FOLDER = ".sharing"
"""The warehouse folder of the snapshots (a dot-folder: never taken for a table)."""


@dataclass(frozen=True)
class SnapshotFilters:
    """What one grant serves of one table: the row filter's expression and the columns (None:
    all), as the approval copied them."""

    id: str
    """The grant table row's id: the snapshot's folder name."""
    row_expression: str | None
    columns: tuple[str, ...] | None

    @classmethod
    def of(cls, row: ShareGrantTable) -> SnapshotFilters:
        return cls(row.id, row.row_expression, tuple(row.columns) if row.columns else None)


class SharedSnapshots:
    """The snapshots under ``<warehouse>/.sharing``. Refreshes and removals of one snapshot
    are serialised by the engine (a file lock beside it), across processes too."""

    def __init__(self, warehouse: Path) -> None:
        self.root = Path(warehouse) / FOLDER

    def target(self, snapshot_id: str) -> Path:
        """The folder of the snapshot ``snapshot_id`` (a grant table row's id, hex)."""
        if not snapshot_id.isalnum():
            raise ValueError("a snapshot id is alphanumeric")
        return self.root / snapshot_id

    def latest(self, snapshot_id: str) -> int | None:
        """The snapshot's newest version, None before it is materialised."""
        return latest_version(self.target(snapshot_id))

    def materialised(self) -> set[str]:
        """The ids of the snapshots on disk."""
        if not self.root.is_dir():
            return set()
        return {p.name for p in self.root.iterdir() if p.is_dir() and p.name.isalnum()}

    def source_version_at(self, snapshot_id: str, version: int) -> int | None:
        """The source version snapshot version ``version`` reflects (None once its commit
        left the snapshot's log)."""
        return filtered_snapshots.source_versions(self.target(snapshot_id)).get(version)

    def catch_up(self, source: Path, filters: SnapshotFilters, up_to: int) -> int:
        """Bring the snapshot up to the source's version ``up_to`` (materialising it the first
        time); its newest version, which holds the source at ``up_to``."""
        target = self.target(filters.id)
        reached = filtered_snapshots.source_version(target)
        newest = latest_version(target)
        if newest is not None and reached is not None and reached >= up_to:
            return newest
        spec = filtered_snapshots.SnapshotSpec(
            source=Path(source),
            target=target,
            columns=filters.columns,
            row_filter=filters.row_expression,
        )
        return filtered_snapshots.refresh(spec, up_to=up_to).version

    def vacuum(self, snapshot_id: str, retention_hours: int) -> int:
        """Delete the snapshot's copies no version younger than ``retention_hours`` reads (its
        refreshes removed them); how many."""
        return filtered_snapshots.vacuum(self.target(snapshot_id), retention_hours)

    def remove(self, snapshot_ids: Iterable[str]) -> None:
        """Remove these snapshots (those never materialised are skipped)."""
        for snapshot_id in snapshot_ids:
            filtered_snapshots.remove(self.target(snapshot_id))
