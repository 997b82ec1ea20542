"""What a recipient reads: its grant of a share, decided by the kernel, and for a table of the
share the Delta table that serves it, at which version (ADR 37).

- A share is known to a recipient through its latest grant of it; with none, the share is
  "not found"; the kernel (``share.read``) refuses any grant but an approved one of its own.
- A table served in full is the source table, read up to the catalog's ``current_version``
  (never a commit the catalog has not made its own). A table served through filters is the
  grant's snapshot, caught up to that version before it is read: its versions are its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import NotFound
from lakehold.governance.sharing.names import lookup_name
from lakehold.governance.sharing.snapshots import SharedSnapshots, SnapshotFilters
from lakehold.kernel import Action, authorize
from lakehold.security.principal import Principal
from lakehold.store.models import (
    Asset,
    Project,
    Share,
    ShareGrant,
    ShareGrantTable,
    ShareTable,
)


@dataclass(frozen=True)
class ServedTable:
    """A table of a share as one grant serves it."""

    grant_id: str
    share: str
    share_id: str
    schema: str
    name: str
    table_id: str
    project: str
    asset: str
    """``project.table``: the source asset."""
    source: Path
    catalog_version: int
    filters: SnapshotFilters | None
    """None: served in full from the source."""

    @property
    def snapshot(self) -> bool:
        return self.filters is not None

    @property
    def qualified(self) -> str:
        return f"{self.share}.{self.schema}.{self.name}"


def granted_share(session: Session, principal: Principal, name: str) -> tuple[Share, ShareGrant]:
    """The share ``name`` and the recipient's approved grant of it: NotFound when it has
    never been granted to the recipient, Forbidden (the kernel) when its grant is not
    approved (requested, rejected, revoked)."""
    share = session.scalar(select(Share).where(Share.name == lookup_name(name)))
    grant = None
    if share is not None:
        grant = session.scalar(
            select(ShareGrant)
            .where(ShareGrant.share_id == share.id, ShareGrant.recipient_id == principal.recipient)
            .order_by(ShareGrant.created_at.desc(), ShareGrant.id)
            .limit(1)
        )
    if share is None or grant is None:
        raise NotFound(f"share '{name}' not found")
    authorize(principal, Action.SHARE_READ, grant, session=session)
    return share, grant


def served_table(
    session: Session, principal: Principal, share: str, schema: str, table: str
) -> ServedTable:
    """The table ``share.schema.table`` as the recipient's grant serves it."""
    found, grant = granted_share(session, principal, share)
    row = session.execute(
        select(ShareTable, Asset, Project.name)
        .join(Asset, Asset.id == ShareTable.asset_id)
        .join(Project, Project.id == Asset.project_id)
        .where(
            ShareTable.share_id == found.id,
            ShareTable.schema_name == lookup_name(schema),
            ShareTable.name == lookup_name(table),
        )
    ).first()
    if row is None:
        raise NotFound(f"table '{share}.{schema}.{table}' not found")
    shared, asset, project = row
    filters = session.scalar(
        select(ShareGrantTable).where(
            ShareGrantTable.grant_id == grant.id, ShareGrantTable.share_table_id == shared.id
        )
    )
    return ServedTable(
        grant_id=grant.id,
        share=found.name,
        share_id=found.id,
        schema=shared.schema_name,
        name=shared.name,
        table_id=shared.id,
        project=project,
        asset=f"{project}.{asset.name}",
        source=Path(asset.storage_path),
        catalog_version=asset.current_version,
        filters=SnapshotFilters.of(filters) if filters is not None else None,
    )


def readable(served: ServedTable, snapshots: SharedSnapshots) -> tuple[Path, int]:
    """The Delta table the recipient reads and its newest version it may read: the source at
    the catalog's version, or the grant's snapshot once caught up with that version."""
    if served.filters is None:
        return served.source, served.catalog_version
    latest = snapshots.catch_up(served.source, served.filters, served.catalog_version)
    return snapshots.target(served.filters.id), latest
