"""Search over what a user may discover: active listings (everyone) and the inventories of
their own projects (members, any role; administrators see every project).

Full text is in ``matching`` (FTS5 on SQLite, tsvectors on PostgreSQL). A search reads one
bounded **window** (ADR 24): the newest ``WINDOW`` + 1 visible matches, narrow columns only
(index ``ix_search_documents_window``). Its size is the total (past the window: the window's
size, ``total_exact`` False); its documents' units, projects and types are counted here, their
tags and glossary terms by one grouped read of ``search_facets``'s primary key; only they are
scored and ranked; snippets are built for the page only. Every count is over visible matches,
so a count never reveals a hidden asset. Blank ``q`` browses, newest first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from lakehold.catalog.search import matching, query
from lakehold.catalog.search.indexer import reindex_all
from lakehold.errors import Invalid
from lakehold.kernel import Action, allowed, authorize
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import GroupMember, ProjectMember
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
TOTAL, PAGE = "total", "page"  # the other parts of the summary statement are facet names


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


@dataclass(frozen=True)
class Filters:
    domain_unit: list[str] = field(default_factory=list)
    project: list[str] = field(default_factory=list)
    asset_type: list[str] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)
    glossary_term: list[str] = field(default_factory=list)


def _values(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [v.strip() for v in values if v and v.strip()]


def _visible(session: Session, principal: Principal) -> ColumnElement[bool]:
    """Active listings for everyone; assets of the principal's projects (listed first, so the
    planner sees a few literal ids)."""
    if allowed(principal, Action.CATALOG_READ_ALL):  # administrators see every project's inventory
        inventory: ColumnElement[bool] = true()
    else:
        groups = select(GroupMember.group_id).where(GroupMember.user_id == principal.user_id)
        member_of = select(ProjectMember.project_id).where(
            or_(ProjectMember.user_id == principal.user_id, ProjectMember.group_id.in_(groups))
        )
        inventory = SearchDocument.project_id.in_(sorted(set(session.scalars(member_of))))
    return or_(SearchDocument.kind == LISTING, and_(SearchDocument.kind == ASSET, inventory))


def _has_facet(facet: str, value: str) -> ColumnElement[bool]:
    other = aliased(SearchFacet)  # the window may be read from search_facets itself
    return exists().where(
        other.document_id == SearchDocument.id, other.facet == facet, other.value == value
    )


def _facet_values(filters: Filters) -> list[tuple[str, str]]:
    """The (facet, value) pairs every match must carry: the tags, then the glossary terms."""
    return [(TAG, v) for v in filters.tag] + [(GLOSSARY_TERM, v) for v in filters.glossary_term]


def _filtered(filters: Filters, carried: int = 0) -> list[ColumnElement[bool]]:
    """Any of the given projects, units (with the units below them) and types; every tag and
    glossary term given but the first ``carried`` (a join already requires them)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.project:
        conditions.append(SearchDocument.project.in_(filters.project))
    if filters.domain_unit:
        conditions.append(
            or_(
                *(
                    or_(
                        SearchDocument.domain_unit_id == unit,
                        SearchDocument.domain_unit == unit.strip("/"),
                        SearchDocument.domain_unit.startswith(
                            unit.strip("/") + "/", autoescape=True
                        ),
                    )
                    for unit in filters.domain_unit
                )
            )
        )
    if filters.asset_type:
        conditions.append(SearchDocument.asset_type.in_(filters.asset_type))
    conditions.extend(_has_facet(f, v) for f, v in _facet_values(filters)[carried:])
    return conditions


