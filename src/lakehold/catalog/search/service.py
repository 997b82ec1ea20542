"""Search over what a user may discover: active listings (everyone) and the inventories of
their own projects (members, any role; administrators see every project).

Full text is in ``matching`` (FTS5 on SQLite, tsvectors on PostgreSQL). The visible matching
set is counted exactly; facets are counted over at most ``FACET_SAMPLE`` of its documents (the
most recently indexed: ``facets_exact`` says whether that was all of them), and only the page
is ranked by score -- the total, the facets and the page in one statement; snippets are built
for the page only. Filters and facet counts are computed over the visible matching set only,
so a count never reveals a hidden asset. Blank ``q`` browses, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Float,
    Integer,
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

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
FACET_SAMPLE = 1000  # facets are counted over at most this many matches (the newest indexed)
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
    # False when more documents match than the service's facet sample (FACET_SAMPLE): the
    # counts are then those of the most recently indexed matches, lower bounds ("at least").
    facets_exact: bool = True


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
    return exists().where(
        SearchFacet.document_id == SearchDocument.id,
        SearchFacet.facet == facet,
        SearchFacet.value == value,
    )


def _filtered(filters: Filters) -> list[ColumnElement[bool]]:
    """Any of the given projects, units (with the units below them) and types; every tag and
    glossary term given."""
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
    conditions.extend(_has_facet(TAG, v) for v in filters.tag)
    conditions.extend(_has_facet(GLOSSARY_TERM, v) for v in filters.glossary_term)
    return conditions


class SearchService:
    """Find listings and inventory assets by text, with facets."""

    def __init__(self, store: Store, facet_sample: int = FACET_SAMPLE) -> None:
        self.store = store
        self.facet_sample = facet_sample

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
        conditions = [
            SearchDocument.kind.in_(SCOPES[scope]),
            _visible(session, principal),
            *_filtered(filters),
        ]
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":  # FTS5 counts and samples unscored matches cheaply
            found = matching.hits(dialect, terms, conditions, scored=False)
            ranked = matching.hits(dialect, terms, conditions, scored=True) if terms else found
        else:  # a tsvector is read once per match: scored once, for every part
            scored = matching.hits(dialect, terms, conditions, scored=True)
            found = ranked = select(scored.cte("hits").prefix_with("MATERIALIZED"))
        total, page = 0, []
        facets: dict[str, list[FacetCount]] = {f: [] for f in FACETS}
        for part, value, n, document_id, score in session.execute(
            _summary(dialect, found, ranked, bool(terms), limit, offset, self.facet_sample)
        ):
            if part == TOTAL:
                total = n
            elif part == PAGE:
                page.append((document_id, score))
            else:
                facets[part].append(FacetCount(value, n))
        ids = [document_id for document_id, _ in page]
        documents = {
            d.id: d
            for d in session.scalars(select(SearchDocument).where(SearchDocument.id.in_(ids)))
        }
        snippets = matching.snippets(session, terms, ids)
        items = [
            _hit(documents[i], score if terms else None, snippets.get(i))
            for i, score in page
            if i in documents
        ]
        return SearchResults(
            total=total,
            limit=limit,
            offset=offset,
            items=items,
            facets=facets,
            facets_exact=total <= self.facet_sample,
        )


def _part(name: str, value: Any = None, n: Any = None) -> list[ColumnElement]:
    """The leading columns of a summary row: part, value, n."""
    return [
        literal(name, String).label("part"),
        (value if value is not None else cast(null(), String)).label("value"),
        (n if n is not None else cast(null(), Integer)).label("n"),
    ]


def _summary(
    dialect: str,
    found: Select,
    ranked: Select,
    scored: bool,
    limit: int,
    offset: int,
    facet_sample: int,
) -> CompoundSelect:
    """One statement over the matching set: its size, each facet's most frequent values among
    its ``facet_sample`` newest documents and the page (rank in ``n``), as rows of (part, value,
    n, id, score). Only the page reads ``ranked`` (the matches with their score)."""
    nothing = [cast(null(), Integer).label("id"), cast(null(), Float).label("score")]
    matched = found.subquery("matched")
    parts: list[Select] = [select(*_part(TOTAL, n=func.count()), *nothing).select_from(matched)]
    sample = (
        found.order_by(found.selected_columns.id.desc())
        .limit(facet_sample)
        .cte("sample")
        .prefix_with("MATERIALIZED")
    )
    for name in COLUMN_FACETS:
        value, count = sample.c[name], func.count()
        parts.append(
            _top(
                select(*_part(name, value, count), *nothing)
                .where(value.is_not(None))
                .group_by(value)
                .order_by(count.desc(), value)
            )
        )
    # SQLite: facet || '' so that the sample's documents drive the join, not every tag
    facet = SearchFacet.facet.concat("") if dialect == "sqlite" else SearchFacet.facet
    for name in (TAG, GLOSSARY_TERM):
        count = func.count()
        tagged = sample.join(
            SearchFacet, and_(SearchFacet.document_id == sample.c.id, facet == name)
        )
        parts.append(
            _top(
                select(*_part(name, SearchFacet.value, count), *nothing)
                .select_from(tagged)
                .group_by(SearchFacet.value)
                .order_by(count.desc(), SearchFacet.value)
            )
        )
    hits = ranked.subquery("ranked")
    order = [hits.c.updated_at.desc(), hits.c.id.desc()]
    if scored:
        order.insert(0, hits.c.score.desc())
    rank = func.row_number().over(order_by=order)
    page = (
        select(*_part(PAGE, n=rank), hits.c.id.label("id"), hits.c.score.label("score"))
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    return union_all(*parts, select(*page.subquery().c))


def _top(facet: Select) -> Select:
    """The ``FACET_SIZE`` most frequent values of a facet (a subquery: a UNION branch may not
    have its own LIMIT)."""
    return select(*facet.limit(FACET_SIZE).subquery().c)


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
