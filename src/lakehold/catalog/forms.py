"""Metadata forms: named, versioned sets of typed fields, and their values on assets.

- A form belongs to a domain (names unique per domain) and is owned by a domain unit
  (default: the root unit). Creating or changing one needs ``create_form`` on that unit (unit
  owners and administrators always may).
- Fields: ``name``, ``type`` (text, number, date, boolean, one_of with ``allowed_values``,
  glossary_term with a ``glossary`` of the domain), ``required``, ``searchable``,
  ``description``. Creating a form makes version 1; every change of its fields makes the next
  version. Earlier versions stay readable.
- Contributors and owners of a project set a form's values on its assets (forms of the
  asset's domain). Values are checked against the form's current version and record it.
  Every problem is reported at once: ``Invalid`` names the first field
  (``forms.<form>.<field>``) and ``details["problems"]`` lists all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.glossaries import (
    check_name,
    find_domain,
    find_glossary,
    find_named,
    owning_unit,
)
from lakehold.catalog.project_names import project_names
from lakehold.catalog.search.indexer import index_asset
from lakehold.catalog.service import find_asset, readable_project
from lakehold.catalog.units import unit_path
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.kernel import Action, Command, capabilities, governed
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Asset,
    AssetFormValue,
    Domain,
    DomainUnit,
    GlossaryTerm,
    MetadataForm,
    MetadataFormVersion,
    MetadataRule,
    Project,
    User,
    utcnow,
)

FIELD_TYPES = ("text", "number", "date", "boolean", "one_of", "glossary_term")
MAX_TEXT = 4000
MAX_FIELDS = 100


@dataclass(frozen=True)
class FormField:
    name: str
    type: str
    required: bool = False
    searchable: bool = False
    description: str | None = None
    allowed_values: list[str] | None = None
    glossary: str | None = None
    """The glossary's name (glossary_term fields)."""
    glossary_id: str | None = None


@dataclass(frozen=True)
class FormView:
    id: str
    domain: str
    unit: str
    """The owning unit's path."""
    name: str
    description: str | None
    version: int
    """The version shown (the current one unless another was asked for)."""
    current_version: int
    fields: list[FormField]
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class FormValuesView:
    """A form's values on an asset, checked against ``version``."""

    project: str
    asset: str
    form: str
    form_id: str
    version: int
    values: dict[str, Any] = field(default_factory=dict)
    searchable: list[str] = field(default_factory=list)
    updated_by: str = ""
    updated_at: datetime | None = None


Problem = dict[str, str]


# -- field definitions -------------------------------------------------------------------------


def _definition_problem(problems: list[Problem], where: str, message: str) -> None:
    problems.append({"field": where, "message": message})


def clean_fields(session: Session, domain_id: str, fields: Any) -> list[dict[str, Any]]:
    """Check field definitions; Invalid lists every problem (``fields[i].key``)."""
    if not isinstance(fields, list) or not fields:
        raise Invalid("a metadata form needs a list of at least one field", field="fields")
    if len(fields) > MAX_FIELDS:
        raise Invalid(f"a metadata form has at most {MAX_FIELDS} fields", field="fields")
    problems: list[Problem] = []
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(fields):
        where = f"fields[{i}]"
        if not isinstance(raw, dict):
            _definition_problem(problems, where, "a field is an object with a name and a type")
            continue
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            _definition_problem(problems, f"{where}.name", "a field needs a name of 1 to 100 chars")
            name = None
        else:
            name = name.strip()
            if name.lower() in seen:
                _definition_problem(problems, f"{where}.name", f"field '{name}' appears twice")
            seen.add(name.lower())
        kind = raw.get("type")
        if kind not in FIELD_TYPES:
            _definition_problem(
                problems, f"{where}.type", f"type '{kind}' is not one of {', '.join(FIELD_TYPES)}"
            )
        out: dict[str, Any] = {
            "name": name,
            "type": kind,
            "required": bool(raw.get("required", False)),
            "searchable": bool(raw.get("searchable", False)),
            "description": raw.get("description"),
        }
        allowed = raw.get("allowed_values")
        if kind == "one_of":
            if (
                not isinstance(allowed, list)
                or not allowed
                or not all(isinstance(v, str) and v.strip() for v in allowed)
            ):
                _definition_problem(
                    problems,
                    f"{where}.allowed_values",
                    "a one_of field needs a list of allowed values (non-empty strings)",
                )
            else:
                out["allowed_values"] = list(dict.fromkeys(v.strip() for v in allowed))
        elif allowed is not None:
            _definition_problem(
                problems, f"{where}.allowed_values", "only one_of fields have allowed values"
            )
        glossary = raw.get("glossary")
        if kind == "glossary_term":
            try:
                found = find_glossary(
                    session, glossary, domain_id=domain_id, field_name=f"{where}.glossary"
                )
                out["glossary_id"], out["glossary"] = found.id, found.name
            except NotFound as error:
                _definition_problem(problems, f"{where}.glossary", error.message)
        elif glossary is not None:
            _definition_problem(
                problems, f"{where}.glossary", "only glossary_term fields name a glossary"
            )
        cleaned.append(out)
    if problems:
        raise Invalid(
            "metadata form fields are not valid: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            field=problems[0]["field"],
            problems=problems,
        )
    return cleaned


