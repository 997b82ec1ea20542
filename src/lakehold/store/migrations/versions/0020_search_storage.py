"""search (PostgreSQL): tsvectors in the row, window index with tags, visible parts indexed

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08

- A search document is about 2.2 KB, over PostgreSQL's 2 KB toast threshold, so the largest
  value, a tsvector, went to the toast table: every ``@@`` of a window's backward scan then
  read the toast index and table too (viewer ``ship*``: 14,500 buffers for 6,900 rows). Rows
  of the table now stay whole up to 8 KB (``toast_tuple_target``), and the vectors are the
  last values moved out (``STORAGE MAIN``): 2,700 buffers. The table is rewritten so that
  existing rows are stored that way (``CLUSTER``, allowed in a transaction: 41 s for 120k
  documents under load; an ``UPDATE`` would leave it twice its size).
- ``ix_search_documents_window`` (``0015``) becomes ``(id) INCLUDE`` the same columns and the
  tags and glossary terms, which a window now reads for its facet counts: a window without
  text is read from the index alone (viewer ``tag=gold``: 19,000 buffers, 700 now).
- Partial indexes of a viewer's visible parts, in id order: the listings, and each project's
  inventory (ADR 24). A viewer's window of a frequent word is read from them, part by part,
  visiting visible documents only.
SQLite: nothing (FTS5 keeps its own index; the partial indexes would go unused).
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

VECTORS = ("search_vector", "search_words")
LISTINGS, INVENTORIES = "ix_search_documents_listing", "ix_search_documents_asset_project"
WINDOW = "ix_search_documents_window"
WINDOW_COLUMNS = [  # as 0015 made it
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
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE search_documents SET (toast_tuple_target = 8160)")
    columns = ", ".join(f"ALTER COLUMN {name} SET STORAGE MAIN" for name in VECTORS)
    op.execute(f"ALTER TABLE search_documents {columns}")
    op.drop_index(WINDOW, "search_documents")
    included = [*WINDOW_COLUMNS[1:], "tags", "glossary_terms"]
    op.create_index(WINDOW, "search_documents", ["id"], postgresql_include=included)
    op.create_index(LISTINGS, "search_documents", ["id"], postgresql_where="kind = 'listing'")
    op.create_index(
        INVENTORIES,
        "search_documents",
        ["project_id", "id"],
        postgresql_where="kind = 'asset'",
    )
    if op.get_bind().exec_driver_sql("SELECT 1 FROM search_documents LIMIT 1").first():
        # rewritten whole (vectors back in their rows), in id order; not kept clustered
        op.execute("CLUSTER search_documents USING search_documents_pkey")
        op.execute("ALTER TABLE search_documents SET WITHOUT CLUSTER")
        op.execute("ANALYZE search_documents")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INVENTORIES, "search_documents")
    op.drop_index(LISTINGS, "search_documents")
    op.drop_index(WINDOW, "search_documents")
    op.create_index(WINDOW, "search_documents", WINDOW_COLUMNS)
    columns = ", ".join(f"ALTER COLUMN {name} SET STORAGE EXTENDED" for name in VECTORS)
    op.execute(f"ALTER TABLE search_documents {columns}")
    op.execute("ALTER TABLE search_documents RESET (toast_tuple_target)")
