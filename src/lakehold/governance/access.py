"""The access decision for one table reference of a statement.

A principal acting in a project reads a table when

(a) it is a member (viewer or above) of the table's project: every column and row; or
(b) the statement acts in a project the principal is a member of, and that project holds an
    active grant on the table's asset: the grant's column filter and row filter apply.

Anything else -- no such project, no such table, no membership, no grant, a revoked grant --
is :class:`Hidden`, a NotFound whose message is exactly the one of a missing table. The real
reason is kept on the error (``audit_reason``) for the audit log only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import NotFound
from lakehold.governance import policy
from lakehold.security.principal import Principal
from lakehold.store.models import Asset, AssetFilter, Grant, Project


class Hidden(NotFound):
    """A table the principal may not read, reported exactly like a missing one."""

    def __init__(self, project: str, table: str, audit_reason: str) -> None:
        super().__init__(f"table '{project}.{table}' not found")
        self.audit_reason = audit_reason


@dataclass(frozen=True)
class Access:
    """What a table reference may see: all of it, or what a grant exposes."""

    asset: Asset
    columns: list[str] | None = None
    row_filter: str | None = None
    grant_id: str | None = None
    row_filter_name: str | None = None
    column_filter_name: str | None = None

    @property
    def filtered(self) -> bool:
        return self.columns is not None or self.row_filter is not None


def active_grant(session: Session, asset_id: str, project_id: str) -> Grant | None:
    """The active grant of ``asset_id`` to project ``project_id``, if any."""
    return session.scalar(
        select(Grant)
        .where(
            Grant.asset_id == asset_id,
            Grant.project_id == project_id,
            Grant.revoked_at.is_(None),
        )
        .order_by(Grant.created_at.desc())
    )


def table_access(
    session: Session,
    principal: Principal,
    project: str,
    table: str,
    acting: Project | None,
) -> Access:
    """Decide what ``principal``, acting in ``acting`` (a project it is a member of, or None),
    may read of ``project.table``; :class:`Hidden` when nothing."""
    found = session.scalar(select(Project).where(Project.name == project))
    if found is None:
        raise Hidden(project, table, "no such project")
    asset = session.scalar(select(Asset).where(Asset.project_id == found.id, Asset.name == table))
    if asset is None:
        raise Hidden(project, table, "no such table")
    if policy.project_role(session, principal, found) is not None:
        return Access(asset)
    if acting is None:
        raise Hidden(project, table, "not a member of the table's project; no acting project")
    grant = active_grant(session, asset.id, acting.id)
    if grant is None:
        raise Hidden(project, table, f"no active grant to project '{acting.name}'")
    row_filter = column_filter = None
    if grant.row_filter_id:
        row_filter = session.get(AssetFilter, grant.row_filter_id)
    if grant.column_filter_id:
        column_filter = session.get(AssetFilter, grant.column_filter_id)
    if (grant.row_filter_id and row_filter is None) or (
        grant.column_filter_id and column_filter is None
    ):  # pragma: no cover - filters in use cannot be deleted
        raise Hidden(project, table, "a filter of the grant is missing")
    return Access(
        asset,
        columns=list(column_filter.columns or []) if column_filter else None,
        row_filter=row_filter.expression if row_filter else None,
        grant_id=grant.id,
        row_filter_name=row_filter.name if row_filter else None,
        column_filter_name=column_filter.name if column_filter else None,
    )
