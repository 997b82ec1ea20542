"""What the asset page shows, read from the services as the signed-in principal.

A member of the asset's project sees the catalog's asset (and, by its rights, edits its forms,
publishes it and sees who has access). A member of a project holding an active grant on it (a
subscriber) sees its listing and a preview through that grant. Anyone else: NotFound, as the
API answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lakehold.catalog.forms import FormField, FormValuesView, FormView
from lakehold.catalog.glossaries import AssetMetadataView
from lakehold.catalog.reconcile import LAKEHOUSE_TABLE
from lakehold.catalog.service import AssetRights
from lakehold.catalog.views import AssetView, MemberView
from lakehold.errors import Invalid, LakeholdError, NotFound
from lakehold.governance.grants import GrantView
from lakehold.governance.listings import ListingForm, ListingView
from lakehold.lakehouse.results import HistoryEntry
from lakehold.names import check_sql_name
from lakehold.query.results import column_metadata, to_json_arrays
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

PREVIEW_ROWS = 50
HISTORY_ROWS = 50
NO_RIGHTS = AssetRights(describe=False, publish=False, manage_access=False)
FIELD_PREFIX = "value:"
"""Form inputs are named ``value:<field name>``."""


def not_found(project: str, name: str) -> NotFound:
    """The one answer for a missing asset and an asset the principal may not see."""
    return NotFound(f"table '{project}.{name}' not found")


# -- what is shown --------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnRow:
    name: str
    data_type: str
    nullable: bool
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    glossary_terms: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FieldRow:
    """One field of a metadata form: the text in its input and the problem with it."""

    spec: FormField
    value: str
    error: str | None = None


@dataclass(frozen=True)
class FormSection:
    """A metadata form of the asset's domain with its values on the asset."""

    form: FormView
    fields: list[FieldRow]
    stored: FormValuesView | None
    error: str | None = None
    saved: bool = False


@dataclass(frozen=True)
class FormState:
    """A form (by id) submitted back to the page: its texts, and why they were refused."""

    form_id: str
    values: Mapping[str, str]
    errors: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Cell:
    kind: Literal["null", "empty", "value"]
    text: str = ""


@dataclass(frozen=True)
class Preview:
    """The first rows of the asset (at ``version``), or why they could not be read."""

    acting: str | None
    version: int | None = None
    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    more: bool = False
    error: str | None = None


@dataclass(frozen=True)
class PublishProblem:
    """One reason a change was refused: a field of a form (with the rules needing it), or
    the error itself (``form`` and ``name`` None)."""

    form: str | None
    name: str | None
    message: str
    rules: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Access:
    """How the principal reaches the asset: as a member (``asset``) or through grants."""

    project: str
    name: str
    asset: AssetView | None
    grants: list[GrantView]

    @property
    def qualified(self) -> str:
        return f"{self.project}.{self.name}"

    @property
    def member(self) -> bool:
        return self.asset is not None

    def acting(self, principal: Principal, requested: str | None = None) -> str | None:
        """The project statements act in: the principal's own acting project; else the
        asset's (members read everything wherever they act); else the subscribing project
        ``requested``, or the first one holding a grant."""
        if principal.project is not None:
            return principal.project
        if self.asset is not None:
            return self.project
        projects = self.subscribing_projects
        return requested if requested in projects else projects[0]

    @property
    def subscribing_projects(self) -> list[str]:
        return sorted({g.project for g in self.grants})


@dataclass(frozen=True)
class AssetPage:
    access: Access
    rights: AssetRights
    description: str | None
    asset_type: str
    tags: list[str]
    glossary_terms: list[str]
    columns: list[ColumnRow]
    listing: ListingView | None
    preview: Preview
    forms: list[FormSection] = field(default_factory=list)
    listing_forms: list[ListingForm] = field(default_factory=list)
    versions: list[HistoryEntry] | None = None
    versions_error: str | None = None
    grants: list[GrantView] | None = None
    members: list[MemberView] | None = None
    publish_problems: list[PublishProblem] = field(default_factory=list)
    refused: str | None = None
    """Why a change was refused when no section shows it (the principal may not change it)."""


