"""Search over what a user may discover: active listings (everyone) and the inventories of
their own projects (members, any role; administrators see every project; ``visibility``).

Full text is in ``matching`` (FTS5 on SQLite, tsvectors on PostgreSQL). A search reads one
bounded **window** (ADR 24): the newest ``WINDOW`` + 1 visible matches, scored in the same
statement, with the columns its facets need (the tags and glossary terms as their JSON text).
Its size is the total (past the window: the window's size, ``total_exact`` False); its units,
projects, types, tags and glossary terms are counted here; it is ranked here; one more
statement reads the page's documents and snippets. Every count is over visible matches, so a
count never reveals a hidden asset. Blank ``q`` browses, newest first.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from heapq import nlargest
from operator import itemgetter
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    bindparam,
    exists,
    func,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lakehold.catalog.search import matching, query
from lakehold.catalog.search.indexer import reindex_all
from lakehold.catalog.search.visibility import (
    Part,
    PartShape,
    condition,
    parts,
    reads_backwards,
    visibility,
)
from lakehold.errors import Invalid
from lakehold.kernel import Action, authorize
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.search import ASSET, GLOSSARY_TERM, LISTING, TAG, SearchDocument, SearchFacet

Scope = Literal["listings", "inventory", "all"]
SCOPES: dict[str, tuple[str, ...]] = {
    "listings": (LISTING,),
    "inventory": (ASSET,),
    "all": (LISTING, ASSET),
}
FACETS = ("domain_unit", "project", "asset_type", "tag", "glossary_term")
MAX_LIMIT = 100
FACET_SIZE = 50  # values reported per facet, most frequent first
WINDOW = 1000  # the newest matches: counted exactly, faceted and ranked (ADR 24)
COLUMN_FACETS = ("domain_unit", "project", "asset_type")
FACET_COLUMNS = {TAG: "tags", GLOSSARY_TERM: "glossary_terms"}  # JSON text in a window row
_AT = {name: i for i, name in enumerate(matching.HIT_FIELDS)}  # a window row is read by index
_ID, _SCORE = _AT["id"], _AT["score"]
_RANKING = itemgetter(_SCORE, _AT["updated_at"], _ID)  # best first: score, newest, last id
# PostgreSQL, for a search's transaction:
# - plans per text (``plan_cache_mode``): a backward id scan for a frequent word, the GIN index
#   for a rare one. A generic plan (psycopg prepares a statement run 5 times) cannot know which
#   and took 0.4 s for ``churn`` at 100k documents;
# - no parallel workers: a window is 1,001 rows, and starting a worker cost more (40 ms under
#   load) than the backward index scan it would share;
# - ``random_page_cost`` 1.1: the search tables are read from memory, and at the default (4)
#   the planner scanned 31,000 documents backwards for the 1,001 newest of the 4,000 with
#   ``invoice`` rather than read those 4,000 through the GIN index (57 against 10 ms CPU).
POSTGRES_SETTINGS = select(
    *(
        func.set_config(name, value, True)
        for name, value in (
            ("plan_cache_mode", "force_custom_plan"),
            ("max_parallel_workers_per_gather", "0"),
            ("random_page_cost", "1.1"),
        )
    )
)


@dataclass(frozen=True)
class SearchHit:
    """One result: a listing (``listing_id``) or an asset of your inventory (``asset_id``)."""

    kind: str
    qualified_name: str
    title: str
    description: str | None
    project: str
    domain_unit: str | None
    asset_type: str
    tags: list[str]
    glossary_terms: list[str]
    updated_at: datetime
    score: float | None = None
    snippet: str | None = None
    listing_id: str | None = None
    asset_id: str | None = None


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class SearchResults:
    total: int
    limit: int
    offset: int
    items: list[SearchHit] = field(default_factory=list)
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)
    # False when more documents match than the service's window (WINDOW): the facet counts are
    # then those of the most recently indexed matches, lower bounds ("at least").
    facets_exact: bool = True
    # False when more documents match than the window: ``total`` is then the window's size, a
    # lower bound ("1,000+").
    total_exact: bool = True


class FilterShape(NamedTuple):
    """What the SQL of the filters depends on; their values are bound (``Filters.params``)."""

    project: bool
    units: int
    asset_type: bool
    facets: tuple[str, ...]  # the facet of each tag and glossary term given


@dataclass(frozen=True)
class Filters:
    domain_unit: tuple[str, ...] = ()
    project: tuple[str, ...] = ()
    asset_type: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    glossary_term: tuple[str, ...] = ()

    def facets(self) -> list[tuple[str, str]]:
        """The (facet, value) pairs every match must carry: the tags, then the glossary terms."""
        return [(TAG, v) for v in self.tag] + [(GLOSSARY_TERM, v) for v in self.glossary_term]

    @property
    def shape(self) -> FilterShape:
        facets = tuple(facet for facet, _ in self.facets())
        return FilterShape(bool(self.project), len(self.domain_unit), bool(self.asset_type), facets)

    def params(self) -> dict[str, Any]:
        """The values ``_filtered`` and ``_newest_carrying`` bind."""
        params: dict[str, Any] = {"projects_given": list(self.project)}
        params["types_given"] = list(self.asset_type)
        for n, unit in enumerate(self.domain_unit):
            path = unit.strip("/")
            params |= {f"unit_{n}": unit, f"unit_path_{n}": path, f"unit_below_{n}": _below(path)}
        return params | {f"carrying_{n}": value for n, (_, value) in enumerate(self.facets())}


def _below(path: str) -> str:
    """A ``LIKE`` pattern (escape ``/``) of the units below ``path``."""
    escaped = path.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"{escaped}//%"


def _values(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else list(value)
    return tuple(v.strip() for v in values if v and v.strip())


def _has_facet(facet: str, n: int) -> ColumnElement[bool]:
    other = SearchFacet.__table__.alias()  # the window may be read from search_facets itself
    return exists().where(
        other.c.document_id == SearchDocument.id,
        other.c.facet == facet,
        other.c.value == bindparam(f"carrying_{n}"),
    )


def _filtered(shape: FilterShape, carried: int = 0) -> list[ColumnElement[bool]]:
    """Any of the given projects, units (with the units below them) and types; every tag and
    glossary term given but the first ``carried`` (a join already requires them)."""
    conditions: list[ColumnElement[bool]] = []
    if shape.project:
        conditions.append(SearchDocument.project.in_(bindparam("projects_given", expanding=True)))
    if shape.units:
        conditions.append(
            or_(
                *(
                    or_(
                        SearchDocument.domain_unit_id == bindparam(f"unit_{n}"),
                        SearchDocument.domain_unit == bindparam(f"unit_path_{n}"),
                        SearchDocument.domain_unit.like(bindparam(f"unit_below_{n}"), escape="/"),
                    )
                    for n in range(shape.units)
                )
            )
        )
    if shape.asset_type:
        conditions.append(SearchDocument.asset_type.in_(bindparam("types_given", expanding=True)))
    conditions.extend(_has_facet(f, n) for n, f in enumerate(shape.facets) if n >= carried)
    return conditions


def _newest_carrying(
    facet: str, conditions: list[ColumnElement[bool]], parts: list[Part]
) -> Select:
    """The newest documents carrying ``facet`` ``carrying_0`` (``HIT_COLUMNS``, newest first),
    read backwards from ``ix_search_facets_facet_value_document``: the planners misjudge how
    many documents carry a value (PostgreSQL read every one of 15k and sorted them). With
    several ``parts`` (``visibility``): the newest of each part, merged."""
    carrier, limit = SearchFacet.document_id, bindparam("limit", type_=Integer)

    def newest_of(part: Part) -> Select:
        return (
            select(*matching.HIT_COLUMNS, null().label("score"))
            .join_from(SearchFacet, SearchDocument, SearchDocument.id == carrier)
            .where(
                SearchFacet.facet == facet,
                SearchFacet.value == bindparam("carrying_0"),
                *conditions,
                *part,
            )
            .order_by(carrier.desc())
            .limit(limit)
        )

    if len(parts) == 1:
        return newest_of(parts[0])
    merged = union_all(*map(newest_of, parts)).subquery("newest")
    return select(*merged.c).order_by(merged.c.id.desc()).limit(limit)


@dataclass(frozen=True)
class _Shape:
    """What the SQL of a search's statements depends on: every value (words, projects, filter
    values, bounds) is bound when they run, so each is built once per shape (``_window``)."""

    dialect: str
    scope: str
    reach: str  # visibility.EVERY, SOME or NONE
    filters: FilterShape
    text: matching.TextShape
    parts: PartShape | None = None  # read per visible part (PostgreSQL)


@lru_cache(maxsize=256)
def _window(shape: _Shape) -> Select:
    """The newest matches (``matching.window`` rows; bounds ``matching.window_params``): when
    browsing by tags or glossary terms, from the facet index; per visible part with
    ``shape.parts``."""
    scoped = SearchDocument.kind.in_(SCOPES[shape.scope])
    visible = parts(shape.parts) if shape.parts else [[condition(shape.reach)]]
    if not shape.text and shape.filters.facets:
        carried = [scoped, *_filtered(shape.filters, 1)]
        return _newest_carrying(shape.filters.facets[0], carried, visible)
    conditions = [scoped, *_filtered(shape.filters)]
    if shape.parts:
        return matching.window(shape.dialect, shape.text, conditions, parts=visible)
    return matching.window(shape.dialect, shape.text, [*conditions, *visible[0]])


@lru_cache(maxsize=64)
def _browse(shape: _Shape) -> Select:
    """A page of browsing: every match, newest first (bounds ``limit``, ``offset``)."""
    return (
        select(SearchDocument.id)
        .where(
            SearchDocument.kind.in_(SCOPES[shape.scope]),
            condition(shape.reach),
            *_filtered(shape.filters),
        )
        .order_by(SearchDocument.updated_at.desc(), SearchDocument.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


class SearchService:
    """Find listings and inventory assets by text, with facets."""

    def __init__(self, store: Store, window: int = WINDOW) -> None:
        self.store = store
        self.window = window

    def search(
        self,
        principal: Principal,
        q: str | None = None,
        *,
        domain_unit: str | list[str] | None = None,
        project: str | list[str] | None = None,
        asset_type: str | list[str] | None = None,
        tag: str | list[str] | None = None,
        glossary_term: str | list[str] | None = None,
        scope: str = "all",
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResults:
        """Visible documents matching ``q`` and the filters, best first, with facet counts."""
        if scope not in SCOPES:
            raise Invalid(f"scope must be one of {', '.join(SCOPES)}, not '{scope}'", field="scope")
        if not 1 <= limit <= MAX_LIMIT:
            raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if offset < 0:
            raise Invalid("offset must not be negative", field="offset")
        terms = query.parse(q or "")
        filters = Filters(
            *(_values(v) for v in (domain_unit, project, asset_type, tag, glossary_term))
        )
        with self.store.session() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.connection().execute(POSTGRES_SETTINGS)
            try:
                return self._run(session, principal, terms, filters, scope, limit, offset)
            except DBAPIError as error:  # a query text the engine still refuses
                raise Invalid(
                    "q could not be searched; use words, phrases and word*", field="q"
                ) from error

    def reindex(self, principal: Principal) -> int:
        """Rebuild the search index from listings and assets (administrators)."""
        authorize(principal, Action.SEARCH_REBUILD)
        with self.store.session() as session:
            return reindex_all(session)

    # -- the query -----------------------------------------------------------------------------

    def _run(
        self,
        session: Session,
        principal: Principal,
        terms: list[query.Term],
        filters: Filters,
        scope: str,
        limit: int,
        offset: int,
    ) -> SearchResults:
        seen = visibility(session, principal)
        dialect = session.get_bind().dialect.name
        text = matching.text_params(dialect, terms)
        shape = _Shape(dialect, scope, seen.reach, filters.shape, matching.text_shape(text))
        params = text | seen.params() | filters.params()
        # one more than the window: whether more match than it holds
        bounds = matching.window_params(self.window + 1)
        # PostgreSQL reads a viewer's window per visible part (ADR 24): always when browsing
        # (covering partial indexes); for text when the plan of one read is a backward scan
        part_shape = seen.part_shape(SCOPES[scope]) if dialect == "postgresql" else None
        if part_shape and (not text or reads_backwards(session, _window(shape), params | bounds)):
            shape = replace(shape, parts=part_shape)
        core = session.connection()  # plain rows: no ORM loading per row of the window
        # newest first; fetched all at once (iterating a result fetches row by row)
        read = core.execute(_window(shape), params | bounds).all()
        rows = sorted(read, key=itemgetter(_ID), reverse=True)
        exact = len(rows) <= self.window
        window = rows[: self.window]
        facets = _column_facets(window) | _tag_facets(window)
        hits: list[tuple[int, float | None]]
        if not terms:  # browsing: every match, newest first
            page = _browse(replace(shape, parts=None))
            found = core.scalars(page, params | {"limit": limit, "offset": offset})
            hits = [(i, None) for i in found]
        else:  # the window best first, then the older matches newest first
            ranked = nlargest(offset + limit, window, key=_RANKING)  # sorted, best first
            hits = [(row[_ID], row[_SCORE]) for row in ranked[offset:]]
            if not exact and offset + limit > self.window:
                skip = self.window + max(0, offset - self.window)
                more = matching.window_params(limit - len(hits), skip)
                older = sorted(
                    core.execute(_window(shape), params | more).all(),
                    key=itemgetter(_ID),
                    reverse=True,
                )
                hits += [(row[_ID], row[_SCORE]) for row in older]
        documents = matching.page(session, text, [document_id for document_id, _ in hits])
        items = [_hit(documents[i], score) for i, score in hits if i in documents]
        return SearchResults(
            total=len(window),
            limit=limit,
            offset=offset,
            items=items,
            facets=facets,
            facets_exact=exact,
            total_exact=exact,
        )


def _top(counted: Counter[str]) -> list[FacetCount]:
    """The ``FACET_SIZE`` most frequent values, then by value (the same on both databases)."""
    best = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:FACET_SIZE]
    return [FacetCount(value, n) for value, n in best]


def _column_facets(window: Sequence[Row]) -> dict[str, list[FacetCount]]:
    """The window's values of the facets that are columns of a document."""
    facets: dict[str, list[FacetCount]] = {}
    for name in COLUMN_FACETS:
        counted: Counter[str | None] = Counter(map(itemgetter(_AT[name]), window))
        counted.pop(None, None)  # documents without a value (no domain unit)
        facets[name] = _top(cast(Counter[str], counted))
    return facets


