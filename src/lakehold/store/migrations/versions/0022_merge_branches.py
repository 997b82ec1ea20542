"""merge the alerts and certificates branches

Revision ID: 0022
Revises: 0021_alerts, 0021_certificates
Create Date: 2026-12-07
"""

revision = "0022"
down_revision = ("0021_alerts", "0021_certificates")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