# -- reading it -----------------------------------------------------------------------------


def access_of(runtime: Runtime, principal: Principal, project: str, name: str) -> Access:
    """The principal's way to the asset; NotFound (as for a missing asset) when it has none."""
    try:
        check_sql_name("project", project)
        check_sql_name("table", name)
    except Invalid:
        raise not_found(project, name) from None
    try:
        return Access(project, name, runtime.catalog.get_asset(principal, project, name), [])
    except NotFound:
        pass
    grants = runtime.grants.list_grants(principal, asset=f"{project}.{name}")
    if not grants:
        raise not_found(project, name)
    return Access(project, name, None, grants)


def preview(
    runtime: Runtime,
    principal: Principal,
    access: Access,
    *,
    acting: str | None = None,
    version: int | None = None,
) -> Preview:
    """The first rows through the governed query path: a subscriber reads its grant's columns
    and rows, in its subscribing project."""
    project = access.acting(principal, acting)
    travel = f" VERSION AS OF {version}" if version is not None else ""
    sql = f"SELECT * FROM {access.qualified}{travel} LIMIT {PREVIEW_ROWS + 1}"
    try:
        out = runtime.statements.execute(principal, sql, project=project, limit=PREVIEW_ROWS + 1)
    except LakeholdError as error:
        return Preview(project, version, error=error.message)
    table = out.table
    rows = [[_cell(v) for v in row] for row in to_json_arrays(table.slice(0, PREVIEW_ROWS))]
    return Preview(
        project,
        version,
        columns=column_metadata(table.schema),
        rows=rows,
        more=table.num_rows > PREVIEW_ROWS or out.truncated,
    )


def _cell(value: Any) -> Cell:
    if value is None:
        return Cell("null", "NULL")
    if value == "":
        return Cell("empty")
    if isinstance(value, bool):
        return Cell("value", "true" if value else "false")
    if isinstance(value, dict | list):
        return Cell("value", json.dumps(value, ensure_ascii=False))
    return Cell("value", str(value))


def load(
    runtime: Runtime,
    principal: Principal,
    project: str,
    name: str,
    *,
    acting: str | None = None,
    version: int | None = None,
    submitted: FormState | None = None,
    saved: str | None = None,
    problems: list[PublishProblem] | None = None,
) -> AssetPage:
    """Everything the page shows to ``principal``; NotFound when it has no access."""
    access = access_of(runtime, principal, project, name)
    shown = preview(runtime, principal, access, acting=acting, version=version)
    listing = _listing(runtime, principal, access)
    if access.asset is None:
        return _subscriber_page(access, listing, shown)
    asset = access.asset
    rights = runtime.catalog.asset_rights(principal, project, name)
    metadata = runtime.glossaries.asset_metadata(principal, project, name)
    versions, versions_error = _versions(runtime, principal, asset)
    forms = _forms(runtime, principal, asset, rights, submitted, saved, problems or [])
    return AssetPage(
        access=access,
        rights=rights,
        description=asset.description,
        asset_type=asset.asset_type,
        tags=asset.tags,
        glossary_terms=metadata.glossary_terms,
        columns=_member_columns(asset, metadata),
        listing=listing,
        preview=shown,
        forms=forms,
        versions=versions,
        versions_error=versions_error,
        grants=runtime.grants.list_grants(principal, asset=access.qualified)
        if rights.manage_access
        else None,
        members=runtime.organisation.list_members(principal, project)
        if rights.manage_access
        else None,
        publish_problems=problems or [],
    )


