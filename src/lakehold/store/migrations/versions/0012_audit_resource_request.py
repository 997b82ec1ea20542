"""audit events name their resource and the request that caused them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("resource", sa.String(300), nullable=True))
        batch.add_column(sa.Column("request_id", sa.String(64), nullable=True))
        batch.create_index("ix_audit_events_resource", ["resource"])
        batch.create_index("ix_audit_events_request_id", ["request_id"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_request_id")
        batch.drop_index("ix_audit_events_resource")
        batch.drop_column("request_id")
        batch.drop_column("resource")
