"""The full-text part of a search, per dialect: which documents match, their score, snippets.

Words and phrases match the stemmed index, prefixes the unstemmed one (migration
``0013_search_speed``), so that ``pay*`` means words starting with "pay" on both databases.
SQLite: FTS5 ``MATCH`` of each index, scored by ``bm25`` (weights title 10, tags and glossary
terms 5, description 2, columns and form fields 1). PostgreSQL: ``@@`` on ``search_vector``
(english) and ``search_words`` (simple), scored by ``ts_rank``. A window of matches is read
newest first and scored in the same statement (``window``); snippets are built for the
returned page only (``page``).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Integer,
    Select,
    Text,
    any_,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    select,
    table,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from lakehold.catalog.search import query
from lakehold.store.search import SearchDocument

SNIPPET_OPEN, SNIPPET_CLOSE = "[", "]"
WEIGHTS = (10.0, 5.0, 2.0, 1.0)
STEMMED, WORDS = "search_documents_fts", "search_words_fts"  # SQLite FTS5 tables
_ENGLISH: ColumnClause[Any] = literal_column("'english'::regconfig")
_SIMPLE: ColumnClause[Any] = literal_column("'simple'::regconfig")
_VECTOR: ColumnClause[Any] = literal_column("search_documents.search_vector")
_WORDS: ColumnClause[Any] = literal_column("search_documents.search_words")
# What a window row holds: ranking keys, the facets that are columns, and the tags and
# glossary terms as their stored JSON text (counted once per distinct list, ``service``).
HIT_COLUMNS: tuple[Any, ...] = (
    SearchDocument.id,
    SearchDocument.updated_at,
    SearchDocument.project,
    SearchDocument.domain_unit,
    SearchDocument.asset_type,
    cast(SearchDocument.tags, Text).label("tags"),
    cast(SearchDocument.glossary_terms, Text).label("glossary_terms"),
)
HIT_FIELDS = (*(c.key for c in HIT_COLUMNS), "score")  # the columns of a ``window`` row
# What a returned hit shows.
PAGE_COLUMNS = (
    SearchDocument.id,
    SearchDocument.kind,
    SearchDocument.ref_id,
    SearchDocument.qualified_name,
    SearchDocument.title,
    SearchDocument.description,
    SearchDocument.project,
    SearchDocument.domain_unit,
    SearchDocument.asset_type,
    SearchDocument.tags,
    SearchDocument.glossary_terms,
    SearchDocument.updated_at,
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


def window(
    dialect: str,
    terms: list[query.Term],
    conditions: list[ColumnElement[bool]],
    *,
    limit: int,
    offset: int = 0,
    parts: list[list[ColumnElement[bool]]] | None = None,
) -> Select:
    """The matching documents (``HIT_COLUMNS`` and ``score``, NULL without terms): the
    ``limit`` newest after ``offset``, in no particular order (sort them by id). Only the rows
    read are scored: SQLite computes ``bm25`` as FTS5 returns a row that passed every condition
    (the FTS5 rowid is ``id``, so newest first is a backward scan of the index that stops at the
    ``LIMIT``); PostgreSQL ranks the rows of the limited window in an outer query (ranked before
    its top-N sort, every match of a word would be). With ``parts`` (``visibility``,
    PostgreSQL): the newest matches of each part, each read on its own, merged."""
    if dialect == "sqlite":
        if terms:
            return _fts5_window(terms, conditions, limit, offset)
        # browsing: the narrow columns by a scan of ix_search_documents_window (a fraction of
        # a page per document), then the window's own tags and terms by rowid; read from the
        # ~1.5 KB rows, a viewer's window by unit read 28 against 22 ms
        narrow = (
            select(*HIT_COLUMNS[:5])
            .where(*conditions)
            .order_by(SearchDocument.id.desc())
            .limit(limit)
            .offset(offset)
            .subquery("newest")
        )
        held = aliased(SearchDocument)
        return select(
            *narrow.c,
            cast(held.tags, Text).label("tags"),
            cast(held.glossary_terms, Text).label("glossary_terms"),
            null().label("score"),
        ).join_from(narrow, held, held.id == narrow.c.id)
    pairs = _tsqueries(terms) if terms else []
    vectors = [vector.label(f"vector_{i}") for i, (vector, _) in enumerate(pairs)]
    matches = [vector.op("@@")(tsquery) for vector, tsquery in pairs]

    def newest_of(part: list[ColumnElement[bool]], count: int, skip: int = 0) -> Select:
        return (
            select(*HIT_COLUMNS, *vectors)
            .where(*matches, *conditions, *part)
            .order_by(SearchDocument.id.desc())
            .limit(count)
            .offset(skip)
        )

    if not parts and not pairs:
        return newest_of([], limit, offset).add_columns(null().label("score"))
    if parts:
        newest = union_all(*(newest_of(part, limit + offset) for part in parts)).subquery("newest")
    else:
        newest = newest_of([], limit, offset).subquery("newest")
    rank = (
        sum_of(func.ts_rank(newest.c[f"vector_{i}"], q) for i, (_, q) in enumerate(pairs))
        if pairs
        else null()
    )
    columns = [newest.c[c.key] for c in HIT_COLUMNS]
    ranked = select(*columns, rank.label("score")).order_by(newest.c.id.desc())
    return ranked.limit(limit).offset(offset) if parts else ranked


def _fts5_window(
    terms: list[query.Term], conditions: list[ColumnElement[bool]], limit: int, offset: int
) -> Select:
    """``window`` on SQLite: the FTS5 index(es) joined to the documents, scored by bm25."""
    indexes = _parts(terms)
    tables = [table(name, column("rowid")) for name, _ in indexes]
    joined = tables[0].join(SearchDocument, SearchDocument.id == tables[0].c.rowid)
    for fts in tables[1:]:
        joined = joined.join(fts, fts.c.rowid == tables[0].c.rowid)
    matches = [literal_column(name).op("MATCH")(literal(text)) for name, text in indexes]
    score = sum_of(-func.bm25(literal_column(name), *WEIGHTS) for name, _ in indexes)
    return (
        select(tables[0].c.rowid.label("id"), *HIT_COLUMNS[1:], score.label("score"))
        .select_from(joined)
        .where(*matches, *conditions)
        .order_by(tables[0].c.rowid.desc())
        .limit(limit)
        .offset(offset)
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


def sum_of(parts) -> ColumnElement:
    parts = list(parts)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def page(session: Session, terms: list[query.Term], ids: list[int]) -> dict[int, Row]:
    """The documents ``ids`` (``PAGE_COLUMNS``) with a highlighted fragment (``snippet``) by
    the words, else the prefixes; one statement."""
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
    if not terms:
        statement = select(*PAGE_COLUMNS, null().label("snippet")).where(
            id_in(dialect, SearchDocument.id, ids)
        )
    elif dialect == "sqlite":
        words = query.words(terms)
        name, part = (STEMMED, words) if words else (WORDS, query.prefixes(terms))
        fts = table(name, column("rowid"))
        this: ColumnClause[Any] = literal_column(name)
        snippet = func.snippet(this, -1, SNIPPET_OPEN, SNIPPET_CLOSE, "…", 16)
        statement = (
            select(*PAGE_COLUMNS, snippet.label("snippet"))
            .select_from(fts.join(SearchDocument, SearchDocument.id == fts.c.rowid))
            .where(this.op("MATCH")(literal(query.fts5_query(part))), *_among(fts.c.rowid, ids))
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
        statement = select(*PAGE_COLUMNS, headline.label("snippet")).where(
            id_in(dialect, SearchDocument.id, ids)
        )
    return {row.id: row for row in session.connection().execute(statement).all()}