def _subscriber_page(access: Access, listing: ListingView | None, shown: Preview) -> AssetPage:
    """What a subscriber sees: the listing (published to everyone) and its grant's preview."""
    columns = [
        ColumnRow(c.name, c.data_type, c.nullable, c.description, c.tags, c.glossary_terms)
        for c in (listing.columns if listing else [])
    ]
    return AssetPage(
        access=access,
        rights=NO_RIGHTS,
        description=listing.description if listing else None,
        asset_type=listing.asset_type if listing else "",
        tags=listing.tags if listing else [],
        glossary_terms=listing.glossary_terms if listing else [],
        columns=columns,
        listing=listing,
        preview=shown,
        listing_forms=listing.forms if listing else [],
    )


def _listing(runtime: Runtime, principal: Principal, access: Access) -> ListingView | None:
    """The asset's active listing, if it is published."""
    found = runtime.listings.list_listings(principal, project=access.project, name=access.name)
    return next((item for item in found if item.asset == access.name), None)


def _member_columns(asset: AssetView, metadata: AssetMetadataView) -> list[ColumnRow]:
    extra = {c.name: c for c in metadata.columns}
    rows = []
    for column in asset.columns:
        more = extra.get(column.name)
        rows.append(
            ColumnRow(
                column.name,
                column.data_type,
                column.nullable,
                column.description,
                more.tags if more else [],
                more.glossary_terms if more else [],
            )
        )
    return rows


def _versions(
    runtime: Runtime, principal: Principal, asset: AssetView
) -> tuple[list[HistoryEntry] | None, str | None]:
    """The Delta history of a lakehouse table (other assets have no versions)."""
    if asset.asset_type != LAKEHOUSE_TABLE:
        return None, None
    try:
        return runtime.table_service.history(
            principal, asset.project, asset.name, HISTORY_ROWS
        ), None
    except LakeholdError as error:
        return None, error.message


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _forms(
    runtime: Runtime,
    principal: Principal,
    asset: AssetView,
    rights: AssetRights,
    submitted: FormState | None,
    saved: str | None,
    problems: list[PublishProblem],
) -> list[FormSection]:
    """The forms of the asset's domain: all of them for those who may fill them in, the ones
    with values for the others. A refused form keeps its texts and the service's messages;
    a refused publish marks the fields its rules need; ``saved``: the id of a form just saved."""
    stored = {v.form: v for v in runtime.forms.list_values(principal, asset.project, asset.name)}
    domain = runtime.catalog.get_project(principal, asset.project).domain
    sections = []
    for form in runtime.forms.list_forms(principal, domain):
        values = stored.get(form.name)
        if values is None and not rights.describe:
            continue
        mine = submitted if submitted is not None and submitted.form_id == form.id else None
        needed = {p.name: p.message for p in problems if p.form == form.name and p.name}
        rows = []
        for spec in form.fields:
            text = (
                mine.values.get(spec.name, "")
                if mine is not None
                else _text((values.values if values else {}).get(spec.name))
            )
            error = mine.errors.get(spec.name) if mine is not None else needed.get(spec.name)
            rows.append(FieldRow(spec, text, error))
        sections.append(
            FormSection(
                form,
                rows,
                values,
                error=mine.error if mine else None,
                saved=saved == form.id,
            )
        )
    return sections


# -- errors of the services, field by field --------------------------------------------------


def field_problems(error: LakeholdError) -> list[PublishProblem]:
    """The problems an Invalid lists (``details["problems"]``, each naming
    ``forms.<form>.<field>``), or the error itself as one problem."""
    listed = error.details.get("problems")
    if not isinstance(listed, list) or not listed:
        return [PublishProblem(None, None, error.message)]
    found = []
    for problem in listed:
        form = problem.get("form")
        path = str(problem.get("field", ""))
        name = field_of(path, form) if form else None
        rules = [str(r) for r in problem.get("rules") or []]
        found.append(PublishProblem(form, name, str(problem.get("message", "")), rules))
    return found


def field_of(path: str, form: str) -> str | None:
    """The field named by ``forms.<form>.<field>`` (form and field names may hold dots)."""
    prefix = f"forms.{form}."
    return path[len(prefix) :] if path.startswith(prefix) else None
