"""search: 4-letter prefixes indexed (SQLite); a tag's or term's documents in id order

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

- SQLite: ``search_words_fts`` (``0013_search_speed``) is rebuilt with prefix indexes of 2, 3
  and 4 characters. A prefix longer than every prefix index (``ship*`` with ``2 3``) makes FTS5
  merge the doclists of every matching word into one in memory before it returns a row, so a
  ``LIMIT`` cannot stop it early. FTS5 cannot change ``prefix`` in place: the table is dropped,
  created again and refilled from ``search_documents`` (its triggers name it and stay).
- Both: ``search_facets (facet, value)`` becomes ``(facet, value, document_id)``: the newest
  documents carrying a tag or glossary term, read backwards from the index, for a window
  filtered by facets (PostgreSQL joined every document carrying the value, then sorted).
- PostgreSQL: statistics of ``facet`` and ``value`` together (most common pairs): alone, each
  column's frequency multiplied gave 5,300 documents for the term ``Revenue`` (15,000 real), too
  few for a ``LIMIT`` of 1,001 to stop a backward index scan early, so the planner read them all.
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OLD_INDEX, NEW_INDEX = "ix_search_facets_facet_value", "ix_search_facets_facet_value_document"
STATISTICS = "st_search_facets_facet_value"


def _words_fts(prefix: str) -> list[str]:
    """Statements that recreate the unstemmed FTS5 index with these prefix lengths."""
    return [
        "DROP TABLE IF EXISTS search_words_fts",
        f"""CREATE VIRTUAL TABLE search_words_fts USING fts5(
            title, keywords, description, body,
            content='search_documents', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2', prefix='{prefix}'
        )""",
        "INSERT INTO search_words_fts(search_words_fts) VALUES ('rebuild')",
    ]


def _analyze() -> None:
    if op.get_bind().exec_driver_sql("SELECT 1 FROM search_facets LIMIT 1").first():
        op.execute("ANALYZE search_facets")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _words_fts("2 3 4"):
            op.execute(statement)
    op.create_index(NEW_INDEX, "search_facets", ["facet", "value", "document_id"])
    op.drop_index(OLD_INDEX, "search_facets")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE STATISTICS {STATISTICS} (mcv, dependencies) ON facet, value FROM search_facets"
        )
    _analyze()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
    op.create_index(OLD_INDEX, "search_facets", ["facet", "value"])
    op.drop_index(NEW_INDEX, "search_facets")
    if op.get_bind().dialect.name == "sqlite":
        for statement in _words_fts("2 3"):
            op.execute(statement)
