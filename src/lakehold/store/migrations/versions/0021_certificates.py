"""operations: the TLS certificate a connection's server presented, and its expiry

Revision ID: 0021_certificates
Revises: 0020
Create Date: 2026-12-07

``connections.certificate_*``: when a server connection was last checked, whether its server
offered TLS, why it could not be reached, the certificate it presented (expiry, subject,
issuer, SHA-256 fingerprint) and the last expiry threshold alerted for that certificate
(``lakehold.sources.certificates``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_certificates"
down_revision = "0020"
branch_labels = None
depends_on = None

COLUMNS = (
    ("certificate_checked_at", sa.DateTime(timezone=True)),
    ("certificate_tls", sa.Boolean()),
    ("certificate_error", sa.String(length=500)),
    ("certificate_not_after", sa.DateTime(timezone=True)),
    ("certificate_subject", sa.String(length=1000)),
    ("certificate_issuer", sa.String(length=1000)),
    ("certificate_fingerprint", sa.String(length=64)),
    ("certificate_alerted_days", sa.Integer()),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("connections", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
