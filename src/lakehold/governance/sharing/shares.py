"""Shares: a project's listed lakehouse tables offered over Delta Sharing as ``schema.table``.

- Owners of a project create and delete its shares and add and remove tables; members see
  them; anyone else gets NotFound. A share's name is unique on the server.
- A table of a share is an asset of the share's project with an active listing (what the
  project has published), a lakehouse table (a federated one has no Delta files to serve),
  at most once per share; its schema defaults to the project's name, its name to the asset's.
- Removing a table (or deleting the share) ends what grants served of it: their filtered
  snapshots of it are removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakehold.catalog.service import find_asset, readable_project
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.governance.listings import active_listing
from lakehold.governance.sharing.names import lookup_name, sharing_name
from lakehold.governance.sharing.snapshots import SharedSnapshots
from lakehold.kernel import Action, Command, allowed, governed
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Asset,
    Project,
    Share,
    ShareGrant,
    ShareGrantTable,
    ShareTable,
    User,
)

LAKEHOUSE_TABLE = "lakehouse_table"
MAX_COMMENT = 4000


@dataclass(frozen=True)
class ShareTableView:
    schema: str
    name: str
    asset: str
    """The asset as ``project.table``."""
    id: str


@dataclass(frozen=True)
class ShareView:
    id: str
    name: str
    project: str
    comment: str | None
    created_by: str
    created_at: datetime
    tables: list[ShareTableView] = field(default_factory=list)

    @classmethod
    def of(cls, session: Session, share: Share) -> ShareView:
        rows = session.execute(
            select(ShareTable, Asset)
            .join(Asset, Asset.id == ShareTable.asset_id)
            .where(ShareTable.share_id == share.id)
            .order_by(ShareTable.schema_name, ShareTable.name)
        ).all()
        creator = session.get(User, share.created_by)
        return cls(
            id=share.id,
            name=share.name,
            project=share.project.name,
            comment=share.comment,
            created_by=creator.username if creator else "",
            created_at=share.created_at,
            tables=[
                ShareTableView(t.schema_name, t.name, f"{share.project.name}.{a.name}", t.id)
                for t, a in rows
            ],
        )


def visible_share(session: Session, principal: Principal, name: str) -> Share:
    """The share ``name`` if the principal may see its project (a member); NotFound else."""
    share = session.scalar(select(Share).where(Share.name == lookup_name(name)))
    if share is None or not allowed(principal, Action.PROJECT_READ, share.project, session=session):
        raise NotFound(f"share '{name}' not found", field="share")
    return share


def share_table(session: Session, share: Share, qualified: str) -> ShareTable:
    """The table ``schema.table`` of ``share``; NotFound else."""
    schema, _, name = qualified.partition(".")
    found = session.scalar(
        select(ShareTable).where(
            ShareTable.share_id == share.id,
            ShareTable.schema_name == lookup_name(schema),
            ShareTable.name == lookup_name(name),
        )
    )
    if found is None:
        raise NotFound(f"table '{qualified}' of share '{share.name}' not found", field="table")
    return found


class ShareService:
    """Create, list, read and delete shares; add and remove their tables."""

    def __init__(self, store: Store, snapshots: SharedSnapshots) -> None:
        self.store = store
        self.snapshots = snapshots

    def create(
        self, principal: Principal, project: str, name: str, *, comment: str | None = None
    ) -> ShareView:
        """A new, empty share of ``project`` (its owners)."""
        with governed(
            self.store,
            principal,
            "share.create",
            project=project,
            details={"share": name},
            decision=f"share '{name}' already exists",
        ) as command:
            session = command.session
            owner = readable_project(session, principal, project)
            command.authorize(Action.SHARE_MANAGE, owner)
            clean = sharing_name(name, "name")
            if comment is not None and len(comment) > MAX_COMMENT:
                raise Invalid(f"a comment is at most {MAX_COMMENT} characters", field="comment")
            if session.scalar(select(Share.id).where(Share.name == clean)) is not None:
                raise Conflict(f"share '{clean}' already exists")
            share = Share(
                name=clean, project_id=owner.id, comment=comment, created_by=principal.user_id
            )
            session.add(share)
            session.flush()
            command.details.update(share=clean, id=share.id)
            return ShareView.of(session, share)

    def list_shares(self, principal: Principal, *, project: str | None = None) -> list[ShareView]:
        """The shares of the projects the principal is a member of (of ``project`` only)."""
        query = select(Share).join(Project, Project.id == Share.project_id).order_by(Share.name)
        if project is not None:
            query = query.where(Project.name == project)
        with self.store.session() as session:
            return [
                ShareView.of(session, s)
                for s in session.scalars(query)
                if allowed(principal, Action.PROJECT_READ, s.project, session=session)
            ]

    def get(self, principal: Principal, name: str) -> ShareView:
        with self.store.session() as session:
            return ShareView.of(session, visible_share(session, principal, name))

    def delete(self, principal: Principal, name: str) -> None:
        """Delete a share: its tables and grants go with it, and their snapshots."""
        with governed(self.store, principal, "share.delete", details={"share": name}) as command:
            share = self._managed(command, name)
            gone = self._snapshot_rows(command.session, share.id)
            command.session.delete(share)
        self.snapshots.remove(gone)

    def add_table(
        self,
        principal: Principal,
        share: str,
        asset: str,
        *,
        schema: str | None = None,
        name: str | None = None,
    ) -> ShareView:
        """Offer the asset ``asset`` of the share's project as ``schema.name``."""
        with governed(
            self.store,
            principal,
            "share.table.add",
            details={"share": share, "asset": asset},
            decision=f"share '{share}' already offers this table or name",
        ) as command:
            session = command.session
            found = self._managed(command, share)
            owner = found.project
            table = find_asset(session, owner, asset)
            qualified = f"{owner.name}.{table.name}"
            command.assets = [qualified]
            if table.asset_type != LAKEHOUSE_TABLE:
                raise Invalid(
                    f"{qualified} is a {table.asset_type}: only lakehouse tables are shared",
                    field="asset",
                )
            if active_listing(session, table.id) is None:
                raise Invalid(f"{qualified} is not published; publish it first", field="asset")
            schema_name = sharing_name(schema or owner.name, "schema")
            table_name = sharing_name(name or table.name, "name")
            clash = select(ShareTable.id).where(ShareTable.share_id == found.id)
            if session.scalar(clash.where(ShareTable.asset_id == table.id)) is not None:
                raise Conflict(f"share '{found.name}' already offers {qualified}")
            named = clash.where(
                ShareTable.schema_name == schema_name, ShareTable.name == table_name
            )
            if session.scalar(named) is not None:
                raise Conflict(
                    f"share '{found.name}' already has a table {schema_name}.{table_name}"
                )
            session.add(
                ShareTable(
                    share_id=found.id,
                    asset_id=table.id,
                    schema_name=schema_name,
                    name=table_name,
                    created_by=principal.user_id,
                )
            )
            session.flush()
            command.details.update(table=f"{schema_name}.{table_name}")
            return ShareView.of(session, found)

    def remove_table(self, principal: Principal, share: str, table: str) -> ShareView:
        """Stop offering ``schema.table``; grants' snapshots of it are removed.

        Conflict while an approved grant reads it through filters: those filters belong to
        this table of the share, so the asset offered again would reach that grant in full.
        The table's row is locked first, so an approval filtering it either commits before
        (and is seen) or fails after (its table is gone)."""
        with governed(
            self.store,
            principal,
            "share.table.remove",
            details={"share": share, "table": table},
            decision=f"share '{share}' is changing: try again",
        ) as command:
            session = command.session
            found = self._managed(command, share)
            row = share_table(session, found, table)
            session.execute(select(ShareTable.id).where(ShareTable.id == row.id).with_for_update())
            filtered = session.scalar(
                select(func.count())
                .select_from(ShareGrantTable)
                .join(ShareGrant, ShareGrant.id == ShareGrantTable.grant_id)
                .where(ShareGrantTable.share_table_id == row.id, ShareGrant.status == "approved")
            )
            if filtered:
                raise Conflict(
                    f"{filtered} approved grant(s) of share '{found.name}' read {table} through "
                    "filters: revoke them first (offered again, the table would reach them in "
                    "full)"
                )
            gone = self._snapshot_rows(session, found.id, row.id)
            session.delete(row)
            session.flush()
            view = ShareView.of(session, found)
        self.snapshots.remove(gone)
        return view

    @staticmethod
    def _managed(command: Command, name: str) -> Share:
        share = visible_share(command.session, command.principal, name)
        command.authorize(Action.SHARE_MANAGE, share.project)
        command.project = share.project.name
        return share

    @staticmethod
    def _snapshot_rows(session: Session, share_id: str, table_id: str | None = None) -> list[str]:
        """The grant table rows (snapshots) of the share, or of one of its tables."""
        query = (
            select(ShareGrantTable.id)
            .join(ShareTable, ShareTable.id == ShareGrantTable.share_table_id)
            .where(ShareTable.share_id == share_id)
        )
        if table_id is not None:
            query = query.where(ShareTable.id == table_id)
        return list(session.scalars(query))
