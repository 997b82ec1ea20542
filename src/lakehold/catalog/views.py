"""Read models the catalog returns to adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import object_session

from lakehold.catalog.units import unit_path
from lakehold.store.models import Asset, Domain, DomainUnit, Project


@dataclass(frozen=True)
class DomainView:
    id: str
    name: str
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, domain: Domain) -> DomainView:
        return cls(domain.id, domain.name, domain.description, domain.created_at)


@dataclass(frozen=True)
class ProjectView:
    id: str
    name: str
    domain: str
    description: str | None
    owner: str
    created_at: datetime
    domain_unit: str | None = None
    domain_unit_id: str | None = None

    @classmethod
    def of(cls, project: Project) -> ProjectView:
        session = object_session(project)
        unit = (
            session.get(DomainUnit, project.domain_unit_id)
            if session is not None and project.domain_unit_id
            else None
        )
        return cls(
            project.id,
            project.name,
            project.domain.name,
            project.description,
            project.owner.username,
            project.created_at,
            unit_path(session, unit) if session is not None and unit is not None else None,
            project.domain_unit_id,
        )


PrincipalKind = Literal["user", "group"]


@dataclass(frozen=True)
class OwnerView:
    """An owner of a domain unit: a user or a group."""

    kind: PrincipalKind
    name: str


@dataclass(frozen=True)
class DomainUnitView:
    id: str
    domain: str
    name: str
    path: str
    parent_id: str | None
    depth: int
    description: str | None
    owners: list[OwnerView]
    created_at: datetime


@dataclass(frozen=True)
class GroupView:
    id: str
    name: str
    description: str | None
    members: list[str]
    created_at: datetime


@dataclass(frozen=True)
class MemberView:
    """A project member: a user or a group, with a role (owner, contributor, viewer)."""

    kind: PrincipalKind
    name: str
    role: str
    created_at: datetime


@dataclass(frozen=True)
class ColumnView:
    name: str
    data_type: str
    nullable: bool
    ordinal: int
    description: str | None = None


@dataclass(frozen=True)
class AssetView:
    id: str
    project: str
    name: str
    qualified_name: str
    asset_type: str
    description: str | None
    tags: list[str]
    key_columns: list[str]
    row_count: int
    size_bytes: int
    current_version: int
    created_at: datetime
    updated_at: datetime
    columns: list[ColumnView] = field(default_factory=list)

    @classmethod
    def of(cls, asset: Asset) -> AssetView:
        return cls(
            id=asset.id,
            project=asset.project.name,
            name=asset.name,
            qualified_name=f"{asset.project.name}.{asset.name}",
            asset_type=asset.asset_type,
            description=asset.description,
            tags=list(asset.tags or []),
            key_columns=list(asset.key_columns or []),
            row_count=asset.row_count,
            size_bytes=asset.size_bytes,
            current_version=asset.current_version,
            created_at=asset.created_at,
            updated_at=asset.updated_at,
            columns=[
                ColumnView(c.name, c.data_type, c.nullable, c.ordinal, c.description)
                for c in asset.columns
            ],
        )
