"""The full-text part of a search, per dialect: which documents match, their score, snippets.

Words and phrases match the stemmed index, prefixes the unstemmed one (migration
``0013_search_speed``), so that ``pay*`` means words starting with "pay" on both databases.
SQLite: FTS5 ``MATCH`` of each index, scored by ``bm25`` (weights title 10, tags and glossary
terms 5, description 2, columns and form fields 1) over one scan of a rowid range.
PostgreSQL: ``@@`` on ``search_vector`` (english) and ``search_words`` (simple), scored by
``ts_rank``. Snippets are built for the returned page only.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    any_,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

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


def _parts(terms: list[query.Term]) -> list[tuple[str, str]]:
    """(FTS5 table, MATCH expression) of each index the terms need: words, then prefixes."""
    return [
        (name, query.fts5_query(part))
        for name, part in ((STEMMED, query.words(terms)), (WORDS, query.prefixes(terms)))
        if part
    ]


def _tsqueries(terms: list[query.Term]) -> list[tuple[ColumnElement, ColumnElement]]:
    """(vector, tsquery) pairs: the stemmed words, the unstemmed prefixes."""
    pairs: list[tuple[ColumnElement, ColumnElement]] = []
    if words := query.words(terms):
        text = literal(query.websearch_text(words))
        pairs.append((_VECTOR, func.websearch_to_tsquery(_ENGLISH, text)))
    if prefixes := query.prefixes(terms):
        pairs.append((_WORDS, func.to_tsquery(_SIMPLE, literal(query.prefix_tsquery(prefixes)))))
    return pairs


def hits(dialect: str, terms: list[query.Term], conditions: list[ColumnElement[bool]]) -> Select:
    """The matching documents (``HIT_COLUMNS``), unscored: scoring is the dear part of a search
    and only a bounded set of candidates needs it (``scores``). On SQLite the FTS5 rowid is the
    ``id`` column, so that ordering by it newest first is a backward scan of the index that
    stops at a ``LIMIT``."""
    if not terms:
        return select(*HIT_COLUMNS).where(*conditions)
    if dialect != "sqlite":
        matches = [vector.op("@@")(tsquery) for vector, tsquery in _tsqueries(terms)]
        return select(*HIT_COLUMNS).where(*matches, *conditions)
    parts = _parts(terms)
    tables = [table(name, column("rowid")) for name, _ in parts]
    joined = tables[0].join(SearchDocument, SearchDocument.id == tables[0].c.rowid)
    for fts in tables[1:]:
        joined = joined.join(fts, fts.c.rowid == tables[0].c.rowid)
    matches = [literal_column(name).op("MATCH")(literal(text)) for name, text in parts]
    return (
        select(tables[0].c.rowid.label("id"), *HIT_COLUMNS[1:])
        .select_from(joined)
        .where(*matches, *conditions)
    )


def _among(rowid: ColumnClause[Any], ids: list[int]) -> list[ColumnElement[bool]]:
    """FTS5 rows among ``ids``: one scan of the matches in their rowid range, each row checked
    against the list (``rowid + 0``: a rowid ``IN`` would re-run the match per value, 30-300 ms
    for a frequent prefix at 100k documents)."""
    return [rowid.between(min(ids), max(ids)), id_in("sqlite", rowid + 0, ids)]


def id_in(
    dialect: str, ids_of: ColumnElement[int] | InstrumentedAttribute[int], ids: list[int]
) -> ColumnElement[bool]:
    """``ids_of`` is one of ``ids``, the list bound as one parameter (a JSON array read by
    ``json_each`` on SQLite, an integer array on PostgreSQL): a window's 1,000 ids as 1,000
    parameters cost 2-4x more to compile and bind than the read itself."""
    if dialect == "sqlite":
        each = func.json_each(literal(json.dumps(ids))).table_valued("value")
        return ids_of.in_(select(each.c.value))
    return ids_of == any_(literal(ids, ARRAY(Integer)))


def scores(session: Session, terms: list[query.Term], ids: list[int]) -> dict[int, float]:
    """The score of each of ``ids`` (matching documents), higher is better. SQLite: ``bm25`` of
    each index, read by one scan of the matches in the ids' rowid range (a rowid constraint per
    id would re-run the match each time); PostgreSQL: ``ts_rank`` of each document's vectors."""
    if not terms or not ids:
        return {}
    if session.get_bind().dialect.name != "sqlite":
        rank = sum_of(func.ts_rank(vector, tsquery) for vector, tsquery in _tsqueries(terms))
        among = id_in("postgresql", SearchDocument.id, ids)
        rows = session.execute(select(SearchDocument.id, rank).where(among))
        return {row[0]: float(row[1]) for row in rows}
    parts = []
    for name, text in _parts(terms):
        fts = table(name, column("rowid"))
        this: ColumnClause[Any] = literal_column(name)
        parts.append(
            select(fts.c.rowid.label("id"), (-func.bm25(this, *WEIGHTS)).label("score"))
            .where(this.op("MATCH")(literal(text)), *_among(fts.c.rowid, ids))
            .subquery(f"{name}_scores")
        )
    joined: FromClause = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, part.c.id == parts[0].c.id)
    score = sum_of(part.c.score for part in parts)
    rows = session.execute(select(parts[0].c.id, score).select_from(joined))
    return {row[0]: float(row[1]) for row in rows}


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
                this.op("MATCH")(literal(query.fts5_query(part))), *_among(fts.c.rowid, ids)
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
