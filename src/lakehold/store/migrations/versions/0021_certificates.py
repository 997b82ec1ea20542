"""operations: the TLS certificate a connection's server presented, and its expiry

Revision ID: 0021_certificates
Revises: 0020
Create Date: 2026-12-07
"""

revision = "0021_certificates"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
