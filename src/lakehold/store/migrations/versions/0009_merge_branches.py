"""merge the network rules, lineage writers and webhook secrets branches

Revision ID: 0009
Revises: 0008_network_rules, 0008_lineage_writers, 0008_webhook_secrets
Create Date: 2026-12-06
"""

revision = "0009"
down_revision = ("0008_network_rules", "0008_lineage_writers", "0008_webhook_secrets")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
