"""table intents (create/drop in progress) and the runner of each statement

Revision ID: 0010_table_intents
Revises: 0009
Create Date: 2026-12-06 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_table_intents"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "table_intents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("storage_path", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("runner_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_table_intents_state", "table_intents", ["state"])
    op.create_index("ix_table_intents_storage_path", "table_intents", ["storage_path"])
    with op.batch_alter_table("statements") as batch:
        batch.add_column(sa.Column("runner_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        batch.drop_column("runner_id")
    op.drop_index("ix_table_intents_storage_path", table_name="table_intents")
    op.drop_index("ix_table_intents_state", table_name="table_intents")
    op.drop_table("table_intents")
