"""Business glossaries and their terms, as the signed-in principal: each domain's glossaries,
creating a glossary or a term (the service decides who may: owners of the glossary's unit, or
members of a project with the capability on it), and a term's page with the assets and
listings carrying it that the principal may see (through search, which applies visibility)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from lakehold.catalog.search.service import MAX_LIMIT
from lakehold.errors import NotFound
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
from lakehold.web.routes.search import result_url
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

GLOSSARIES = f"{ORGANISATION}/glossaries"


def glossary_url(glossary_id: str) -> str:
    return f"{GLOSSARIES}/{quote(glossary_id, safe='')}"


@router.get(GLOSSARIES)
def glossaries_page(request: Request, principal: PagePrincipal) -> Response:
    """Every domain's glossaries with their terms, and the form to create one."""
    return _glossaries_page(request, principal, Failure())


def _glossaries_page(request: Request, principal: Principal, failure: Failure) -> Response:
    runtime = runtime_of(request)
    trees = domain_trees(runtime, principal, Access.of(runtime, principal))
    by_domain = [(t, runtime.glossaries.list_glossaries(principal, t.domain.name)) for t in trees]
    context = {"domains": by_domain, "failure": failure}
    return render(request, "organisation/glossaries.html", context, status_code=failure.status)


@router.post(GLOSSARIES)
async def create_glossary(request: Request, principal: PagePrincipal) -> Response:
    """Create a glossary in a domain, owned by one of its units."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        unit = unit_of(runtime, principal, form, "unit")
        made = runtime.glossaries.create_glossary(
            principal,
            unit.domain,
            text(form, "name"),
            unit=unit.id,
            description=optional(form, "description"),
        )
        return glossary_url(made.id)

    def page(form: FormData, refused: Refused) -> Response:
        return _glossaries_page(request, principal, Failure("glossary", refused, form))

    return await submit(request, act, page)


@router.get(GLOSSARIES + "/{glossary}")
def glossary_page(request: Request, glossary: str, principal: PagePrincipal) -> Response:
    """A glossary with its terms and the form to add one."""
    return _glossary_page(request, principal, glossary, Failure())


def _glossary_page(
    request: Request, principal: Principal, glossary: str, failure: Failure
) -> Response:
    found = runtime_of(request).glossaries.get_glossary(principal, glossary)
    context = {"glossary": found, "failure": failure}
    return render(request, "organisation/glossary.html", context, status_code=failure.status)


@router.post(GLOSSARIES + "/{glossary}/terms")
async def create_term(request: Request, glossary: str, principal: PagePrincipal) -> Response:
    """Add a term to a glossary."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        made = runtime.glossaries.create_term(
            principal, glossary, text(form, "name"), description=optional(form, "description")
        )
        return f"{glossary_url(made.glossary_id)}/terms/{quote(made.id, safe='')}"

    def page(form: FormData, refused: Refused) -> Response:
        return _glossary_page(request, principal, glossary, Failure("term", refused, form))

    return await submit(request, act, page)


@router.get(GLOSSARIES + "/{glossary}/terms/{term}")
def term_page(request: Request, glossary: str, term: str, principal: PagePrincipal) -> Response:
    """A term (by id or name) with the assets and listings linked to it that the principal
    may see."""
    runtime = runtime_of(request)
    found = runtime.glossaries.get_glossary(principal, glossary)
    chosen = next((t for t in found.terms if term in (t.id, t.name)), None)
    if chosen is None:
        raise NotFound(f"term '{term}' not found in glossary '{found.name}'", field="term")
    # the search index labels a term by its name (a same-named term of another glossary
    # shares the label)
    linked = runtime.search.search(principal, glossary_term=chosen.name, limit=MAX_LIMIT)
    context: dict[str, Any] = {
        "glossary": found,
        "term": chosen,
        "linked": [(hit, result_url(hit)) for hit in linked.items],
        "total": linked.total,
    }
    return render(request, "organisation/term.html", context)
