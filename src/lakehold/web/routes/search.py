"""``/search``: listings and one's own inventory by text, narrowed by facets, page by page.

The catalog search service decides what the principal may find (the API's
``GET /api/v1/catalog/search``); this page only shapes its answer. An htmx request (header
``HX-Request``) gets the results fragment, a plain one (or htmx restoring history) the page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.datastructures import QueryParams
from starlette.responses import Response

from lakehold.catalog.search.service import FacetCount, SearchHit, SearchResults
from lakehold.errors import Invalid, LakeholdError
from lakehold.web.highlight import Highlighter, plain_snippet
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

PATH = "/search"
PER_PAGE = 20
MAX_PER_PAGE = 100  # the service's page size limit
MAX_PAGE = 100_000
DESCRIPTION_CHARS = 300
FACETS: dict[str, str] = {  # parameter: legend
    "domain_unit": "Domain and unit",
    "project": "Project",
    "asset_type": "Asset type",
    "tag": "Tags",
    "glossary_term": "Glossary terms",
}
ALL_OF = frozenset({"tag", "glossary_term"})  # every value checked must match; others: any
SCOPES: dict[str, str] = {
    "all": "Everything",
    "listings": "Listings",
    "inventory": "My projects' inventory",
}
KINDS = {"listing": "Listing", "asset": "Inventory"}


@dataclass(frozen=True)
class SearchForm:
    """What the page was asked: the text, scope, checked facet values and page."""

    q: str = ""
    scope: str = "all"
    filters: dict[str, list[str]] = field(default_factory=dict)
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def read(cls, params: QueryParams) -> SearchForm:
        """The text, scope and facet values of a query string, on the first page."""
        filters = {name: _unique(params.getlist(name)) for name in FACETS}
        return cls(
            q=params.get("q", "").strip(),
            scope=params.get("scope", "all") or "all",
            filters={name: values for name, values in filters.items() if values},
        )

    def paged(self, params: QueryParams) -> SearchForm:
        """This form at the page of the query string; Invalid (naming it) for a page number
        that is not one."""
        return replace(
            self,
            page=_number(params, "page", 1, MAX_PAGE),
            per_page=_number(params, "per_page", PER_PAGE, MAX_PER_PAGE),
        )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def checked(self, facet: str, value: str) -> bool:
        return value in self.filters.get(facet, [])

    def url(self, *, page: int = 1, filters: Mapping[str, list[str]] | None = None) -> str:
        """This search's shareable address at ``page`` (with ``filters`` instead, if given)."""
        pairs: list[tuple[str, str | int]] = [("q", self.q)] if self.q else []
        if self.scope != "all":
            pairs.append(("scope", self.scope))
        for name, values in (self.filters if filters is None else filters).items():
            pairs += [(name, value) for value in values]
        if self.per_page != PER_PAGE:
            pairs.append(("per_page", self.per_page))
        if page > 1:
            pairs.append(("page", page))
        return f"{PATH}?{urlencode(pairs)}" if pairs else PATH


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _number(params: QueryParams, name: str, default: int, highest: int) -> int:
    text = params.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= highest:
        raise Invalid(f"{name} must be a whole number from 1 to {highest:,}", field=name)
    return int(text)


# -- what the page shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class FacetOption:
    """A checkable facet value; ``depth`` indents a unit below its domain."""

    id: str
    value: str
    label: str
    count: int
    checked: bool
    depth: int = 0


@dataclass(frozen=True)
class FacetGroup:
    name: str
    legend: str
    all_of: bool
    options: list[FacetOption]


@dataclass(frozen=True)
class Result:
    hit: SearchHit
    url: str
    kind: str
    title: Markup
    description: Markup
    snippet: Markup


@dataclass(frozen=True)
class Pager:
    first: int
    last: int
    total: str
    previous_url: str | None
    next_url: str | None


def result_url(hit: SearchHit) -> str:
    """Where a hit leads: an asset of one's inventory to its page (``/assets/<project>/<name>``),
    a listing to its page for requesting access (anyone may see a listing; the asset page
    only its project's members and subscribers)."""
    if hit.listing_id is not None:
        return f"/listings/{quote(hit.listing_id, safe='')}/request"
    name = hit.qualified_name.removeprefix(f"{hit.project}.")
    return f"/assets/{quote(hit.project, safe='')}/{quote(name, safe='')}"