def _field_view(raw: dict[str, Any]) -> FormField:
    return FormField(
        name=raw["name"],
        type=raw["type"],
        required=bool(raw.get("required")),
        searchable=bool(raw.get("searchable")),
        description=raw.get("description"),
        allowed_values=raw.get("allowed_values"),
        glossary=raw.get("glossary"),
        glossary_id=raw.get("glossary_id"),
    )


# -- values ------------------------------------------------------------------------------------


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _coerce(session: Session, spec: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    """The stored form of ``value`` for a field, or a message saying what is wrong."""
    kind = spec["type"]
    if kind == "text":
        if not isinstance(value, str):
            return None, "must be text"
        if len(value) > MAX_TEXT:
            return None, f"is longer than {MAX_TEXT} characters"
        return value.strip(), None
    if kind == "number":
        number: int | float | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int | float):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                try:
                    number = float(value.strip())
                except ValueError:
                    number = None
        if number is None or (isinstance(number, float) and not math.isfinite(number)):
            return None, f"must be a number, not {value!r}"
        return number, None
    if kind == "date":
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()).isoformat(), None
            except ValueError:
                pass
        return None, f"must be a date (YYYY-MM-DD), not {value!r}"
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true", None
        return None, f"must be true or false, not {value!r}"
    if kind == "one_of":
        allowed = spec.get("allowed_values") or []
        if isinstance(value, str) and value.strip() in allowed:
            return value.strip(), None
        return None, f"must be one of {', '.join(allowed)}, not {value!r}"
    if kind == "glossary_term":
        glossary_id = spec.get("glossary_id")
        if isinstance(value, str):
            term = session.scalar(
                select(GlossaryTerm).where(
                    GlossaryTerm.glossary_id == glossary_id, GlossaryTerm.name == value.strip()
                )
            ) or session.get(GlossaryTerm, value.strip())
            if term is not None and term.glossary_id == glossary_id:
                return term.name, None
        return None, f"must be a term of glossary '{spec.get('glossary')}', not {value!r}"
    return None, f"has an unknown type '{kind}'"


def check_values(
    session: Session, form_name: str, fields: list[dict[str, Any]], values: Any
) -> tuple[dict[str, Any], list[Problem]]:
    """Check ``values`` against a form version's fields.

    Returns the values to store (blank optional fields left out) and the problems, each
    ``{"field": "forms.<form>.<field>", "message": ...}``; every problem, not just the first.
    """
    prefix = f"forms.{form_name}"
    if values is None:
        values = {}
    if not isinstance(values, dict):
        return {}, [{"field": prefix, "message": "values are an object of field names"}]
    problems: list[Problem] = []
    known = {spec["name"] for spec in fields}
    for name in values:
        if name not in known:
            problems.append(
                {"field": f"{prefix}.{name}", "message": f"is not a field of form '{form_name}'"}
            )
    cleaned: dict[str, Any] = {}
    for spec in fields:
        name = spec["name"]
        value = values.get(name)
        if _is_blank(value):
            if spec.get("required"):
                problems.append({"field": f"{prefix}.{name}", "message": "is required"})
            continue
        stored, message = _coerce(session, spec, value)
        if message is not None:
            problems.append({"field": f"{prefix}.{name}", "message": message})
        else:
            cleaned[name] = stored
    return cleaned, problems


