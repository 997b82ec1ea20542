"""The access decision for the table references of a statement.

A principal acting in a project reads a table when

(a) it is a member (viewer or above) of the table's project: every column and row; or
(b) the statement acts in a project the principal is a member of, and that project holds an
    active grant on the table's asset: the grant's column filter and row filter apply.

Anything else -- no such project, no such table, no membership, no grant, a revoked grant --
is :class:`Hidden`, a NotFound whose message is exactly the one of a missing table. The real
reason is kept on the error (``audit_reason``) for the audit log only.

Every statement pays for this decision, so it reads everything in three queries run on the
database driver, whatever the number of references: the projects named (with the acting project
and a CTAS target), the principal's roles in them, and the assets with the acting project's
active grant and its filters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lakehold.errors import LakeholdError, NotFound
from lakehold.kernel import roles
from lakehold.observability import instruments
from lakehold.security.principal import Principal
from lakehold.store import driver

STATEMENT_DECISION = "statement"
"""The action a statement's access decision is counted under (``lakehold_decisions_total``),
as its audit events are named."""


class Hidden(NotFound):
    """A table the principal may not read, reported exactly like a missing one."""

    def __init__(self, project: str, table: str, audit_reason: str) -> None:
        super().__init__(f"table '{project}.{table}' not found")
        self.audit_reason = audit_reason


@dataclass(frozen=True, slots=True)
class ProjectRole:
    """A project and the principal's role in it (None: not a member)."""

    id: str
    name: str
    role: roles.Role | None

    def at_least(self, minimum: roles.Role) -> bool:
        """Whether the principal holds ``minimum`` or a stronger role in the project."""
        return self.role is not None and roles.ROLES.index(self.role) >= roles.ROLES.index(minimum)


@dataclass(frozen=True, slots=True)
class SourceObject:
    """Where a federated table lives: a connection and the object in it."""

    connection_id: str
    schema: str
    table: str
    status: str


@dataclass(frozen=True, slots=True)
class TableAsset:
    """What binding a table reference needs of its asset."""

    id: str
    project_id: str
    name: str
    asset_type: str
    storage_path: str
    current_version: int
    source: SourceObject | None = None


@dataclass(frozen=True)
class Access:
    """What a table reference may see: all of it, or what a grant exposes."""

    asset: TableAsset
    columns: list[str] | None = None
    row_filter: str | None = None
    grant_id: str | None = None
    row_filter_name: str | None = None
    column_filter_name: str | None = None

    @property
    def filtered(self) -> bool:
        return self.columns is not None or self.row_filter is not None


@dataclass(frozen=True)
class Decision:
    """The projects a statement names (by name, with roles) and what each reference reads."""

    projects: dict[str, ProjectRole]
    accesses: list[Access]

    def project(self, name: str | None) -> ProjectRole | None:
        return self.projects.get(name) if name is not None else None


def acting_project(decision: Decision, name: str | None) -> ProjectRole | None:
    """The project a statement acts in: one the principal is a member of (else NotFound)."""
    if name is None:
        return None
    found = decision.project(name)
    if found is None or found.role is None:
        raise NotFound(f"project '{name}' not found", field="project")
    return found


def resolve_access(
    session: Session,
    principal: Principal,
    names: Sequence[tuple[str, str]],
    acting: str | None,
    *,
    also: Sequence[str] = (),
) -> Decision:
    """Decide what ``principal``, acting in project ``acting`` (or None), may read of each
    ``(project, table)``, in order; :class:`Hidden` at the first it may not. The projects in
    ``also`` (e.g. a CTAS target) are looked up with their roles too.

    Raises NotFound (field ``project``) first when ``acting`` is not a project the principal
    is a member of.
    """
    try:
        decision = _resolve(session, principal, names, acting, also)
    except LakeholdError:
        instruments.decision(STATEMENT_DECISION, False)
        raise
    instruments.decision(STATEMENT_DECISION, True)
    return decision


def _resolve(
    session: Session,
    principal: Principal,
    names: Sequence[tuple[str, str]],
    acting: str | None,
    also: Sequence[str],
) -> Decision:
    wanted = {project for project, _ in names} | set(also)
    if acting is not None:
        wanted.add(acting)
    projects = {
        name: ProjectRole(pid, name, role)
        for name, (pid, role) in roles.named_project_roles(session, principal, wanted).items()
    }
    decision = Decision(projects, [])
    acting_role = acting_project(decision, acting)
    found = _assets(session, names, projects, acting_role)
    decision.accesses.extend(
        _decide(project, table, projects, found, acting_role) for project, table in names
    )
    return decision


