"""merge the lineage and federated sources branches

Revision ID: 0007
Revises: 0005_lineage, 0006_sync
Create Date: 2026-11-23
"""

revision = "0007"
down_revision = ("0005_lineage", "0006_sync")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
