"""lineage: the generation of the fold that last changed each job and dataset

Revision ID: 0013_lineage_delta
Revises: 0012
Create Date: 2026-12-06 22:50:00

A process's in-memory lineage graph (``lakehold.lineage.graph_source``) catches up with the
store by reloading only the jobs and datasets changed since the generation it holds (and the
edges of those jobs), instead of every edge. Rows already stored are generation 0: a process
loads them with its first, full load.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_lineage_delta"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("lineage_jobs", "lineage_datasets")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0")
            )
            batch.create_index(f"ix_{table}_generation", ["generation"])


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_generation")
            batch.drop_column("generation")
