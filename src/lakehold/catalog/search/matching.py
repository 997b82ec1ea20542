"""The full-text part of a search, per dialect: which documents match, their score, snippets.

Words and phrases match the stemmed index, prefixes the unstemmed one (migration
``0013_search_speed``), so that ``pay*`` means words starting with "pay" on both databases.
SQLite: FTS5 ``MATCH`` of each index evaluated once (a materialized CTE), scored by ``bm25``
(weights title 10, tags and glossary terms 5, description 2, columns and form fields 1).
PostgreSQL: ``@@`` on ``search_vector`` (english) and ``search_words`` (simple), scored by
``ts_rank``. Snippets are built for the returned page only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CTE,
    ColumnClause,
    ColumnElement,
    Float,
    Select,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    select,
    table,
)
from sqlalchemy.orm import Session

from lakehold.catalog.search import query
from lakehold.store.search import SearchDocument

SNIPPET_OPEN, SNIPPET_CLOSE = "[", "]"
WEIGHTS = (10.0, 5.0, 2.0, 1.0)
STEMMED, WORDS = "search_documents_fts", "search_words_fts"  # SQLite FTS5 tables
_ENGLISH: ColumnClause[Any] = literal_column("'english'::regconfig")
_SIMPLE: ColumnClause[Any] = literal_column("'simple'::regconfig")
_VECTOR: ColumnClause[Any] = literal_column("search_documents.search_vector")
_WORDS: ColumnClause[Any] = literal_column("search_documents.search_words")
HIT_COLUMNS = (
    SearchDocument.id,
    SearchDocument.updated_at,
    SearchDocument.project,
    SearchDocument.domain_unit,
    SearchDocument.asset_type,
)


def _fts5(name: str, expression: str) -> CTE:
    """The rowids matching ``expression`` in FTS5 table ``name`` with their bm25 score,
    computed once (a materialized CTE)."""
    fts = table(name, column("rowid"))
    this: ColumnClause[Any] = literal_column(name)
    return (
        select(fts.c.rowid.label("id"), (-func.bm25(this, *WEIGHTS)).label("score"))
        .where(this.op("MATCH")(literal(expression)))
        .cte(f"{name}_hits")
        .prefix_with("MATERIALIZED")
    )


def _fts5_unscored(terms: list[query.Term], conditions: list[ColumnElement[bool]]) -> Select:
    """The matching documents straight from the FTS5 tables, ``id`` their rowid: a scan in
    rowid order (newest first) stops early, as a CTE's would not."""
    parts = [
        (name, part)
        for name, part in ((STEMMED, query.words(terms)), (WORDS, query.prefixes(terms)))
        if part
    ]
    tables = [table(name, column("rowid")) for name, _ in parts]
    joined = tables[0].join(SearchDocument, SearchDocument.id == tables[0].c.rowid)
    for fts in tables[1:]:
        joined = joined.join(fts, fts.c.rowid == tables[0].c.rowid)
    matches = [
        literal_column(name).op("MATCH")(literal(query.fts5_query(part))) for name, part in parts
    ]
    return (
        select(tables[0].c.rowid.label("id"), *HIT_COLUMNS[1:], cast(null(), Float).label("score"))
        .select_from(joined)
        .where(*matches, *conditions)
    )


def _tsqueries(terms: list[query.Term]) -> list[tuple[ColumnElement, ColumnElement]]:
    """(vector, tsquery) pairs: the stemmed words, the unstemmed prefixes."""
    pairs: list[tuple[ColumnElement, ColumnElement]] = []
    if words := query.words(terms):
        text = literal(query.websearch_text(words))
        pairs.append((_VECTOR, func.websearch_to_tsquery(_ENGLISH, text)))
    if prefixes := query.prefixes(terms):
        pairs.append((_WORDS, func.to_tsquery(_SIMPLE, literal(query.prefix_tsquery(prefixes)))))
    return pairs


def hits(
    dialect: str, terms: list[query.Term], conditions: list[ColumnElement[bool]], scored: bool
) -> Select:
    """The matching documents: ``HIT_COLUMNS`` and ``score`` (NULL when browsing or not
    ``scored``: scoring every match is the dear part of a search, its page alone needs it)."""
    if not terms:
        return select(*HIT_COLUMNS, cast(null(), Float).label("score")).where(*conditions)
    if dialect == "sqlite" and not scored:
        return _fts5_unscored(terms, conditions)
    if dialect == "sqlite":
        ctes = [
            _fts5(name, query.fts5_query(part))
            for name, part in ((STEMMED, query.words(terms)), (WORDS, query.prefixes(terms)))
            if part
        ]
        joined = ctes[0].join(SearchDocument, SearchDocument.id == ctes[0].c.id)
        for cte in ctes[1:]:
            joined = joined.join(cte, cte.c.id == SearchDocument.id)
        score = sum_of(cte.c.score for cte in ctes)
        return select(*HIT_COLUMNS, score.label("score")).select_from(joined).where(*conditions)
    pairs = _tsqueries(terms)
    score = (
        sum_of(func.ts_rank(vector, tsquery) for vector, tsquery in pairs)
        if scored
        else cast(null(), Float)
    )
    matches = [vector.op("@@")(tsquery) for vector, tsquery in pairs]
    return select(*HIT_COLUMNS, score.label("score")).where(*matches, *conditions)


def sum_of(parts) -> ColumnElement:
    parts = list(parts)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def snippets(session: Session, terms: list[query.Term], ids: list[int]) -> dict[int, str]:
    """A highlighted fragment of each of ``ids`` (the page), by the words else the prefixes."""
    if not terms or not ids:
        return {}
    if session.get_bind().dialect.name == "sqlite":
        words = query.words(terms)
        name, part = (STEMMED, words) if words else (WORDS, query.prefixes(terms))
        fts = table(name, column("rowid"))
        this: ColumnClause[Any] = literal_column(name)
        snippet = func.snippet(this, -1, SNIPPET_OPEN, SNIPPET_CLOSE, "…", 16)
        rows = session.execute(
            select(fts.c.rowid, snippet).where(
                this.op("MATCH")(literal(query.fts5_query(part))), fts.c.rowid.in_(ids)
            )
        )
    else:
        vector, tsquery = _tsqueries(terms)[0]
        config = _ENGLISH if vector is _VECTOR else _SIMPLE
        headline = func.ts_headline(
            config,
            func.concat_ws(" ", SearchDocument.description, SearchDocument.body),
            tsquery,
            f"StartSel={SNIPPET_OPEN}, StopSel={SNIPPET_CLOSE}, MaxWords=20, MinWords=5",
        )
        rows = session.execute(
            select(SearchDocument.id, headline).where(SearchDocument.id.in_(ids))
        )
    return {row[0]: row[1] for row in rows if row[1]}
