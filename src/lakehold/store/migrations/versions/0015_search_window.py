"""search: a narrow covering index of the columns a search window reads

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

A search reads the newest 1,001 visible matches (ADR 24): id, kind and project (visibility),
unit and type (filters and facets), updated_at. From the ~3 KB rows of ``search_documents``
that is a page read per document; from this index (in id order) a fraction of one. SQLite
looks documents up by FTS5 rowid through it and scans it backwards when there is no text.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

NAME = "ix_search_documents_window"
COLUMNS = [
    "id",
    "kind",
    "project_id",
    "updated_at",
    "project",
    "domain_unit_id",
    "domain_unit",
    "asset_type",
]


def upgrade() -> None:
    op.create_index(NAME, "search_documents", COLUMNS)
    if op.get_bind().exec_driver_sql("SELECT 1 FROM search_documents LIMIT 1").first():
        op.execute("ANALYZE search_documents")


def downgrade() -> None:
    op.drop_index(NAME, "search_documents")
