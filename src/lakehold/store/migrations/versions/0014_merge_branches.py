"""merge the lineage delta and search speed branches

Revision ID: 0014
Revises: 0013_lineage_delta, 0013_search_speed
Create Date: 2026-12-06
"""

revision = "0014"
down_revision = ("0013_lineage_delta", "0013_search_speed")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
