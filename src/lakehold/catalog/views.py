"""Read models the catalog returns to adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lakehold.store.models import Asset, Domain, Project


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

    @classmethod
    def of(cls, project: Project) -> ProjectView:
        return cls(
            project.id,
            project.name,
            project.domain.name,
            project.description,
            project.owner.username,
            project.created_at,
        )


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