def describe(problems: list[Problem]) -> str:
    return "; ".join(f"{p['field'].rsplit('.', 1)[-1]} {p['message']}" for p in problems)


# -- lookups -----------------------------------------------------------------------------------


def find_form(
    session: Session, ref: str, *, domain_id: str | None = None, field_name: str = "form"
) -> MetadataForm:
    """A form by id, or by name (within ``domain_id`` when given; else unique by name)."""
    return find_named(
        session, MetadataForm, ref, kind="metadata form", domain_id=domain_id, field_name=field_name
    )


def form_fields(session: Session, form: MetadataForm, version: int | None = None) -> list[dict]:
    row = session.scalar(
        select(MetadataFormVersion).where(
            MetadataFormVersion.form_id == form.id,
            MetadataFormVersion.version == (version or form.current_version),
        )
    )
    if row is None:
        raise NotFound(
            f"version {version} of metadata form '{form.name}' not found", field="version"
        )
    return list(row.fields or [])


def _form_view(session: Session, form: MetadataForm, version: int | None = None) -> FormView:
    domain = session.get(Domain, form.domain_id)
    unit = session.get(DomainUnit, form.unit_id)
    creator = session.get(User, form.created_by)
    assert domain is not None and unit is not None
    return FormView(
        id=form.id,
        domain=domain.name,
        unit=unit_path(session, unit),
        name=form.name,
        description=form.description,
        version=version or form.current_version,
        current_version=form.current_version,
        fields=[_field_view(f) for f in form_fields(session, form, version)],
        created_by=creator.username if creator else "",
        created_at=form.created_at,
        updated_at=form.updated_at,
    )


def searchable_fields(session: Session, form: MetadataForm, version: int) -> list[str]:
    try:
        fields = form_fields(session, form, version)
    except NotFound:
        return []
    return [f["name"] for f in fields if f.get("searchable")]


def asset_forms(session: Session, asset_id: str) -> list[tuple[MetadataForm, AssetFormValue]]:
    """The forms with values on an asset, by form name."""
    rows = session.execute(
        select(MetadataForm, AssetFormValue)
        .join(AssetFormValue, AssetFormValue.form_id == MetadataForm.id)
        .where(AssetFormValue.asset_id == asset_id)
        .order_by(MetadataForm.name)
    )
    return [(form, value) for form, value in rows]


def _stored(session: Session, asset_id: str, form_id: str) -> AssetFormValue | None:
    """The values of form ``form_id`` on asset ``asset_id``, if any."""
    return session.scalar(
        select(AssetFormValue).where(
            AssetFormValue.asset_id == asset_id, AssetFormValue.form_id == form_id
        )
    )


def _values_view(session: Session, asset, form: MetadataForm, row: AssetFormValue):
    updater = session.get(User, row.updated_by)
    return FormValuesView(
        project=asset.project.name,
        asset=asset.name,
        form=form.name,
        form_id=form.id,
        version=row.form_version,
        values=dict(row.values or {}),
        searchable=searchable_fields(session, form, row.form_version),
        updated_by=updater.username if updater else "",
        updated_at=row.updated_at,
    )


def _describable(
    command: Command, project: str, asset: str, form: str
) -> tuple[Asset, MetadataForm]:
    """An asset the principal may describe (contributors and owners) and a form of its domain."""
    session = command.session
    found = readable_project(session, command.principal, project)
    command.authorize(Action.ASSET_DESCRIBE, found)
    return find_asset(session, found, asset), find_form(session, form, domain_id=found.domain_id)


