"""search: an unstemmed word index for prefixes, indexes for the visibility of a viewer

Revision ID: 0013_search_speed
Revises: 0012
Create Date: 2026-12-06 22:40:00

A prefix is what the user typed, not a stem: ``pay*`` finds payroll and pay. The stemmed
indexes of ``0003_search`` stem the prefix too (FTS5's porter makes ``pay`` ``pai`` and finds
nothing), so prefixes are matched against a second, unstemmed index of the same columns:
SQLite: an FTS5 external-content table ``search_words_fts`` (unicode61, diacritics folded,
prefix indexes of 2 and 3 characters) kept in step by triggers;
PostgreSQL: a stored generated ``search_words`` tsvector (``simple``, same weights) with a GIN
index. Both are filled from the existing documents here; statistics are refreshed.
"""

from alembic import op

revision = "0013_search_speed"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = "title, keywords, description, body"
OLD = "old.title, old.keywords, old.description, old.body"
NEW = "new.title, new.keywords, new.description, new.body"

SQLITE_UP = [
    f"""CREATE VIRTUAL TABLE search_words_fts USING fts5(
        {COLUMNS},
        content='search_documents', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    )""",
    f"""CREATE TRIGGER search_words_ai AFTER INSERT ON search_documents BEGIN
        INSERT INTO search_words_fts(rowid, {COLUMNS}) VALUES (new.id, {NEW});
    END""",
    f"""CREATE TRIGGER search_words_ad AFTER DELETE ON search_documents BEGIN
        INSERT INTO search_words_fts(search_words_fts, rowid, {COLUMNS})
        VALUES ('delete', old.id, {OLD});
    END""",
    f"""CREATE TRIGGER search_words_au AFTER UPDATE ON search_documents BEGIN
        INSERT INTO search_words_fts(search_words_fts, rowid, {COLUMNS})
        VALUES ('delete', old.id, {OLD});
        INSERT INTO search_words_fts(rowid, {COLUMNS}) VALUES (new.id, {NEW});
    END""",
    "INSERT INTO search_words_fts(search_words_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_words_au",
    "DROP TRIGGER IF EXISTS search_words_ad",
    "DROP TRIGGER IF EXISTS search_words_ai",
    "DROP TABLE IF EXISTS search_words_fts",
]

POSTGRES_UP = [
    """ALTER TABLE search_documents ADD COLUMN search_words tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('simple'::regconfig, coalesce(keywords, '')), 'B')
        || setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'C')
        || setweight(to_tsvector('simple'::regconfig, coalesce(body, '')), 'D')
    ) STORED""",
    "CREATE INDEX ix_search_documents_search_words ON search_documents USING gin (search_words)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_search_documents_search_words",
    "ALTER TABLE search_documents DROP COLUMN IF EXISTS search_words",
]
# A viewer's documents: the listings, and the inventories of a few projects.
INDEXES = {
    "ix_search_documents_kind_project": ["kind", "project_id", "updated_at"],
    "ix_search_documents_kind_updated": ["kind", "updated_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "search_documents", columns)
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}.get(dialect, []):
        op.execute(statement)
    # Statistics of existing documents (none of an empty table: they would mislead later).
    if op.get_bind().exec_driver_sql("SELECT 1 FROM search_documents LIMIT 1").first():
        op.execute("ANALYZE search_documents")
        op.execute("ANALYZE search_facets")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}.get(dialect, []):
        op.execute(statement)
    for name in INDEXES:
        op.drop_index(name, "search_documents")
