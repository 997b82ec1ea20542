"""Search over what a user may discover: active listings (everyone) and the inventories of
their own projects (members, any role; administrators see every project).

Full text is SQLite FTS5 (``bm25``, weights title 10, tags and glossary terms 5, description 2,
columns and form fields 1) or PostgreSQL (``websearch_to_tsquery`` and ``ts_rank`` over a
weighted ``search_vector``). Filters and facet counts are computed over the visible matching
set only, so a count never reveals a hidden asset. Blank ``q`` browses, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Select,
    and_,
    column,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lakehold.catalog.search import query
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
SNIPPET_OPEN, SNIPPET_CLOSE = "[", "]"

_FTS: ColumnClause[Any] = literal_column("search_documents_fts")
_FTS_TABLE = table("search_documents_fts", column("rowid"))
_VECTOR: ColumnClause[Any] = literal_column("search_documents.search_vector")
_CONFIG: ColumnClause[Any] = literal_column("'english'::regconfig")


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


def _visible(principal: Principal) -> ColumnElement[bool]:
    """Active listings for everyone; assets of the principal's projects."""
    if allowed(principal, Action.CATALOG_READ_ALL):  # administrators see every project's inventory
        inventory: ColumnElement[bool] = true()
    else:
        groups = select(GroupMember.group_id).where(GroupMember.user_id == principal.user_id)
        member_of = select(ProjectMember.project_id).where(
            or_(ProjectMember.user_id == principal.user_id, ProjectMember.group_id.in_(groups))
        )
        inventory = SearchDocument.project_id.in_(member_of)
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

    def __init__(self, store: Store) -> None:
        self.store = store

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
            _visible(principal),
            *_filtered(filters),
        ]
        dialect = session.get_bind().dialect.name
        score: ColumnElement | None = None
        snippet: ColumnElement | None = None
        base: Select = select(SearchDocument.id)
        if terms and dialect == "sqlite":
            base = select(SearchDocument.id).join_from(
                SearchDocument, _FTS_TABLE, _FTS_TABLE.c.rowid == SearchDocument.id
            )
            conditions.append(_FTS.op("MATCH")(literal(query.fts5_query(terms))))
            score = -func.bm25(_FTS, 10.0, 5.0, 2.0, 1.0)
            snippet = func.snippet(_FTS, -1, SNIPPET_OPEN, SNIPPET_CLOSE, "…", 16)
        elif terms:
            tsquery = _tsquery(terms)
            conditions.append(_VECTOR.op("@@")(tsquery))
            score = func.ts_rank(_VECTOR, tsquery)
            snippet = func.ts_headline(
                _CONFIG,
                func.concat_ws(" ", SearchDocument.description, SearchDocument.body),
                tsquery,
                f"StartSel={SNIPPET_OPEN}, StopSel={SNIPPET_CLOSE}, MaxWords=20, MinWords=5",
            )
        matching = base.where(*conditions)
        total = session.scalar(select(func.count()).select_from(matching.subquery())) or 0

        page = matching.add_columns(
            (score if score is not None else literal(None)).label("score"),
            (snippet if snippet is not None else literal(None)).label("snippet"),
        )
        order: list[ColumnElement[Any]] = [
            SearchDocument.updated_at.desc(),
            SearchDocument.id.desc(),
        ]
        if score is not None:
            order.insert(0, literal_column("score").desc())
        rows = session.execute(page.order_by(*order).limit(limit).offset(offset)).all()
        documents = {
            d.id: d
            for d in session.scalars(
                select(SearchDocument).where(SearchDocument.id.in_([r.id for r in rows]))
            )
        }
        items = [_hit(documents[r.id], r.score, r.snippet) for r in rows if r.id in documents]
        return SearchResults(
            total=total,
            limit=limit,
            offset=offset,
            items=items,
            facets=_facets(session, matching) if total else {f: [] for f in FACETS},
        )


def _tsquery(terms: list[query.Term]) -> ColumnElement:
    """``websearch_to_tsquery`` of the words and phrases, ``&&`` each prefix term."""
    parts: list[ColumnElement] = []
    text = query.websearch_text(terms)
    if text:
        parts.append(func.websearch_to_tsquery(_CONFIG, literal(text)))
    parts.extend(func.to_tsquery(_CONFIG, literal(p)) for p in query.prefix_tsqueries(terms))
    combined = parts[0]
    for part in parts[1:]:
        combined = combined.op("&&")(part)
    return combined


def _facets(session: Session, matching: Select) -> dict[str, list[FacetCount]]:
    """Counts of each facet value over the matching (already visible) documents."""
    ids = matching.scalar_subquery()
    facets: dict[str, list[FacetCount]] = {}
    for name, attribute in (
        ("domain_unit", SearchDocument.domain_unit),
        ("project", SearchDocument.project),
        ("asset_type", SearchDocument.asset_type),
    ):
        count = func.count().label("n")
        rows = session.execute(
            select(attribute, count)
            .where(SearchDocument.id.in_(ids), attribute.is_not(None))
            .group_by(attribute)
            .order_by(count.desc(), attribute)
            .limit(FACET_SIZE)
        )
        # value is never None (the query excludes NULL): the filter only narrows the type
        facets[name] = [FacetCount(value, n) for value, n in rows if value is not None]
    for name in (TAG, GLOSSARY_TERM):
        count = func.count().label("n")
        tagged = session.execute(
            select(SearchFacet.value, count)
            .where(SearchFacet.facet == name, SearchFacet.document_id.in_(ids))
            .group_by(SearchFacet.value)
            .order_by(count.desc(), SearchFacet.value)
            .limit(FACET_SIZE)
        )
        facets[name] = [FacetCount(value, n) for value, n in tagged]
    return facets


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