@lru_cache(maxsize=4096)
def _listed(text: str | None) -> tuple[str, ...]:
    """The values of a stored JSON list (parsed once: the same few hundred lists recur)."""
    return tuple(json.loads(text or "null") or ())


def _tag_facets(window: Sequence[Row]) -> dict[str, list[FacetCount]]:
    """The tags and glossary terms of the window's documents, from their JSON text (the same
    values as ``search_facets``, written together by the indexer): each distinct list is counted
    once (a window of 1,000 holds about 200)."""
    facets: dict[str, list[FacetCount]] = {}
    for name in (TAG, GLOSSARY_TERM):
        counted: Counter[str] = Counter()
        for text, n in Counter(map(itemgetter(_AT[FACET_COLUMNS[name]]), window)).items():
            for value in _listed(text):
                counted[value] += n
        facets[name] = _top(counted)
    return facets


def _hit(document: Row, score: float | None) -> SearchHit:
    return SearchHit(
        kind=document.kind,
        qualified_name=document.qualified_name,
        title=document.title,
        description=document.description,
        project=document.project,
        domain_unit=document.domain_unit,
        asset_type=document.asset_type,
        tags=list(document.tags or []),
        glossary_terms=list(document.glossary_terms or []),
        updated_at=document.updated_at,
        score=float(score) if score is not None else None,
        snippet=document.snippet or None,
        listing_id=document.ref_id if document.kind == LISTING else None,
        asset_id=document.ref_id if document.kind == ASSET else None,
    )
