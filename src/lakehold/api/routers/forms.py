"""Metadata forms (versioned, typed fields) and their values on assets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.forms import FormValuesView, FormView

router = APIRouter(prefix="/api/v1", tags=["metadata forms"])


class FieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique within the form, e.g. Model Year")
    type: Literal["text", "number", "date", "boolean", "one_of", "glossary_term"]
    required: bool = False
    searchable: bool = Field(default=False, description="Indexed for search when published")
    description: str | None = None
    allowed_values: list[str] | None = Field(default=None, description="one_of fields")
    glossary: str | None = Field(
        default=None, description="glossary_term fields: a glossary of the domain (id or name)"
    )


class FormIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=100, description="Unique within the domain")
    unit: str | None = Field(
        default=None,
        description="Owning domain unit (id, or path below the root such as Marketing); "
        "default: the root unit. Needs create_form on it.",
    )
    description: str | None = None
    fields: list[FieldIn] = Field(min_length=1)


class FormChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: list[FieldIn] = Field(min_length=1, description="The fields of the next version")
    description: str | None = None


class ValuesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(description='Field name to value, e.g. {"Region": "EMEA"}')


def _fields(fields: list[FieldIn]) -> list[dict[str, Any]]:
    return [f.model_dump(exclude_none=True) for f in fields]


@router.post("/metadata-forms", response_model=FormView, status_code=status.HTTP_201_CREATED)
def create_form(body: FormIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a metadata form, version 1 (unit owners, or members of a project with
    create_form on the unit)."""
    return runtime.forms.create_form(
        principal,
        body.domain,
        body.name,
        _fields(body.fields),
        unit=body.unit,
        description=body.description,
    )


@router.get("/metadata-forms", response_model=list[FormView])
def list_forms(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    domain: Annotated[str, Query(min_length=1, description="The domain whose forms to list")],
):
    """A domain's metadata forms at their current versions."""
    return runtime.forms.list_forms(principal, domain)


@router.get("/metadata-forms/{form}", response_model=FormView)
def get_form(
    form: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    domain: Annotated[str | None, Query(description="Find the form by name in this domain")] = None,
    version: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Default: the current version")
    ] = None,
):
    """One metadata form (by id, or by name with domain), at a version."""
    return runtime.forms.get_form(principal, form, domain=domain, version=version)


@router.put("/metadata-forms/{form}", response_model=FormView)
def update_form(form: str, body: FormChange, runtime: RuntimeDep, principal: PrincipalDep):
    """Replace the form's fields, creating its next version."""
    return runtime.forms.update_form(
        principal, form, _fields(body.fields), description=body.description
    )


@router.delete("/metadata-forms/{form}", status_code=status.HTTP_204_NO_CONTENT)
def delete_form(
    form: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    domain: Annotated[str | None, Query(description="Find the form by name in this domain")] = None,
) -> None:
    """Delete a form with its versions; 409 naming the rules requiring it and the assets
    holding values of it."""
    runtime.forms.delete_form(principal, form, domain=domain)


@router.get("/projects/{project}/assets/{asset}/forms", response_model=list[FormValuesView])
def list_values(project: str, asset: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The metadata forms filled in on an asset (project members)."""
    return runtime.forms.list_values(principal, project, asset)


@router.get("/projects/{project}/assets/{asset}/forms/{form}", response_model=FormValuesView)
def get_values(project: str, asset: str, form: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One form's values on an asset."""
    return runtime.forms.get_values(principal, project, asset, form)


@router.put("/projects/{project}/assets/{asset}/forms/{form}", response_model=FormValuesView)
def set_values(
    project: str,
    asset: str,
    form: str,
    body: ValuesIn,
    runtime: RuntimeDep,
    principal: PrincipalDep,
):
    """Set a form's values on an asset (contributors and owners); 400 lists every problem."""
    return runtime.forms.set_values(principal, project, asset, form, body.values)


@router.delete(
    "/projects/{project}/assets/{asset}/forms/{form}", status_code=status.HTTP_204_NO_CONTENT
)
def remove_values(
    project: str, asset: str, form: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Remove a form's values from an asset (contributors and owners)."""
    runtime.forms.remove_values(principal, project, asset, form)
