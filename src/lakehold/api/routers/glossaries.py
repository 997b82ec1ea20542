"""Business glossaries of a domain and their terms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.glossaries import GlossaryTermView, GlossaryView

router = APIRouter(prefix="/api/v1", tags=["glossaries"])


class GlossaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, description="The domain the glossary belongs to")
    name: str = Field(min_length=1, max_length=100, description="Unique within the domain")
    unit: str | None = Field(
        default=None,
        description="Owning domain unit (id, or path below the domain's root such as "
        "Marketing); default: the root unit. Needs create_glossary on it.",
    )
    description: str | None = None


class TermIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Unique within the glossary")
    description: str | None = None


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None, min_length=1, max_length=100, description="New name; omitted: unchanged"
    )
    description: str | None = Field(
        default=None, description='New description ("" clears it); omitted: unchanged'
    )


@router.post("/glossaries", response_model=GlossaryView, status_code=status.HTTP_201_CREATED)
def create_glossary(body: GlossaryIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a glossary (unit owners, or members of a project with create_glossary)."""
    return runtime.glossaries.create_glossary(
        principal, body.domain, body.name, unit=body.unit, description=body.description
    )


@router.get("/glossaries", response_model=list[GlossaryView])
def list_glossaries(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    domain: Annotated[str, Query(min_length=1, description="The domain whose glossaries to list")],
):
    """A domain's glossaries with their terms."""
    return runtime.glossaries.list_glossaries(principal, domain)


@router.get("/glossaries/{glossary}", response_model=GlossaryView)
def get_glossary(glossary: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One glossary, by id, with its terms."""
    return runtime.glossaries.get_glossary(principal, glossary)


@router.patch("/glossaries/{glossary}", response_model=GlossaryView)
def update_glossary(glossary: str, body: Change, runtime: RuntimeDep, principal: PrincipalDep):
    """Rename a glossary or change its description (as for creating one)."""
    return runtime.glossaries.update_glossary(
        principal, glossary, name=body.name, description=body.description
    )


@router.delete("/glossaries/{glossary}", status_code=status.HTTP_204_NO_CONTENT)
def delete_glossary(
    glossary: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    force: Annotated[bool, Query(description="Also delete its terms and their links")] = False,
) -> None:
    """Delete a glossary; 409 naming how many terms it has (unless force) or the metadata
    forms using it."""
    runtime.glossaries.delete_glossary(principal, glossary, force=force)


@router.post(
    "/glossaries/{glossary}/terms",
    response_model=GlossaryTermView,
    status_code=status.HTTP_201_CREATED,
)
def create_term(glossary: str, body: TermIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Add a term (unit owners, or members of a project with create_glossary_term)."""
    return runtime.glossaries.create_term(
        principal, glossary, body.name, description=body.description
    )


@router.get("/glossaries/{glossary}/terms", response_model=list[GlossaryTermView])
def list_terms(glossary: str, runtime: RuntimeDep, principal: PrincipalDep):
    """A glossary's terms by name."""
    return runtime.glossaries.list_terms(principal, glossary)


@router.patch("/glossaries/{glossary}/terms/{term}", response_model=GlossaryTermView)
def update_term(
    glossary: str, term: str, body: Change, runtime: RuntimeDep, principal: PrincipalDep
):
    """Rename a term (by id or name) or change its description; assets with it are reindexed."""
    return runtime.glossaries.update_term(
        principal, glossary, term, name=body.name, description=body.description
    )


@router.delete("/glossaries/{glossary}/terms/{term}", status_code=status.HTTP_204_NO_CONTENT)
def delete_term(glossary: str, term: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Delete a term and its links to assets and columns (listings keep their snapshot)."""
    runtime.glossaries.delete_term(principal, glossary, term)
