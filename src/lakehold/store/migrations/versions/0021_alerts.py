"""operations: alerts routed to the project that owns the data

Revision ID: 0021_alerts
Revises: 0020
Create Date: 2026-12-07
"""

revision = "0021_alerts"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
