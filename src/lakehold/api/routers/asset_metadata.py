"""Business metadata on assets: glossary terms on assets and columns, column tags."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.glossaries import AssetMetadataView

router = APIRouter(prefix="/api/v1/projects/{project}/assets/{asset}", tags=["assets"])


class TermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: list[str] = Field(description="Term ids or Glossary/Term names; replaces the terms")


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(description="Classification tags; replaces the column's tags")


@router.get("/metadata", response_model=AssetMetadataView)
def get_metadata(project: str, asset: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Glossary terms on the asset, and tags and terms on its columns (project members)."""
    return runtime.glossaries.asset_metadata(principal, project, asset)


@router.put("/terms", response_model=AssetMetadataView)
def set_asset_terms(
    project: str, asset: str, body: TermsIn, runtime: RuntimeDep, principal: PrincipalDep
):
    """Replace the glossary terms on the asset (contributors and owners)."""
    return runtime.glossaries.set_asset_terms(principal, project, asset, body.terms)


@router.put("/columns/{column}/terms", response_model=AssetMetadataView)
def set_column_terms(
    project: str,
    asset: str,
    column: str,
    body: TermsIn,
    runtime: RuntimeDep,
    principal: PrincipalDep,
):
    """Replace the glossary terms on a column (contributors and owners)."""
    return runtime.glossaries.set_column_terms(principal, project, asset, column, body.terms)


@router.put("/columns/{column}/tags", response_model=AssetMetadataView)
def set_column_tags(
    project: str,
    asset: str,
    column: str,
    body: TagsIn,
    runtime: RuntimeDep,
    principal: PrincipalDep,
):
    """Replace the classification tags of a column (contributors and owners)."""
    return runtime.glossaries.set_column_tags(principal, project, asset, column, body.tags)
