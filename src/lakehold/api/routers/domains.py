"""Domains."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.views import DomainView

router = APIRouter(prefix="/api/v1/domains", tags=["domains"])


class DomainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str | None = None


@router.post("", response_model=DomainView, status_code=status.HTTP_201_CREATED)
def create_domain(body: DomainIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a domain (administrators)."""
    return runtime.catalog.create_domain(principal, body.name, body.description)


@router.get("", response_model=list[DomainView])
def list_domains(runtime: RuntimeDep, principal: PrincipalDep):
    """Every domain."""
    return runtime.catalog.list_domains(principal)
