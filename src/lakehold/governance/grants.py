"""Grants: read access of a subscribing project to an asset, with optional filters.

- A grant is made by approving a subscription request. There is at most one active grant per
  (asset, project): a new one revokes the previous one.
- Owners of the asset's project revoke a grant; owners of the subscribing project end it by
  unsubscribing. Both take effect at once (the next statement no longer resolves the table).
- Owners of the asset's project change a grant's filters in place (``change_filters``): the
  same grant (same id) reads through the new filters from the next statement on.
- Members of either project see the grant; others get NotFound.

Decisions serialise (ADR 18): they run in an immediate session (SQLite's write lock) and lock
their rows on PostgreSQL, the asset's row for anything that grants it or changes its filters
(``lock_assets``; a grant's filter change then locks the grant's row), the grant's row for a
revocation; the unique index ``uq_grants_active_asset_project`` refuses a second active grant
even if code forgets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.governance.events import SUBSCRIPTION_FILTERS_CHANGED, emit, grant_payload
from lakehold.governance.usernames import username
from lakehold.kernel import Action, allowed, governed
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Asset,
    AssetFilter,
    Grant,
    Project,
    SubscriptionRequestItem,
    utcnow,
)


class Keep(Enum):
    """The type of :data:`KEEP`."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP
"""Leave this filter of the grant as it is (:meth:`GrantService.change_filters`)."""


@dataclass(frozen=True)
class GrantView:
    id: str
    asset: str
    """The asset as ``project.table``."""
    project: str
    """The subscribing project."""
    status: str
    row_filter: str | None
    row_filter_expression: str | None
    column_filter: str | None
    columns: list[str] | None
    request_id: str | None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, session: Session, grant: Grant) -> GrantView:
        asset = session.get(Asset, grant.asset_id)
        project = session.get(Project, grant.project_id)
        assert asset is not None and project is not None
        row = session.get(AssetFilter, grant.row_filter_id) if grant.row_filter_id else None
        col = session.get(AssetFilter, grant.column_filter_id) if grant.column_filter_id else None
        item = (
            session.get(SubscriptionRequestItem, grant.request_item_id)
            if grant.request_item_id
            else None
        )
        return cls(
            id=grant.id,
            asset=f"{asset.project.name}.{asset.name}",
            project=project.name,
            status="active" if grant.revoked_at is None else "revoked",
            row_filter=row.name if row else None,
            row_filter_expression=row.expression if row else None,
            column_filter=col.name if col else None,
            columns=list(col.columns or []) if col else None,
            request_id=item.request_id if item else None,
            created_by=username(session, grant.created_by) or "",
            created_at=grant.created_at,
            revoked_at=grant.revoked_at,
            revoked_by=username(session, grant.revoked_by),
        )


def lock_assets(session: Session, asset_ids: Iterable[str]) -> None:
    """Lock the rows of these assets until the transaction ends (PostgreSQL; SQLite's
    immediate session already holds the database's write lock). Ids are locked in order, so
    two decisions over the same assets never wait for each other in a circle; ``FOR NO KEY
    UPDATE`` excludes other decisions but not rows that merely reference the asset."""
    ids = sorted(set(asset_ids))
    if ids:
        query = select(Asset.id).where(Asset.id.in_(ids)).order_by(Asset.id)
        session.execute(query.with_for_update(key_share=True)).all()


def replace_grant(
    session: Session,
    principal: Principal,
    asset: Asset,
    project: Project,
    *,
    request_item_id: str | None,
    row_filter_id: str | None,
    column_filter_id: str | None,
) -> tuple[Grant, list[str]]:
    """Grant ``asset`` to ``project``, revoking any active grant it replaces (ids returned).

    The asset row is locked (PostgreSQL) so that concurrent approvals of the same asset keep
    at most one active grant per project; the revocations are written before the new grant,
    which the unique index of active grants would refuse otherwise."""
    lock_assets(session, [asset.id])
    now = utcnow()
    replaced = []
    for old in session.scalars(
        select(Grant).where(
            Grant.asset_id == asset.id, Grant.project_id == project.id, Grant.revoked_at.is_(None)
        )
    ):
        old.revoked_at, old.revoked_by = now, principal.user_id
        replaced.append(old.id)
    session.flush()
    grant = Grant(
        asset_id=asset.id,
        project_id=project.id,
        request_item_id=request_item_id,
        row_filter_id=row_filter_id,
        column_filter_id=column_filter_id,
        created_by=principal.user_id,
    )
    session.add(grant)
    session.flush()
    return grant, replaced