def _holders(session: Session, principal: Principal, form: MetadataForm) -> list[str]:
    """``project.asset`` names of the assets holding values of ``form``; a project the principal
    may not see is one ``project:hidden:<id>`` entry, its assets unnamed."""
    rows = session.execute(
        select(Project, Asset.name)
        .join(Asset, Asset.project_id == Project.id)
        .join(AssetFormValue, AssetFormValue.asset_id == Asset.id)
        .where(AssetFormValue.form_id == form.id)
    ).all()
    names = project_names(session, principal, [project for project, _ in rows])
    return sorted(
        {
            f"{project.name}.{asset}" if names[project.id] == project.name else names[project.id]
            for project, asset in rows
        }
    )


class FormService:
    """Create and version metadata forms; set their values on assets."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create_form(
        self,
        principal: Principal,
        domain: str,
        name: str,
        fields: list[dict[str, Any]],
        *,
        unit: str | None = None,
        description: str | None = None,
    ) -> FormView:
        """Create a form (version 1) in ``domain``, owned by ``unit`` (default: the root)."""
        details = {"domain": domain, "form": name, "unit": unit}
        with governed(self.store, principal, "metadata_form.create", details=details) as command:
            session = command.session
            found = find_domain(session, domain)
            owner = owning_unit(session, found, unit)
            capabilities.require(session, principal, owner, "create_form")
            name = check_name("metadata form", name)
            if session.scalar(
                select(MetadataForm.id).where(
                    MetadataForm.domain_id == found.id, MetadataForm.name == name
                )
            ):
                raise Conflict(f"metadata form '{name}' already exists in '{domain}'", field="name")
            cleaned = clean_fields(session, found.id, fields)
            form = MetadataForm(
                domain_id=found.id,
                unit_id=owner.id,
                name=name,
                description=description,
                current_version=1,
                created_by=principal.user_id,
            )
            session.add(form)
            session.flush()
            session.add(
                MetadataFormVersion(
                    form_id=form.id, version=1, fields=cleaned, created_by=principal.user_id
                )
            )
            session.flush()
            view = _form_view(session, form)
            command.details.update(unit=view.unit, id=form.id, version=1)
            return view

    def update_form(
        self,
        principal: Principal,
        form: str,
        fields: list[dict[str, Any]],
        *,
        description: str | None = None,
    ) -> FormView:
        """Replace a form's fields: the next version (``create_form`` on its unit)."""
        details = {"form": form}
        with governed(self.store, principal, "metadata_form.update", details=details) as command:
            session = command.session
            found = find_form(session, form)
            unit = session.get(DomainUnit, found.unit_id)
            assert unit is not None
            capabilities.require(session, principal, unit, "create_form")
            cleaned = clean_fields(session, found.domain_id, fields)
            found.current_version += 1
            found.updated_at = utcnow()
            if description is not None:
                found.description = description
            session.add(
                MetadataFormVersion(
                    form_id=found.id,
                    version=found.current_version,
                    fields=cleaned,
                    created_by=principal.user_id,
                )
            )
            session.flush()
            command.details.update(form=found.name, id=found.id, version=found.current_version)
            return _form_view(session, found)

    def delete_form(self, principal: Principal, form: str, *, domain: str | None = None) -> None:
        """Delete a form with its versions (``create_form`` on its unit). Conflict naming the
        rules requiring it and the assets holding values of it; listings keep their snapshot."""
        details = {"form": form}
        with governed(self.store, principal, "metadata_form.delete", details=details) as command:
            session = command.session
            domain_id = find_domain(session, domain).id if domain else None
            found = find_form(session, form, domain_id=domain_id)
            unit = session.get(DomainUnit, found.unit_id)
            assert unit is not None
            capabilities.require(session, principal, unit, "create_form")
            rules = sorted(
                session.scalars(select(MetadataRule.name).where(MetadataRule.form_id == found.id))
            )
            assets = _holders(session, principal, found)
            if rules or assets:
                uses = [f"rules {', '.join(rules)}"] if rules else []
                uses += [f"values on {', '.join(assets)}"] if assets else []
                raise Conflict(
                    f"metadata form '{found.name}' is in use: {'; '.join(uses)}",
                    field="form",
                    rules=rules,
                    assets=assets,
                )
            session.delete(found)
            session.flush()
            command.details.update(form=found.name, id=found.id)

    def list_forms(self, principal: Principal, domain: str) -> list[FormView]:
        """A domain's forms at their current versions (any user)."""
        with self.store.session() as session:
            found = find_domain(session, domain)
            rows = session.scalars(
                select(MetadataForm)
                .where(MetadataForm.domain_id == found.id)
                .order_by(MetadataForm.name)
            )
            return [_form_view(session, f) for f in rows]

    def get_form(
        self,
        principal: Principal,
        form: str,
        *,
        domain: str | None = None,
        version: int | None = None,
    ) -> FormView:
        """A form by id (or by name, within ``domain``), at ``version`` (default: current)."""
        with self.store.session() as session:
            domain_id = find_domain(session, domain).id if domain else None
            return _form_view(session, find_form(session, form, domain_id=domain_id), version)

    # -- values on assets ----------------------------------------------------------------------

    def set_values(
        self, principal: Principal, project: str, asset: str, form: str, values: dict[str, Any]
    ) -> FormValuesView:
        """Set (replace) a form's values on an asset (contributors and owners)."""
        name = f"{project}.{asset}"
        with governed(
            self.store,
            principal,
            "asset.form_values",
            project=project,
            assets=[name],
            details={"form": form},
        ) as command:
            session = command.session
            target, metadata_form = _describable(command, project, asset, form)
            fields = form_fields(session, metadata_form)
            cleaned, problems = check_values(session, metadata_form.name, fields, values)
            if problems:
                raise Invalid(
                    f"values of metadata form '{metadata_form.name}' are not valid: "
                    + describe(problems),
                    field=problems[0]["field"],
                    problems=problems,
                )
            row = _stored(session, target.id, metadata_form.id)
            if row is None:
                row = AssetFormValue(asset_id=target.id, form_id=metadata_form.id)
                session.add(row)
            row.form_version = metadata_form.current_version
            row.values = cleaned
            row.updated_by = principal.user_id
            row.updated_at = utcnow()
            target.updated_at = utcnow()
            session.flush()
            command.details.update(form=metadata_form.name, version=row.form_version)
            index_asset(target)
            return _values_view(session, target, metadata_form, row)

    def list_values(self, principal: Principal, project: str, asset: str) -> list[FormValuesView]:
        """The forms with values on an asset (project members)."""
        with self.store.session() as session:
            target = find_asset(session, readable_project(session, principal, project), asset)
            return [_values_view(session, target, f, v) for f, v in asset_forms(session, target.id)]

    def get_values(
        self, principal: Principal, project: str, asset: str, form: str
    ) -> FormValuesView:
        with self.store.session() as session:
            found = readable_project(session, principal, project)
            target = find_asset(session, found, asset)
            metadata_form = find_form(session, form, domain_id=found.domain_id)
            row = _stored(session, target.id, metadata_form.id)
            if row is None:
                raise NotFound(f"{project}.{asset} has no values of form '{form}'", field="form")
            return _values_view(session, target, metadata_form, row)

    def remove_values(self, principal: Principal, project: str, asset: str, form: str) -> None:
        """Remove a form's values from an asset (contributors and owners)."""
        name = f"{project}.{asset}"
        with governed(
            self.store,
            principal,
            "asset.form_values_remove",
            project=project,
            assets=[name],
            details={"form": form},
        ) as command:
            session = command.session
            target, metadata_form = _describable(command, project, asset, form)
            row = _stored(session, target.id, metadata_form.id)
            if row is None:
                raise NotFound(f"{name} has no values of form '{form}'", field="form")
            session.delete(row)
            command.details.update(form=metadata_form.name)
            index_asset(target)