@dataclass(frozen=True, slots=True)
class _Found:
    asset: TableAsset
    grant_id: str | None
    row_filter: tuple[str, str] | None  # (name, expression)
    column_filter: tuple[str, list[str]] | None  # (name, columns)
    filter_missing: bool = False  # a filter of the grant was not found: refuse


_ASSET_FIELDS = (
    "a.id",
    "a.project_id",
    "a.name",
    "a.asset_type",
    "a.storage_path",
    "a.current_version",
    "f.connection_id",
    "f.source_schema",
    "f.source_table",
    "f.status",
)
_ASSET_COLUMNS = ", ".join(_ASSET_FIELDS)
_ASSET_WIDTH = len(_ASSET_FIELDS)
_GRANT_COLUMNS = (
    "g.id, g.row_filter_id, g.column_filter_id, rf.name, rf.expression, cf.name, cf.columns"
)
_GRANT_JOINS = (
    "LEFT JOIN grants g ON g.asset_id = a.id AND g.project_id = ? AND g.revoked_at IS NULL "
    "LEFT JOIN asset_filters rf ON rf.id = g.row_filter_id "
    "LEFT JOIN asset_filters cf ON cf.id = g.column_filter_id"
)


def _assets(
    session: Session,
    names: Sequence[tuple[str, str]],
    projects: dict[str, ProjectRole],
    acting: ProjectRole | None,
) -> dict[tuple[str, str], _Found]:
    """The assets named, each with the newest active grant to ``acting`` and its filters.

    Run on the driver (:mod:`lakehold.store.driver`): building and compiling this statement
    with SQLAlchemy cost more than running it, on every governed statement."""
    project_ids = {projects[p].id for p, _ in names if p in projects}
    if not project_ids:
        return {}
    where = (
        f"WHERE {driver.member_of(session, 'a.project_id')} "
        f"AND {driver.member_of(session, 'a.name')}"
    )
    named = [driver.values(session, project_ids), driver.values(session, {t for _, t in names})]
    federated = "LEFT JOIN federated_tables f ON f.asset_id = a.id"
    if acting is None:
        sql = f"SELECT {_ASSET_COLUMNS} FROM assets a {federated} {where}"
        rows = driver.fetch(session, sql, named)
    else:
        # The newest active grant comes last and wins.
        sql = (
            f"SELECT {_ASSET_COLUMNS}, {_GRANT_COLUMNS} FROM assets a {federated} "
            f"{_GRANT_JOINS} {where} ORDER BY g.created_at"
        )
        rows = driver.fetch(session, sql, [acting.id, *named])
    found: dict[tuple[str, str], _Found] = {}
    for row in rows:
        asset_id, project_id, name, asset_type, storage_path, version = row[:6]
        asset = TableAsset(
            asset_id,
            project_id,
            name,
            asset_type,
            storage_path,
            version,
            source=SourceObject(*row[6:10]) if row[6] is not None else None,
        )
        grant_id, row_id, column_id, row_name, expression, column_name, granted = (
            row[_ASSET_WIDTH:] if acting is not None else (None,) * 7
        )
        if isinstance(granted, str):  # SQLite returns JSON as text
            granted = json.loads(granted)
        found[(asset.project_id, asset.name)] = _Found(
            asset,
            grant_id,
            (row_name, expression) if row_name is not None else None,
            (column_name, list(granted or [])) if column_name is not None else None,
            filter_missing=(row_id is not None and row_name is None)
            or (column_id is not None and column_name is None),
        )
    return found


def _decide(
    project: str,
    table: str,
    projects: dict[str, ProjectRole],
    found: dict[tuple[str, str], _Found],
    acting: ProjectRole | None,
) -> Access:
    owner = projects.get(project)
    if owner is None:
        raise Hidden(project, table, "no such project")
    hit = found.get((owner.id, table))
    if hit is None:
        raise Hidden(project, table, "no such table")
    if owner.role is not None:
        return Access(hit.asset)
    if acting is None:
        raise Hidden(project, table, "not a member of the table's project; no acting project")
    if hit.grant_id is None:
        raise Hidden(project, table, f"no active grant to project '{acting.name}'")
    if hit.filter_missing:  # pragma: no cover - filters in use cannot be deleted
        raise Hidden(project, table, "a filter of the grant is missing")
    return Access(
        hit.asset,
        columns=hit.column_filter[1] if hit.column_filter else None,
        row_filter=hit.row_filter[1] if hit.row_filter else None,
        grant_id=hit.grant_id,
        row_filter_name=hit.row_filter[0] if hit.row_filter else None,
        column_filter_name=hit.column_filter[0] if hit.column_filter else None,
    )
