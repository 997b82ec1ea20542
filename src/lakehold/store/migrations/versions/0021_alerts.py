"""operations: alerts routed to the project that owns the data

Revision ID: 0021_alerts
Revises: 0020
Create Date: 2026-12-07

``alerts``: an anomaly of one signal of a project (statement failure rate, sync lag, ingest
volume), open while it lasts and resolved when the signal returns; two partial unique indexes
keep one open alert per project, signal and subject (a sync job, or none).
``statements.ended_at`` is indexed: the monitor reads a week of ended statements at each
evaluation (ADR 34).
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_alerts"
down_revision = "0020"
branch_labels = None
depends_on = None

OPEN_OF_A_SUBJECT = sa.text("state = 'open' AND subject IS NOT NULL")
OPEN_OF_THE_PROJECT = sa.text("state = 'open' AND subject IS NULL")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("signal", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("observed", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_observed", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    for name, columns, where in (
        ("uq_alerts_open_subject", ["project_id", "signal", "subject"], OPEN_OF_A_SUBJECT),
        ("uq_alerts_open_project", ["project_id", "signal"], OPEN_OF_THE_PROJECT),
    ):
        op.create_index(
            name, "alerts", columns, unique=True, sqlite_where=where, postgresql_where=where
        )
    op.create_index("ix_alerts_project_id_opened_at", "alerts", ["project_id", "opened_at"])
    op.create_index("ix_alerts_opened_at", "alerts", ["opened_at"])
    op.create_index("ix_statements_ended_at", "statements", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_statements_ended_at", table_name="statements")
    op.drop_table("alerts")
