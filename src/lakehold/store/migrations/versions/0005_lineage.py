"""lineage: OpenLineage events, datasets, jobs, runs, edges, column lineage; token scopes

Revision ID: 0005_lineage
Revises: 0004
Create Date: 2026-11-23 16:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_lineage"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = 1000


def _id() -> sa.Column:
    return sa.Column("id", sa.String(32), primary_key=True)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str) -> sa.Column:
    return sa.Column(name, sa.JSON(), nullable=False)


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("scopes", sa.JSON(), nullable=True))
    op.create_table(
        "lineage_events",
        _id(),
        sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("event_type", sa.String(10)),
        _time("event_time"),
        sa.Column("run_id", sa.String(36), index=True),
        sa.Column("job_namespace", sa.String(255)),
        sa.Column("job_name", sa.String(NAME)),
        sa.Column("payload", sa.Text(), nullable=False),
        _time("received_at"),
    )
    state = op.create_table(
        "lineage_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "generation": 0}])
    op.create_table(
        "lineage_namespaces",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("owner_name", sa.String(255)),
        sa.Column("description", sa.Text()),
        _time("created_at"),
        _time("updated_at"),
    )
    op.create_table(
        "lineage_datasets",
        _id(),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("opaque_id", sa.String(32), nullable=False),
        sa.Column("description", sa.Text()),
        _json("fields"),
        _json("facets"),
        _json("tags"),
        sa.Column("current_version_id", sa.String(32)),
        _time("created_at"),
        _time("updated_at"),
        _time("last_modified_at", nullable=True),
        sa.UniqueConstraint("namespace", "name"),
    )
    op.create_table(
        "lineage_dataset_versions",
        _id(),
        sa.Column(
            "dataset_id",
            sa.String(32),
            sa.ForeignKey("lineage_datasets.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("version", sa.String(36), nullable=False),
        sa.Column("version_key", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(36)),
        _json("fields"),
        _json("facets"),
        _time("created_at"),
        sa.UniqueConstraint("dataset_id", "version_key"),
    )
    op.create_table(
        "lineage_jobs",
        _id(),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("opaque_id", sa.String(32), nullable=False),
        sa.Column("job_type", sa.String(20), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("location", sa.Text()),
        _json("facets"),
        sa.Column("current_version_id", sa.String(32)),
        sa.Column("latest_run_id", sa.String(36)),
        _time("created_at"),
        _time("updated_at"),
        sa.UniqueConstraint("namespace", "name"),
    )
    op.create_table(
        "lineage_job_versions",
        _id(),
        sa.Column(
            "job_id",
            sa.String(32),
            sa.ForeignKey("lineage_jobs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("version", sa.String(36), nullable=False),
        sa.Column("version_key", sa.String(64), nullable=False),
        _json("inputs"),
        _json("outputs"),
        sa.Column("sql", sa.Text()),
        sa.Column("latest_run_id", sa.String(36)),
        _time("created_at"),
        _time("updated_at"),
        sa.UniqueConstraint("job_id", "version_key"),
    )
    op.create_table(
        "lineage_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "job_id",
            sa.String(32),
            sa.ForeignKey("lineage_jobs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("job_version_id", sa.String(32)),
        sa.Column("state", sa.String(10), nullable=False),
        _time("nominal_start_time", nullable=True),
        _time("nominal_end_time", nullable=True),
        _time("started_at", nullable=True),
        _time("ended_at", nullable=True),
        _time("transitioned_at"),
        _json("facets"),
        _json("inputs"),
        _json("outputs"),
        _time("created_at"),
        _time("updated_at"),
    )
    op.create_table(
        "lineage_edges",
        sa.Column(
            "job_id",
            sa.String(32),
            sa.ForeignKey("lineage_jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "dataset_id",
            sa.String(32),
            sa.ForeignKey("lineage_datasets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("direction", sa.String(3), primary_key=True),
    )
    op.create_index("ix_lineage_edges_dataset", "lineage_edges", ["dataset_id", "direction"])
    op.create_table(
        "lineage_columns",
        _id(),
        sa.Column(
            "dataset_id",
            sa.String(32),
            sa.ForeignKey("lineage_datasets.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("field", sa.String(255), nullable=False),
        sa.Column("input_namespace", sa.String(255), nullable=False),
        sa.Column("input_name", sa.String(NAME), nullable=False),
        sa.Column("input_field", sa.String(255), nullable=False),
        _json("transformations"),
    )
    op.create_index(
        "ix_lineage_columns_input", "lineage_columns", ["input_namespace", "input_name"]
    )


def downgrade() -> None:
    for table in (
        "lineage_columns",
        "lineage_edges",
        "lineage_runs",
        "lineage_job_versions",
        "lineage_jobs",
        "lineage_dataset_versions",
        "lineage_datasets",
        "lineage_namespaces",
        "lineage_events",
        "lineage_state",
    ):
        op.drop_table(table)
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scopes")
