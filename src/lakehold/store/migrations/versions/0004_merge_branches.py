"""merge the metadata, search and webhooks branches

Revision ID: 0004
Revises: 0003_metadata, 0003_search, 0003_webhooks
Create Date: 2026-11-23
"""

revision = "0004"
down_revision = ("0003_metadata", "0003_search", "0003_webhooks")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
