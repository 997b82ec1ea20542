"""Metadata forms and rules, as the signed-in principal.

- ``/organisation/forms``: each domain's forms at their current versions; a form's fields;
  creating a form with fields (``fields[i].name``, ``fields[i].type``, ...; blank rows are
  left out), the service checking every field and naming each problem's field.
- ``/organisation/rules``: the rules (projects the principal may not see as placeholders, as
  the API shows them); one rule with the fields its form requires; creating a rule on a unit
  (its owners and administrators).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from lakehold.catalog.forms import FIELD_TYPES
from lakehold.governance.rules import ACTIONS, ASSET_TYPES
from lakehold.security.principal import Principal
from lakehold.web.forms import Refused
from lakehold.web.routes.organisation import (
    ORGANISATION,
    Access,
    Failure,
    domain_trees,
    optional,
    submit,
    text,
    unit_of,
)
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

FORMS = f"{ORGANISATION}/forms"
RULES = f"{ORGANISATION}/rules"
ROWS, MAX_ROWS = 3, 50
"""Field rows a new form offers, and at most."""
FIELD_KEYS = ("name", "type", "description", "allowed_values", "glossary")


def _url(base: str, key: str) -> str:
    return f"{base}/{quote(key, safe='')}"


# -- forms -------------------------------------------------------------------------------------


@router.get(FORMS)
def forms_page(
    request: Request,
    principal: PagePrincipal,
    rows: Annotated[int, Query(ge=1, le=MAX_ROWS)] = ROWS,
) -> Response:
    """Every domain's metadata forms, and the form to create one with ``rows`` field rows."""
    return _forms_page(request, principal, Failure(), rows)


def _forms_page(request: Request, principal: Principal, failure: Failure, rows: int) -> Response:
    runtime = runtime_of(request)
    trees = domain_trees(runtime, principal, Access.of(runtime, principal))
    context = {
        "domains": [(t, runtime.forms.list_forms(principal, t.domain.name)) for t in trees],
        "glossaries": {
            t.domain.name: runtime.glossaries.list_glossaries(principal, t.domain.name)
            for t in trees
        },
        "types": FIELD_TYPES,
        "rows": rows,
        "more_rows": min(rows + 3, MAX_ROWS),
        "failure": failure,
    }
    return render(request, "organisation/forms.html", context, status_code=failure.status)


def _rows_sent(form: FormData) -> int:
    """How many field rows the submitted form had."""
    sent = [int(k[7:].split("]", 1)[0]) for k in form if k.startswith("fields[") and "]" in k]
    return min(max([ROWS, *(i + 1 for i in sent if 0 <= i < MAX_ROWS)]), MAX_ROWS)


def field_rows(form: FormData) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The field definitions of the non-blank rows, and the service's field names of them
    (``fields[j].key``) mapped to the rows' form fields (``fields[i].key``)."""
    fields: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i in range(_rows_sent(form)):
        row = f"fields[{i}]"
        sent = {k: text(form, f"{row}.{k}") for k in FIELD_KEYS}
        if not sent["name"] and not sent["type"]:
            continue
        field: dict[str, Any] = {
            "name": sent["name"],
            "type": sent["type"],
            "required": f"{row}.required" in form,
            "searchable": f"{row}.searchable" in form,
        }
        if sent["description"]:
            field["description"] = sent["description"]
        if sent["allowed_values"] or sent["type"] == "one_of":
            values = [v.strip() for v in sent["allowed_values"].split(",")]
            field["allowed_values"] = [v for v in values if v]
        if sent["glossary"]:
            field["glossary"] = sent["glossary"]
        j = len(fields)
        names.update({f"fields[{j}].{k}": f"{row}.{k}" for k in FIELD_KEYS})
        names[f"fields[{j}]"] = f"{row}.name"
        fields.append(field)
    return fields, names


@router.post(FORMS)
async def create_form(request: Request, principal: PagePrincipal) -> Response:
    """Create a metadata form (owners of its unit, or project members with create_form)."""
    runtime = runtime_of(request)
    form = await request.form()
    fields, names = field_rows(form)

    def act(form: FormData) -> str:
        unit = unit_of(runtime, principal, form, "unit")
        made = runtime.forms.create_form(
            principal,
            unit.domain,
            text(form, "name"),
            fields,
            unit=unit.id,
            description=optional(form, "description"),
        )
        return _url(FORMS, made.id)

    def page(form: FormData, refused: Refused) -> Response:
        return _forms_page(request, principal, Failure("form", refused, form), _rows_sent(form))

    return await submit(request, act, page, names)


@router.get(FORMS + "/{form}")
def form_page(
    request: Request,
    form: str,
    principal: PagePrincipal,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """One form's fields at a version (default: its current one)."""
    found = runtime_of(request).forms.get_form(principal, form, version=version)
    return render(request, "organisation/form.html", {"form": found})


# -- rules -------------------------------------------------------------------------------------


@router.get(RULES)
def rules_page(request: Request, principal: PagePrincipal) -> Response:
    """The rules, and the form to create one on a unit the principal owns."""
    return _rules_page(request, principal, Failure())


def _rules_page(request: Request, principal: Principal, failure: Failure) -> Response:
    runtime = runtime_of(request)
    trees = domain_trees(runtime, principal, Access.of(runtime, principal))
    context = {
        "rules": runtime.rules.list_rules(principal),
        "trees": [t for t in trees if t.owned],
        "forms": {t.domain.name: runtime.forms.list_forms(principal, t.domain.name) for t in trees},
        "projects": runtime.catalog.list_projects(principal),
        "actions": ACTIONS,
        "asset_types": ASSET_TYPES,
        "failure": failure,
    }
    return render(request, "organisation/rules.html", context, status_code=failure.status)


@router.post(RULES)
async def create_rule(request: Request, principal: PagePrincipal) -> Response:
    """Create a rule on a unit (owners of the unit or an ancestor)."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        types = [str(t) for t in form.getlist("asset_types")]
        projects = [str(p) for p in form.getlist("projects")]
        made = runtime.rules.create_rule(
            principal,
            text(form, "unit"),
            text(form, "name"),
            text(form, "action"),
            text(form, "form"),
            include_children="include_children" in form,
            asset_types=types or None,
            projects=projects or None,
            description=optional(form, "description"),
        )
        return _url(RULES, made.id)

    def page(form: FormData, refused: Refused) -> Response:
        return _rules_page(request, principal, Failure("rule", refused, form))

    return await submit(request, act, page)


@router.get(RULES + "/{rule}")
def rule_page(request: Request, rule: str, principal: PagePrincipal) -> Response:
    """One rule with the fields its form requires."""
    found = runtime_of(request).rules.get_rule(principal, rule)
    return render(request, "organisation/rule.html", {"rule": found})
