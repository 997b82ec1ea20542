"""lineage writers: the namespaces a lineage:write token is bound to

Revision ID: 0008_lineage_writers
Revises: 0007
Create Date: 2026-12-06

A ``lineage:write`` token issued before this revision has no namespaces: it no longer grants
the scope (``SecurityService.authenticate``) and must be re-issued by an administrator with
``--namespace`` (ADR 0015).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_lineage_writers"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("namespaces", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("namespaces")
