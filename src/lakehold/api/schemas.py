"""Response and request bodies shared by several routers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ColumnOut(Model):
    name: str
    data_type: str
    nullable: bool
    ordinal: int
    description: str | None = None


class AssetOut(Model):
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
    columns: list[ColumnOut]
