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

from collections.abc import Sequence
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


def resolve_access(
    session: Session,
    principal: Principal,
    names: Sequence[tuple[str, str]],
    acting: Project | None,
) -> list[Access]:
    """Decide what ``principal``, acting in ``acting`` (a project it is a member of, or None),
    may read of each ``(project, table)``, in order; :class:`Hidden` at the first it may not.

    Everything the decisions need is read up front in a few queries, whatever the number of
    references: projects, assets, one role per project, the acting project's grants, filters.
    """
    project_names = {project for project, _ in names}
    projects = {
        p.name: p for p in session.scalars(select(Project).where(Project.name.in_(project_names)))
    }
    assets: dict[tuple[str, str], Asset] = {}
    if projects:
        query = select(Asset).where(
            Asset.project_id.in_([p.id for p in projects.values()]),
            Asset.name.in_({table for _, table in names}),
        )
        assets = {(a.project_id, a.name): a for a in session.scalars(query)}
    members = {
        p.id for p in projects.values() if policy.project_role(session, principal, p) is not None
    }
    granted = [a.id for a in assets.values() if a.project_id not in members]
    grants: dict[str, Grant] = {}
    if acting is not None and granted:
        query = (
            select(Grant)
            .where(
                Grant.project_id == acting.id,
                Grant.asset_id.in_(granted),
                Grant.revoked_at.is_(None),
            )
            .order_by(Grant.created_at.desc())
        )
        for grant in session.scalars(query):
            grants.setdefault(grant.asset_id, grant)  # the newest active grant
    filter_ids = {
        i for g in grants.values() for i in (g.row_filter_id, g.column_filter_id) if i is not None
    }
    filters: dict[str, AssetFilter] = {}
    if filter_ids:
        query = select(AssetFilter).where(AssetFilter.id.in_(filter_ids))
        filters = {f.id: f for f in session.scalars(query)}
    return [
        _decide(project, table, projects, assets, members, grants, filters, acting)
        for project, table in names
    ]


def _decide(
    project: str,
    table: str,
    projects: dict[str, Project],
    assets: dict[tuple[str, str], Asset],
    members: set[str],
    grants: dict[str, Grant],
    filters: dict[str, AssetFilter],
    acting: Project | None,
) -> Access:
    found = projects.get(project)
    if found is None:
        raise Hidden(project, table, "no such project")
    asset = assets.get((found.id, table))
    if asset is None:
        raise Hidden(project, table, "no such table")
    if found.id in members:
        return Access(asset)
    if acting is None:
        raise Hidden(project, table, "not a member of the table's project; no acting project")
    grant = grants.get(asset.id)
    if grant is None:
        raise Hidden(project, table, f"no active grant to project '{acting.name}'")
    row_filter = filters.get(grant.row_filter_id) if grant.row_filter_id else None
    column_filter = filters.get(grant.column_filter_id) if grant.column_filter_id else None
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