def _option_id(facet: str, value: str) -> str:
    """A stable element id for a value, so htmx keeps focus on it across swaps."""
    return f"facet-{facet}-{hashlib.sha256(value.encode()).hexdigest()[:12]}"


def _unit_options(form: SearchForm, counts: list[FacetCount]) -> list[FacetOption]:
    """Domains and their units as a tree, each counted with the units below it (filtering by a
    unit includes its sub-units too)."""
    totals: dict[str, int] = {}
    for count in counts:
        parts = count.value.split("/")
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            totals[path] = totals.get(path, 0) + count.count
    for value in form.filters.get("domain_unit", []):
        totals.setdefault(value, 0)
    return [
        FacetOption(
            _option_id("domain_unit", path),
            path,
            path.rsplit("/", 1)[-1],
            totals[path],
            form.checked("domain_unit", path),
            min(path.count("/"), 4),
        )
        for path in sorted(totals, key=lambda p: p.split("/"))
    ]


def _options(form: SearchForm, name: str, counts: list[FacetCount]) -> list[FacetOption]:
    if name == "domain_unit":
        return _unit_options(form, counts)
    shown = {c.value: c.count for c in counts}
    for value in form.filters.get(name, []):
        shown.setdefault(value, 0)  # checked but no longer counted: still uncheckable
    return [
        FacetOption(_option_id(name, value), value, value, count, form.checked(name, value))
        for value, count in shown.items()
    ]


def facet_groups(form: SearchForm, results: SearchResults) -> list[FacetGroup]:
    groups = [
        FacetGroup(name, legend, name in ALL_OF, _options(form, name, results.facets.get(name, [])))
        for name, legend in FACETS.items()
    ]
    return [group for group in groups if group.options]


def _result(hit: SearchHit, marker: Highlighter) -> Result:
    snippet = plain_snippet(hit.snippet)
    shown = snippet and snippet not in (hit.title, hit.description or "")
    return Result(
        hit=hit,
        url=result_url(hit),
        kind=KINDS.get(hit.kind, hit.kind),
        title=marker.mark(hit.title),
        description=marker.mark(hit.description, DESCRIPTION_CHARS),
        snippet=marker.snippet(hit.snippet) if shown else Markup(""),
    )


def total_text(results: SearchResults) -> str:
    """``1,234``, or ``1,000+`` when the service counted a window of the matches."""
    return f"{results.total:,}" + ("" if results.total_exact else "+")


def pager(form: SearchForm, results: SearchResults) -> Pager:
    shown = len(results.items)
    more = form.offset + shown < results.total or (
        not results.total_exact and shown == form.per_page
    )
    return Pager(
        first=form.offset + 1 if shown else 0,
        last=form.offset + shown,
        total=total_text(results),
        previous_url=form.url(page=form.page - 1) if form.page > 1 else None,
        next_url=form.url(page=form.page + 1) if more and shown else None,
    )


# -- the route ----------------------------------------------------------------------------------


def _fragment_only(request: Request) -> bool:
    headers = request.headers
    return (
        headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"
    )


@router.get(PATH)
def search_page(request: Request, principal: PagePrincipal) -> Response:
    """Search results with facets; a bad search re-renders the form with the message (400)."""
    form = SearchForm.read(request.query_params)
    results, error = None, None
    try:
        form = form.paged(request.query_params)
        results = request.app.state.runtime.search.search(
            principal,
            form.q,
            scope=form.scope,
            limit=form.per_page,
            offset=form.offset,
            **form.filters,
        )
    except LakeholdError as failed:
        if not 400 <= failed.status_code < 500:
            raise
        error = failed
    marker = Highlighter(form.q)
    context = {
        "form": form,
        "scopes": SCOPES,
        "results": results,
        "items": [_result(hit, marker) for hit in results.items] if results else [],
        "facets": facet_groups(form, results) if results else [],
        "pager": pager(form, results) if results else None,
        "error": error,
        "error_field": error.details.get("field") if error else None,
        "clear_url": form.url(filters={}),
        "default_per_page": PER_PAGE,
        "fragment": _fragment_only(request),
    }
    template = "search/_results.html" if context["fragment"] else "search.html"
    status = error.status_code if error else 200
    return render(request, template, context, status_code=status, headers={"Vary": "HX-Request"})
