"""The tables a principal may read, acting in a project, with the columns it may see: what a
catalog client is shown (the Flight SQL endpoint's GetDbSchemas and GetTables, ADR 0038).

The rule is the statement's access decision (:mod:`lakehold.kernel.access`), read for a
listing: every table of the projects the principal is a member of (administrators: every
project), with all of its columns; and, when it acts in a project it is a member of, every
table that project holds an active grant on, with the grant's columns (its column filter; the
row filter changes rows, not the listing). Nothing else is listed: a statement on it would be
"not found". Membership comes from :func:`lakehold.catalog.search.visibility.visibility` and
the acting project from :func:`lakehold.catalog.service.readable_project` (the kernel's
``project.read``), as everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lakehold.catalog.search.visibility import visibility
from lakehold.catalog.service import readable_project
from lakehold.query.declared_types import arrow_type
from lakehold.query.identifiers import fold
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import Asset, AssetColumn, AssetFilter, Grant, Project


@dataclass(frozen=True)
class ReadableColumn:
    """A column as a statement returns it."""

    name: str
    data_type: str
    """Its DuckDB type name, as the catalog keeps it."""
    arrow_type: pa.DataType
    nullable: bool
    description: str | None


@dataclass(frozen=True)
class ReadableTable:
    project: str
    name: str
    asset_type: str
    description: str | None
    columns: tuple[ReadableColumn, ...]
    """The columns the principal sees, in the table's order."""
    granted: bool
    """Read through a grant of the acting project (its filters apply)."""

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of ``select *`` on it."""
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns]
        )


def _columns(columns: list[AssetColumn], granted: list[str] | None) -> tuple[ReadableColumn, ...]:
    """The asset's columns, or those of a column filter (folded as the engine folds them)."""
    keep = None if granted is None else {fold(name) for name in granted}
    return tuple(
        ReadableColumn(c.name, c.data_type, arrow_type(c.data_type), c.nullable, c.description)
        for c in columns
        if keep is None or fold(c.name) in keep
    )


def _table(asset: Asset, granted: list[str] | None, via_grant: bool) -> ReadableTable:
    return ReadableTable(
        project=asset.project.name,
        name=asset.name,
        asset_type=asset.asset_type,
        description=asset.description,
        columns=_columns(list(asset.columns), granted),
        granted=via_grant,
    )


class ReadableTables:
    """Lists what a principal may read."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list_tables(self, principal: Principal, project: str | None = None) -> list[ReadableTable]:
        """The tables ``principal`` may read acting in ``project`` (None: in none), ordered by
        project and name; NotFound (field ``project``) when it is not a member of ``project``."""
        loaded = (selectinload(Asset.columns), selectinload(Asset.project))
        with self.store.reads() as session:
            members = visibility(session, principal).projects
            query = select(Asset).options(*loaded)
            if members is not None:
                query = query.where(Asset.project_id.in_(members))
            tables = {asset.id: _table(asset, None, False) for asset in session.scalars(query)}
            if project is not None:
                acting = readable_project(session, principal, project)
                grants = session.execute(
                    select(Asset, AssetFilter.columns)
                    .join(Grant, Grant.asset_id == Asset.id)
                    .outerjoin(AssetFilter, AssetFilter.id == Grant.column_filter_id)
                    .where(Grant.project_id == acting.id, Grant.revoked_at.is_(None))
                    .options(*loaded)
                )
                for asset, granted in grants:
                    if asset.id not in tables:  # a member reads all of it anyway
                        columns = list(granted) if granted is not None else None
                        tables[asset.id] = _table(asset, columns, True)
        return sorted(tables.values(), key=lambda t: (t.project, t.name))

    def list_projects(self, principal: Principal, project: str | None = None) -> list[str]:
        """The projects whose tables :meth:`list_tables` may show, sorted: every project the
        principal is a member of (with tables or not), and those of the tables granted to
        ``project``."""
        with self.store.reads() as session:
            members = visibility(session, principal).projects
            query = select(Project.name)
            if members is not None:
                query = query.where(Project.id.in_(members))
            names = set(session.scalars(query))
        if project is not None:
            names |= {table.project for table in self.list_tables(principal, project)}
        return sorted(names)
