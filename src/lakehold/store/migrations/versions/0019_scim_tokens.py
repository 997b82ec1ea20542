"""scim tokens: the identity provider a ``scim`` token provisions for

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08

``api_tokens.identity_provider`` binds a token with the ``scim`` scope to the identity provider
whose users and groups it provisions at ``/scim/v2`` (ADR 30).
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("identity_provider", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("identity_provider")
