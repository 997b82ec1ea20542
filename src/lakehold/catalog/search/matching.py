"""The full-text part of a search, per dialect: which documents match, their score, snippets.

Words and phrases match the stemmed index, prefixes the unstemmed one (migration
``0013_search_speed``), so that ``pay*`` means words starting with "pay" on both databases.
SQLite: FTS5 ``MATCH`` of each index, scored by ``bm25`` (weights title 10, tags and glossary
terms 5, description 2, columns and form fields 1). PostgreSQL: ``@@`` on ``search_vector``
(english) and ``search_words`` (simple), scored by ``ts_rank``. A window of matches is read
newest first and scored in the same statement (``window``); snippets are built for the
returned page only (``page``). The SQL depends on which indexes a text needs (its shape), not
on its words, which are bound as parameters (``text_params``), as are the bounds of a window
and the ids of a page: a statement is built once per shape (building and hashing one anew cost
more than a millisecond of Python per statement).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnClause,
    ColumnElement,
    Integer,
    Select,
    String,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
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
_STEMMED_VECTOR, _WORDS_VECTOR = "search_vector", "search_words"  # tsvector columns
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


TextShape = tuple[str, ...]  # the parameters of a text: ``WORDS_TEXT``, ``PREFIXES_TEXT``
WORDS_TEXT, PREFIXES_TEXT = "words", "prefixes"


def text_params(dialect: str, terms: list[query.Term]) -> dict[str, str]:
    """The text of each index the terms need, as the statements bind it: the words (stemmed
    index), then the prefixes (unstemmed); nothing when browsing. Its keys are the text's
    shape (``text_shape``): the SQL does not depend on the words."""
    params: dict[str, str] = {}
    sqlite = dialect == "sqlite"
    if words := query.words(terms):
        params[WORDS_TEXT] = query.fts5_query(words) if sqlite else query.websearch_text(words)
    if prefixes := query.prefixes(terms):
        params[PREFIXES_TEXT] = (
            query.fts5_query(prefixes) if sqlite else query.prefix_tsquery(prefixes)
        )
    return params


def text_shape(params: dict[str, Any]) -> TextShape:
    return tuple(key for key in (WORDS_TEXT, PREFIXES_TEXT) if key in params)


def _text(key: str) -> BindParameter[str]:
    return bindparam(key, type_=String)


def _parts(text: TextShape) -> list[tuple[str, ColumnElement]]:
    """(FTS5 table, bound MATCH expression) of each index the text needs."""
    return [(STEMMED if key == WORDS_TEXT else WORDS, _text(key)) for key in text]


def _tsqueries(text: TextShape) -> list[tuple[str, ColumnElement]]:
    """(tsvector column, tsquery) pairs: the stemmed words, the unstemmed prefixes."""
    return [
        (_STEMMED_VECTOR, func.websearch_to_tsquery(_ENGLISH, _text(key)))
        if key == WORDS_TEXT
        else (_WORDS_VECTOR, func.to_tsquery(_SIMPLE, _text(key)))
        for key in text
    ]


def _vector(name: str, of: str = "search_documents") -> ColumnClause[Any]:
    return literal_column(f"{of}.{name}")


def window_params(limit: int, offset: int = 0) -> dict[str, int]:
    """The bounds of a ``window`` read: ``limit`` matches after ``offset``."""
    return {"limit": limit, "offset": offset, "part_limit": limit + offset}


def window(
    dialect: str,
    text: TextShape,
    conditions: list[ColumnElement[bool]],
    *,
    parts: list[list[ColumnElement[bool]]] | None = None,
) -> Select:
    """The matching documents (``HIT_COLUMNS`` and ``score``, NULL without text): the
    ``limit`` newest after ``offset`` (``window_params``), in no particular order (sort them by
    id). Only the rows read are scored: SQLite computes ``bm25`` as FTS5 returns a row that
    passed every condition (the FTS5 rowid is ``id``, so newest first is a backward scan of the
    index that stops at the ``LIMIT``); PostgreSQL ranks the rows of the limited window in an
    outer query (ranked before its top-N sort, every match of a word would be). With ``parts``
    (``visibility``, PostgreSQL): the newest matches of each part, each read on its own,
    merged."""
    limit, offset = bindparam("limit", type_=Integer), bindparam("offset", type_=Integer)
    if dialect == "sqlite":
        if text:
            return _fts5_window(text, conditions)
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
    pairs = _tsqueries(text)
    matches: list[ColumnElement[bool]] = [
        _vector(name).op("@@")(tsquery) for name, tsquery in pairs
    ]
    if not parts and not pairs:
        return (
            select(*HIT_COLUMNS, null().label("score"))
            .where(*conditions)
            .order_by(SearchDocument.id.desc())
            .limit(limit)
            .offset(offset)
        )
    if not parts:
        return _ranked_by_address(pairs, [*matches, *conditions], limit, offset)
    vectors = [_vector(name).label(f"vector_{i}") for i, (name, _) in enumerate(pairs)]
    part_limit = bindparam("part_limit", type_=Integer)
    newest = union_all(
        *(
            select(*HIT_COLUMNS, *vectors)
            .where(*matches, *conditions, *part)
            .order_by(SearchDocument.id.desc())
            .limit(part_limit)
            for part in parts
        )
    ).subquery("newest")
    rank = (
        sum_of(func.ts_rank(newest.c[f"vector_{i}"], q) for i, (_, q) in enumerate(pairs))
        if pairs
        else null()
    )
    columns = [newest.c[c.key] for c in HIT_COLUMNS]
    return (
        select(*columns, rank.label("score"))
        .order_by(newest.c.id.desc())
        .limit(limit)
        .offset(offset)
    )


def _ranked_by_address(
    pairs: list[tuple[str, ColumnElement]],
    conditions: list[ColumnElement[bool]],
    limit: BindParameter[int],
    offset: BindParameter[int],
) -> Select:
    """``window`` of one read on PostgreSQL: the newest matches' ids and row addresses
    (``ctid``, stable within the statement), then their rows, ranked. A plan from the GIN
    index sorts every match for the newest: ids alone sort in half the time of the window's
    columns and vectors (``invoice`` at 100k documents: 10 -> 6.5 ms of server CPU); a
    backward scan pays one more visit per row of the window (about 1 ms)."""
    newest = (
        select(SearchDocument.id, literal_column("search_documents.ctid").label("address"))
        .where(*conditions)
        .order_by(SearchDocument.id.desc())
        .limit(limit)
        .offset(offset)
        .subquery("newest")
    )
    held = SearchDocument.__table__.alias("held")
    rank = sum_of(func.ts_rank(_vector(name, "held"), tsquery) for name, tsquery in pairs)
    return select(
        held.c.id,
        held.c.updated_at,
        held.c.project,
        held.c.domain_unit,
        held.c.asset_type,
        cast(held.c.tags, Text).label("tags"),
        cast(held.c.glossary_terms, Text).label("glossary_terms"),
        rank.label("score"),
    ).join_from(newest, held, literal_column("held.ctid") == newest.c.address)


def _fts5_window(text: TextShape, conditions: list[ColumnElement[bool]]) -> Select:
    """``window`` on SQLite: the FTS5 index(es) joined to the documents, scored by bm25."""
    indexes = _parts(text)
    tables = [table(name, column("rowid")) for name, _ in indexes]
    joined = tables[0].join(SearchDocument, SearchDocument.id == tables[0].c.rowid)
    for fts in tables[1:]:
        joined = joined.join(fts, fts.c.rowid == tables[0].c.rowid)
    matches = [literal_column(name).op("MATCH")(bound) for name, bound in indexes]
    score = sum_of(-func.bm25(literal_column(name), *WEIGHTS) for name, _ in indexes)
    return (
        select(tables[0].c.rowid.label("id"), *HIT_COLUMNS[1:], score.label("score"))
        .select_from(joined)
        .where(*matches, *conditions)
        .order_by(tables[0].c.rowid.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


def _among(rowid: ColumnClause[Any]) -> list[ColumnElement[bool]]:
    """FTS5 rows among the bound ids: one scan of the matches in their rowid range (``low``
    to ``high``), each row checked against the list (``rowid + 0``: a rowid ``IN`` would re-run
    the match per value, 30-300 ms for a frequent prefix at 100k documents)."""
    between = rowid.between(bindparam("low", type_=Integer), bindparam("high", type_=Integer))
    return [between, id_in("sqlite", rowid + 0)]


def id_in(
    dialect: str, ids_of: ColumnElement[int] | InstrumentedAttribute[int]
) -> ColumnElement[bool]:
    """``ids_of`` is one of the ids bound as one parameter, ``ids`` (``ids_params``: a JSON
    array read by ``json_each`` on SQLite, an integer array on PostgreSQL): a window's 1,000
    ids as 1,000 parameters cost 2-4x more to compile and bind than the read itself."""
    if dialect == "sqlite":
        each = func.json_each(bindparam("ids", type_=String)).table_valued("value")
        return ids_of.in_(select(each.c.value))
    return ids_of == any_(bindparam("ids", type_=ARRAY(Integer)))


def ids_params(dialect: str, ids: list[int]) -> dict[str, Any]:
    """The values of ``id_in`` (and of ``_among``'s range) for ``ids``."""
    bound = json.dumps(ids) if dialect == "sqlite" else ids
    return {"ids": bound, "low": min(ids), "high": max(ids)}


def sum_of(parts) -> ColumnElement:
    parts = list(parts)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


@lru_cache(maxsize=16)
def _page(dialect: str, text: TextShape) -> Select:
    """The statement of ``page`` for a dialect and the shape of a text (built once)."""
    if not text:
        return select(*PAGE_COLUMNS, null().label("snippet")).where(
            id_in(dialect, SearchDocument.id)
        )
    key = text[0]  # the words if any, else the prefixes
    if dialect == "sqlite":
        name = STEMMED if key == WORDS_TEXT else WORDS
        fts = table(name, column("rowid"))
        this: ColumnClause[Any] = literal_column(name)
        snippet = func.snippet(this, -1, SNIPPET_OPEN, SNIPPET_CLOSE, "…", 16)
        return (
            select(*PAGE_COLUMNS, snippet.label("snippet"))
            .select_from(fts.join(SearchDocument, SearchDocument.id == fts.c.rowid))
            .where(this.op("MATCH")(_text(key)), *_among(fts.c.rowid))
        )
    name, tsquery = _tsqueries((key,))[0]
    config = _ENGLISH if name == _STEMMED_VECTOR else _SIMPLE
    headline = func.ts_headline(
        config,
        func.concat_ws(" ", SearchDocument.description, SearchDocument.body),
        tsquery,
        f"StartSel={SNIPPET_OPEN}, StopSel={SNIPPET_CLOSE}, MaxWords=20, MinWords=5",
    )
    return select(*PAGE_COLUMNS, headline.label("snippet")).where(id_in(dialect, SearchDocument.id))


def page(session: Session, text: dict[str, str], ids: list[int]) -> dict[int, Row]:
    """The documents ``ids`` (``PAGE_COLUMNS``) with a highlighted fragment (``snippet``) by
    the words, else the prefixes, of ``text`` (``text_params``); one statement."""
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
    statement = _page(dialect, text_shape(text))
    params = text | ids_params(dialect, ids)
    return {row.id: row for row in session.connection().execute(statement, params).all()}
