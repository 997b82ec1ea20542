"""webhook secrets encrypted at rest: ``secret`` becomes ``legacy_secret`` (plaintext, until
encrypted at startup) and ``secret_ciphertext`` holds the encrypted ``whsec_`` secret

The secret key (``LAKEHOLD_SECRET_KEY`` or the home's key file) is not available to a
migration, which only has a database connection; existing plaintext secrets are kept in
``legacy_secret`` and encrypted (then cleared) by the webhook dispatcher when it starts or the
first delivery that needs one (``lakehold.governance.webhook_signing``). ADR 0016.

Revision ID: 0008_webhook_secrets
Revises: 0007
Create Date: 2026-12-06 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_webhook_secrets"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.alter_column(
            "secret",
            new_column_name="legacy_secret",
            existing_type=sa.String(length=200),
            nullable=True,
        )
        batch_op.add_column(sa.Column("secret_ciphertext", sa.Text(), nullable=True))


def downgrade() -> None:
    """Encrypted secrets cannot be decrypted here: their webhooks come back without a secret
    (an empty one) and must be given a new one."""
    op.execute("UPDATE webhooks SET legacy_secret = '' WHERE legacy_secret IS NULL")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("secret_ciphertext")
        batch_op.alter_column(
            "legacy_secret",
            new_column_name="secret",
            existing_type=sa.String(length=200),
            nullable=False,
        )