def _newest_carrying(facet: str, value: str, conditions: list[ColumnElement[bool]]) -> Select:
    """The newest documents carrying ``facet`` ``value`` (``HIT_COLUMNS``, newest first), read
    backwards from ``ix_search_facets_facet_value_document``: the planners misjudge how many
    documents carry a value (PostgreSQL read every one of 15k and sorted them)."""
    carrier = SearchFacet.document_id
    return (
        select(*matching.HIT_COLUMNS)
        .join_from(SearchFacet, SearchDocument, SearchDocument.id == carrier)
        .where(SearchFacet.facet == facet, SearchFacet.value == value, *conditions)
        .order_by(carrier.desc())
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
                # Plans per text: a backward id scan for a frequent word, the GIN index for a
                # rare one. A generic plan (psycopg prepares a statement run 5 times) cannot
                # know which and took 0.4 s for ``churn`` at 100k documents.
                session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
                # A window is 1,001 rows: starting a parallel worker cost more (40 ms under
                # load) than the backward index scan it would share.
                session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
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
        conditions = [SearchDocument.kind.in_(SCOPES[scope]), _visible(session, principal)]
        found = matching.hits(
            session.get_bind().dialect.name, terms, [*conditions, *_filtered(filters)]
        )
        newest = found.order_by(found.selected_columns.id.desc())
        if not terms and (carried := _facet_values(filters)):  # the window from the facet index
            newest = _newest_carrying(*carried[0], [*conditions, *_filtered(filters, 1)])
        # one more than the window: whether more match than it holds
        rows = session.execute(newest.limit(self.window + 1)).all()
        exact = len(rows) <= self.window
        window = rows[: self.window]
        facets = _column_facets(window) | _tag_facets(session, [row.id for row in window])
        hits: list[tuple[int, float | None]]
        if not terms:  # browsing: every match, newest first
            page = found.with_only_columns(SearchDocument.id).order_by(
                SearchDocument.updated_at.desc(), SearchDocument.id.desc()
            )
            hits = [(i, None) for i in session.scalars(page.limit(limit).offset(offset))]
        else:  # the window best first, then the older matches newest first
            score_of = matching.scores(session, terms, [row.id for row in window])
            ranked = sorted(
                window, key=lambda r: (score_of.get(r.id, 0.0), r.updated_at, r.id), reverse=True
            )
            hits = [(row.id, score_of.get(row.id)) for row in ranked[offset : offset + limit]]
            if not exact and offset + limit > self.window:
                skip = self.window + max(0, offset - self.window)
                older = [
                    row.id for row in session.execute(newest.offset(skip).limit(limit - len(hits)))
                ]
                scored = matching.scores(session, terms, older)
                hits += [(document_id, scored.get(document_id)) for document_id in older]
        ids = [document_id for document_id, _ in hits]
        documents = {
            d.id: d
            for d in session.scalars(select(SearchDocument).where(SearchDocument.id.in_(ids)))
        }
        snippets = matching.snippets(session, terms, ids)
        items = [_hit(documents[i], score, snippets.get(i)) for i, score in hits if i in documents]
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
    return {
        name: _top(Counter(v for row in window if (v := getattr(row, name)) is not None))
        for name in COLUMN_FACETS
    }


def _tag_facets(session: Session, ids: list[int]) -> dict[str, list[FacetCount]]:
    """The tags and glossary terms of the window's documents: one grouped read of the facet
    table's primary key (document_id, facet, value), which covers it."""
    counted: dict[str, Counter[str]] = {TAG: Counter(), GLOSSARY_TERM: Counter()}
    if ids:
        rows = session.execute(
            select(SearchFacet.facet, SearchFacet.value, func.count())
            .where(matching.id_in(session.get_bind().dialect.name, SearchFacet.document_id, ids))
            .group_by(SearchFacet.facet, SearchFacet.value)
        )
        for facet, value, n in rows:
            if facet in counted:
                counted[facet][value] = n
    return {name: _top(values) for name, values in counted.items()}


def _hit(document: SearchDocument, score: float | None, snippet: str | None) -> SearchHit:
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
        snippet=snippet or None,
        listing_id=document.ref_id if document.kind == LISTING else None,
        asset_id=document.ref_id if document.kind == ASSET else None,
    )