class GrantService:
    """List, revoke and unsubscribe grants."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _sides(session: Session, grant: Grant) -> tuple[Asset, Project]:
        asset = session.get(Asset, grant.asset_id)
        project = session.get(Project, grant.project_id)
        assert asset is not None and project is not None
        return asset, project

    @staticmethod
    def _visible(session: Session, principal: Principal, asset: Asset, project: Project) -> bool:
        return allowed(principal, Action.PROJECT_READ, asset.project, session=session) or allowed(
            principal, Action.PROJECT_READ, project, session=session
        )

    def list_grants(
        self,
        principal: Principal,
        *,
        project: str | None = None,
        asset: str | None = None,
        include_revoked: bool = False,
    ) -> list[GrantView]:
        """Grants on the principal's projects' assets and to its projects, newest first.

        ``project`` keeps grants to that subscribing project or on its assets; ``asset``
        (``project.table``) keeps grants on that asset.
        """
        query = select(Grant).order_by(Grant.created_at.desc())
        if not include_revoked:
            query = query.where(Grant.revoked_at.is_(None))
        with self.store.session() as session:
            views = []
            for grant in session.scalars(query):
                owner_asset, grantee = self._sides(session, grant)
                qualified = f"{owner_asset.project.name}.{owner_asset.name}"
                if asset is not None and qualified != asset:
                    continue
                if project is not None and project not in (
                    grantee.name,
                    owner_asset.project.name,
                ):
                    continue
                if self._visible(session, principal, owner_asset, grantee):
                    views.append(GrantView.of(session, grant))
            return views

    def get_grant(self, principal: Principal, grant_id: str) -> GrantView:
        with self.store.session() as session:
            grant = session.get(Grant, grant_id)
            if grant is None or not self._visible(session, principal, *self._sides(session, grant)):
                raise NotFound(f"grant '{grant_id}' not found")
            return GrantView.of(session, grant)

    def revoke(self, principal: Principal, grant_id: str) -> GrantView:
        """End a grant (owners of the asset's project)."""
        return self._end(principal, grant_id, "grant.revoke", by_subscriber=False)

    def unsubscribe(self, principal: Principal, grant_id: str) -> GrantView:
        """End a grant (owners of the subscribing project)."""
        return self._end(principal, grant_id, "grant.unsubscribe", by_subscriber=True)

    def change_filters(
        self,
        principal: Principal,
        grant_id: str,
        *,
        row_filter: str | Keep | None = KEEP,
        column_filter: str | Keep | None = KEEP,
    ) -> GrantView:
        """Change an active grant's filters in place (owners of the asset's project): a filter
        of the asset by name, ``None`` to remove it, :data:`KEEP` to leave it. The grant keeps
        its id; the next statement reads through the new filters. Serialised with approvals,
        revocations and filter edits of the asset (the asset's row, then the grant's)."""
        with governed(
            self.store,
            principal,
            Action.GRANT_CHANGE_FILTERS,
            details={"grant": grant_id},
            decision=f"grant '{grant_id}' was changed concurrently",
        ) as command:
            session = command.session
            hidden = NotFound(f"grant '{grant_id}' not found")
            asset_id = session.scalar(select(Grant.asset_id).where(Grant.id == grant_id))
            if asset_id is None:
                raise hidden
            lock_assets(session, [asset_id])
            grant = session.get(Grant, grant_id, with_for_update=True, populate_existing=True)
            if grant is None:
                raise hidden
            asset, grantee = self._sides(session, grant)
            if not self._visible(session, principal, asset, grantee):
                raise hidden
            command.authorize(Action.GRANT_CHANGE_FILTERS, asset.project)
            command.project = asset.project.name
            command.assets = [f"{asset.project.name}.{asset.name}"]
            command.details.update(subscriber=grantee.name)
            if grant.revoked_at is not None:
                raise Conflict(f"grant '{grant_id}' is revoked; approve a new request instead")
            before = _filter_names(session, grant)
            if not isinstance(row_filter, Keep):
                row = _chosen(session, asset, row_filter, "row")
                grant.row_filter_id = row.id if row else None
            if not isinstance(column_filter, Keep):
                col = _chosen(session, asset, column_filter, "column")
                grant.column_filter_id = col.id if col else None
            session.flush()
            command.details.update(before=before, after=_filter_names(session, grant))
            payload = grant_payload(session, grant, "change_filters", principal)
            emit(session, SUBSCRIPTION_FILTERS_CHANGED, {**payload, "before": before})
            return GrantView.of(session, grant)

    def _end(
        self, principal: Principal, grant_id: str, action: str, *, by_subscriber: bool
    ) -> GrantView:
        with governed(
            self.store,
            principal,
            action,
            details={"grant": grant_id},
            decision=f"grant '{grant_id}' was changed concurrently",
        ) as command:
            session = command.session
            grant = session.get(Grant, grant_id, with_for_update=True)
            if grant is None:
                raise NotFound(f"grant '{grant_id}' not found")
            asset, grantee = self._sides(session, grant)
            if not self._visible(session, principal, asset, grantee):
                raise NotFound(f"grant '{grant_id}' not found")
            deciding = grantee if by_subscriber else asset.project
            command.authorize(
                Action.GRANT_UNSUBSCRIBE if by_subscriber else Action.GRANT_REVOKE, deciding
            )
            if grant.revoked_at is not None:
                raise Conflict(f"grant '{grant_id}' is already revoked")
            grant.revoked_at, grant.revoked_by = utcnow(), principal.user_id
            session.flush()
            command.project = deciding.name
            command.assets = [f"{asset.project.name}.{asset.name}"]
            command.details.update(subscriber=grantee.name)
            ended = "unsubscribe" if by_subscriber else "revoke"
            emit(session, "subscription.revoked", grant_payload(session, grant, ended, principal))
            return GrantView.of(session, grant)


def _filter_names(session: Session, grant: Grant) -> dict[str, str | None]:
    """The names of a grant's filters, for the audit record."""
    names: dict[str, str | None] = {}
    for key, filter_id in (
        ("row_filter", grant.row_filter_id),
        ("column_filter", grant.column_filter_id),
    ):
        found = session.get(AssetFilter, filter_id) if filter_id else None
        names[key] = found.name if found else None
    return names


def _chosen(
    session: Session, asset: Asset, name: str | None, kind: Literal["row", "column"]
) -> AssetFilter | None:
    """The ``kind`` filter of ``asset`` named ``name`` (or its id); None for None; Invalid
    naming ``row_filter``/``column_filter`` for an unknown filter or one of the other kind."""
    if name is None:
        return None
    field_name = f"{kind}_filter"
    if not isinstance(name, str) or not name.strip():
        raise Invalid(f"{field_name} is the name of a {kind} filter, or null", field=field_name)
    found = session.scalar(
        select(AssetFilter).where(
            AssetFilter.asset_id == asset.id, or_(AssetFilter.name == name, AssetFilter.id == name)
        )
    )
    qualified = f"{asset.project.name}.{asset.name}"
    if found is None:
        raise Invalid(f"filter '{name}' of {qualified} not found", field=field_name)
    if found.kind != kind:
        raise Invalid(f"filter '{name}' is a {found.kind} filter", field=field_name)
    return found
