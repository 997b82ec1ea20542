"""statement engine: where a statement ran

Revision ID: 0024
Revises: 0023_sharing
Create Date: 2026-12-07

``statements.engine`` is ``duckdb`` (the single-process engine) or ``ray`` (DuckDB tasks on a
Ray cluster, ADR 40); NULL for statements recorded before it existed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023_sharing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("statements", sa.Column("engine", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        batch.drop_column("engine")
