"""Share grants: a recipient's access to a share, decided as a subscription is.

- A contributor or owner of the share's project requests access for one of the project's
  recipients, with a reason (required). One request or approved grant per share and recipient
  at a time (a partial unique index keeps it so).
- Owners of the project approve -- each table of the share in full, or through the asset's
  named row filter and/or column filter (the filters subscriptions use; their expression and
  columns are copied into the grant as they are then) -- or reject, with a comment. An
  approved grant is revoked by an owner; a revoked or rejected one stays as history.
- A table served through filters is served from a snapshot of the grant's own, materialised
  on approval (:mod:`.snapshots`); revocation removes it. A table of the share without
  filters is served in full, tables added to the share later included.
- Decisions serialise (ADR 18): an immediate transaction (SQLite) and the grant's row lock
  (PostgreSQL); of two concurrent decisions on one grant one wins, the other gets a Conflict.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.governance import decisions
from lakehold.governance.decisions import APPROVED, REJECTED, REQUESTED
from lakehold.governance.sharing.recipients import visible_recipient
from lakehold.governance.sharing.shares import share_table, visible_share
from lakehold.governance.sharing.snapshots import SharedSnapshots, SnapshotFilters
from lakehold.governance.usernames import username
from lakehold.kernel import Action, Command, allowed, governed
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Asset,
    Project,
    Share,
    ShareGrant,
    ShareGrantTable,
    ShareRecipient,
    ShareTable,
    utcnow,
)

log = logging.getLogger(__name__)

REVOKED = "revoked"
STATUSES = (REQUESTED, APPROVED, REJECTED, REVOKED)
_CONCURRENT = "share grant '{}' was decided concurrently; read it again"


@dataclass(frozen=True)
class TableDecision:
    """How an approval serves one table of the share (``schema.table``): in full unless a
    filter of the asset is named."""

    table: str
    row_filter: str | None = None
    column_filter: str | None = None


@dataclass(frozen=True)
class GrantTableView:
    table: str
    """``schema.table`` in the share."""
    asset: str
    row_filter: str | None
    row_expression: str | None
    column_filter: str | None
    columns: list[str] | None
    snapshot_version: int | None
    """The newest version of the grant's filtered snapshot (None: served in full, or not
    materialised yet)."""


@dataclass(frozen=True)
class ShareGrantView:
    id: str
    share: str
    project: str
    recipient: str
    recipient_id: str
    organisation: str
    status: str
    reason: str
    requested_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str | None
    revoked_by: str | None
    revoked_at: datetime | None
    tables: list[GrantTableView] = field(default_factory=list)

    @classmethod
    def of(cls, session: Session, grant: ShareGrant, snapshots: SharedSnapshots) -> ShareGrantView:
        share = session.get(Share, grant.share_id)
        recipient = session.get(ShareRecipient, grant.recipient_id)
        assert share is not None and recipient is not None
        filters = {
            row.share_table_id: row
            for row in session.scalars(
                select(ShareGrantTable).where(ShareGrantTable.grant_id == grant.id)
            )
        }
        tables = []
        rows = session.execute(
            select(ShareTable, Asset)
            .join(Asset, Asset.id == ShareTable.asset_id)
            .where(ShareTable.share_id == share.id)
            .order_by(ShareTable.schema_name, ShareTable.name)
        ).all()
        for table, asset in rows if grant.status == APPROVED else ():
            chosen = filters.get(table.id)
            tables.append(
                GrantTableView(
                    table=f"{table.schema_name}.{table.name}",
                    asset=f"{share.project.name}.{asset.name}",
                    row_filter=chosen.row_filter if chosen else None,
                    row_expression=chosen.row_expression if chosen else None,
                    column_filter=chosen.column_filter if chosen else None,
                    columns=list(chosen.columns) if chosen and chosen.columns else None,
                    snapshot_version=snapshots.latest(chosen.id) if chosen else None,
                )
            )
        return cls(
            id=grant.id,
            share=share.name,
            project=share.project.name,
            recipient=recipient.name,
            recipient_id=recipient.id,
            organisation=recipient.organisation,
            status=grant.status,
            reason=grant.reason,
            requested_by=username(session, grant.requested_by) or "",
            created_at=grant.created_at,
            decided_by=username(session, grant.decided_by),
            decided_at=grant.decided_at,
            decision_comment=grant.decision_comment,
            revoked_by=username(session, grant.revoked_by),
            revoked_at=grant.revoked_at,
            tables=tables,
        )


class ShareGrantService:
    """Request, list, approve, reject and revoke recipients' access to shares."""

    def __init__(self, store: Store, snapshots: SharedSnapshots) -> None:
        self.store = store
        self.snapshots = snapshots

    def request(
        self, principal: Principal, share: str, recipient_id: str, reason: str
    ) -> ShareGrantView:
        """Ask the project's owners to give ``recipient_id`` access to ``share``."""
        with governed(
            self.store,
            principal,
            "share_grant.request",
            details={"share": share, "recipient": recipient_id},
            decision=f"recipient '{recipient_id}' already has access to share '{share}' or "
            "asked for it",
        ) as command:
            session = command.session
            found = visible_share(session, principal, share)
            command.project = found.project.name
            command.authorize(Action.SHARE_GRANT_REQUEST, found.project)
            recipient = visible_recipient(session, principal, recipient_id)
            if recipient.project_id != found.project_id:
                raise Invalid(
                    f"recipient '{recipient.name}' is not a recipient of project "
                    f"'{found.project.name}'",
                    field="recipient",
                )
            reason = decisions.check_reason(reason, "a request for access needs a reason")
            open_grant = select(ShareGrant.status).where(
                ShareGrant.share_id == found.id,
                ShareGrant.recipient_id == recipient.id,
                ShareGrant.status.in_((REQUESTED, APPROVED)),
            )
            status = session.scalar(open_grant)
            if status is not None:
                raise Conflict(
                    f"recipient '{recipient.name}' already has a {status} grant of share "
                    f"'{found.name}'"
                )
            grant = ShareGrant(
                share_id=found.id,
                recipient_id=recipient.id,
                status=REQUESTED,
                reason=reason,
                requested_by=principal.user_id,
            )
            session.add(grant)
            session.flush()
            command.details.update(grant=grant.id, recipient_name=recipient.name)
            return ShareGrantView.of(session, grant, self.snapshots)

    def list_grants(
        self,
        principal: Principal,
        *,
        share: str | None = None,
        project: str | None = None,
        status: str | None = None,
    ) -> list[ShareGrantView]:
        """Grants of the shares of the principal's projects, newest first."""
        if status is not None and status not in STATUSES:
            raise Invalid(f"status is one of {', '.join(STATUSES)}", field="status")
        query = (
            select(ShareGrant)
            .join(Share, Share.id == ShareGrant.share_id)
            .join(Project, Project.id == Share.project_id)
            .order_by(ShareGrant.created_at.desc(), ShareGrant.id)
        )
        if share is not None:
            query = query.where(Share.name == share.lower())
        if project is not None:
            query = query.where(Project.name == project)
        if status is not None:
            query = query.where(ShareGrant.status == status)
        with self.store.session() as session:
            views = []
            for grant in session.scalars(query):
                owner = session.get(Share, grant.share_id)
                assert owner is not None
                if allowed(principal, Action.PROJECT_READ, owner.project, session=session):
                    views.append(ShareGrantView.of(session, grant, self.snapshots))
            return views

    def get(self, principal: Principal, grant_id: str) -> ShareGrantView:
        with self.store.session() as session:
            grant = session.get(ShareGrant, grant_id)
            share = session.get(Share, grant.share_id) if grant is not None else None
            if (
                grant is None
                or share is None
                or not allowed(principal, Action.PROJECT_READ, share.project, session=session)
            ):
                raise NotFound(f"share grant '{grant_id}' not found")
            return ShareGrantView.of(session, grant, self.snapshots)

    def approve(
        self,
        principal: Principal,
        grant_id: str,
        *,
        tables: list[TableDecision] | None = None,
        comment: str | None = None,
    ) -> ShareGrantView:
        """Approve: each table of the share in full, or through the filters named for it;
        the filtered tables are materialised before this returns (a failure is logged and
        the first read materialises them)."""
        with governed(
            self.store,
            principal,
            "share_grant.approve",
            details={"grant": grant_id},
            decision=_CONCURRENT.format(grant_id),
        ) as command:
            session = command.session
            grant, share = self._decidable(command, grant_id, Action.SHARE_GRANT_DECIDE)
            decisions.check_undecided(grant, f"share grant '{grant_id}'")
            chosen: list[dict[str, object]] = []
            seen: set[str] = set()
            for index, decision in enumerate(tables or []):
                where = f"tables[{index}]"
                try:
                    table = share_table(session, share, decision.table)
                except NotFound as error:
                    raise Invalid(error.message, field=f"{where}.table") from None
                if table.id in seen:
                    raise Invalid(f"table '{decision.table}' is named twice", field=where)
                seen.add(table.id)
                asset = session.get(Asset, table.asset_id)
                assert asset is not None
                row = decisions.chosen_filter(
                    session, asset, decision.row_filter, "row", f"{where}.row_filter"
                )
                col = decisions.chosen_filter(
                    session, asset, decision.column_filter, "column", f"{where}.column_filter"
                )
                if row is None and col is None:
                    continue  # in full
                session.add(
                    ShareGrantTable(
                        grant_id=grant.id,
                        share_table_id=table.id,
                        row_filter=row.name if row else None,
                        row_expression=row.expression if row else None,
                        column_filter=col.name if col else None,
                        columns=list(col.columns or []) if col else None,
                    )
                )
                chosen.append(
                    {
                        "table": f"{table.schema_name}.{table.name}",
                        "row_filter": row.name if row else None,
                        "column_filter": col.name if col else None,
                    }
                )
            decisions.decide(grant, APPROVED, principal, comment)
            session.flush()
            command.details.update(filtered=chosen)
            pending = self._filtered(session, grant.id)
        for source, filters, version in pending:
            try:
                self.snapshots.catch_up(source, filters, version)
            except Exception:  # the first read of the table materialises it again
                log.exception("materialising the sharing snapshot %s failed", filters.id)
        return self.get(principal, grant_id)

    def reject(
        self, principal: Principal, grant_id: str, *, comment: str | None = None
    ) -> ShareGrantView:
        """Reject a request; nothing is served."""
        with governed(
            self.store,
            principal,
            "share_grant.reject",
            details={"grant": grant_id},
            decision=_CONCURRENT.format(grant_id),
        ) as command:
            grant, _ = self._decidable(command, grant_id, Action.SHARE_GRANT_DECIDE)
            decisions.check_undecided(grant, f"share grant '{grant_id}'")
            decisions.decide(grant, REJECTED, principal, comment)
            command.session.flush()
            return ShareGrantView.of(command.session, grant, self.snapshots)

    def revoke(self, principal: Principal, grant_id: str) -> ShareGrantView:
        """End an approved grant: its reads and file URLs are refused from now on, and its
        snapshots are removed."""
        with governed(
            self.store,
            principal,
            "share_grant.revoke",
            details={"grant": grant_id},
            decision=_CONCURRENT.format(grant_id),
        ) as command:
            session = command.session
            grant, _ = self._decidable(command, grant_id, Action.SHARE_GRANT_REVOKE)
            if grant.status != APPROVED:
                raise Conflict(f"share grant '{grant_id}' is {grant.status}, not approved")
            grant.status = REVOKED
            grant.revoked_by, grant.revoked_at = principal.user_id, utcnow()
            session.flush()
            gone = [filters.id for _, filters, _ in self._filtered(session, grant.id)]
            view = ShareGrantView.of(session, grant, self.snapshots)
        self.snapshots.remove(gone)
        return view

    @staticmethod
    def _decidable(command: Command, grant_id: str, action: Action) -> tuple[ShareGrant, Share]:
        """The grant, locked (its row on PostgreSQL; SQLite's write lock is held), if the
        principal may see it; the decision itself is the kernel's."""
        session = command.session
        grant = session.get(ShareGrant, grant_id, with_for_update=True, populate_existing=True)
        share = session.get(Share, grant.share_id) if grant is not None else None
        if (
            grant is None
            or share is None
            or not allowed(command.principal, Action.PROJECT_READ, share.project, session=session)
        ):
            raise NotFound(f"share grant '{grant_id}' not found")
        command.project = share.project.name
        command.authorize(action, share.project)
        recipient = session.get(ShareRecipient, grant.recipient_id)
        command.details.update(share=share.name, recipient=recipient.name if recipient else None)
        return grant, share

    @staticmethod
    def _filtered(session: Session, grant_id: str) -> list[tuple[Path, SnapshotFilters, int]]:
        """The grant's filtered tables: their source, filters and catalog version."""
        rows = session.execute(
            select(ShareGrantTable, Asset.storage_path, Asset.current_version)
            .join(ShareTable, ShareTable.id == ShareGrantTable.share_table_id)
            .join(Asset, Asset.id == ShareTable.asset_id)
            .where(ShareGrantTable.grant_id == grant_id)
        ).all()
        return [(Path(path), SnapshotFilters.of(row), version) for row, path, version in rows]
