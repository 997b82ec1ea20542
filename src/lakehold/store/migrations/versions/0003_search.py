"""search: documents of listings and inventories, with a full-text index per dialect

Revision ID: 0003_search
Revises: 0002
Create Date: 2026-11-23 14:50:00

SQLite: an FTS5 external-content table ``search_documents_fts`` (porter stemming, diacritics
folded) whose rowid is ``search_documents.id``, kept in step by triggers.
PostgreSQL: a stored generated ``search_vector`` (english; weights A title, B tags and glossary
terms, C description, D columns and form fields) with a GIN index.
Existing listings and assets are indexed by ``lakehold search --reindex`` (or
``POST /api/v1/catalog/search/reindex``), not here: a migration must not depend on today's models.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_search"
down_revision = "0002"
branch_labels = None
depends_on = None

FTS_COLUMNS = "title, keywords, description, body"

SQLITE_UP = [
    f"""CREATE VIRTUAL TABLE search_documents_fts USING fts5(
        {FTS_COLUMNS},
        content='search_documents', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )""",
    f"""CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN
        INSERT INTO search_documents_fts(rowid, {FTS_COLUMNS})
        VALUES (new.id, new.title, new.keywords, new.description, new.body);
    END""",
    f"""CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN
        INSERT INTO search_documents_fts(search_documents_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.id, old.title, old.keywords, old.description, old.body);
    END""",
    f"""CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN
        INSERT INTO search_documents_fts(search_documents_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.id, old.title, old.keywords, old.description, old.body);
        INSERT INTO search_documents_fts(rowid, {FTS_COLUMNS})
        VALUES (new.id, new.title, new.keywords, new.description, new.body);
    END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_documents_au",
    "DROP TRIGGER IF EXISTS search_documents_ad",
    "DROP TRIGGER IF EXISTS search_documents_ai",
    "DROP TABLE IF EXISTS search_documents_fts",
]

POSTGRES_UP = [
    """ALTER TABLE search_documents ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(keywords, '')), 'B')
        || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')
        || setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'D')
    ) STORED""",
    "CREATE INDEX ix_search_documents_search_vector ON search_documents USING gin (search_vector)",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_search_documents_search_vector"]


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("ref_id", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=63), nullable=False),
        sa.Column("qualified_name", sa.String(length=127), nullable=False),
        sa.Column("domain_unit_id", sa.String(length=32), nullable=True),
        sa.Column("domain_unit", sa.Text(), nullable=True),
        sa.Column("asset_type", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("glossary_terms", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "ref_id"),
    )
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        for column in ("asset_id", "project_id", "domain_unit_id", "asset_type", "updated_at"):
            batch_op.create_index(f"ix_search_documents_{column}", [column], unique=False)
    op.create_table(
        "search_facets",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("facet", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["search_documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id", "facet", "value"),
    )
    with op.batch_alter_table("search_facets", schema=None) as batch_op:
        batch_op.create_index("ix_search_facets_facet_value", ["facet", "value"], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}.get(dialect, []):
        op.execute(statement)
    with op.batch_alter_table("search_facets", schema=None) as batch_op:
        batch_op.drop_index("ix_search_facets_facet_value")
    op.drop_table("search_facets")
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        for column in ("updated_at", "asset_type", "domain_unit_id", "project_id", "asset_id"):
            batch_op.drop_index(f"ix_search_documents_{column}")
    op.drop_table("search_documents")
