"""Models of the lineage store: OpenLineage events as received, and what they fold into.

``lineage_events`` keeps every event verbatim with a content hash (duplicate deliveries are
skipped). Folding maintains namespaces, datasets and their versions, jobs and their versions,
runs, the traversal edges of each job's current version (input dataset -> job -> output
dataset) and column lineage from the ``columnLineage`` dataset facet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lakehold.store.models import Base, new_id, utcnow

NAME = 1000  # dataset and job names can be long (paths, qualified names)


class LineageEvent(Base):
    """One OpenLineage event as received (RunEvent, DatasetEvent or JobEvent)."""

    __tablename__ = "lineage_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    event_type: Mapped[str | None] = mapped_column(String(10))
    event_time: Mapped[datetime] = mapped_column()
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    job_namespace: Mapped[str | None] = mapped_column(String(255))
    job_name: Mapped[str | None] = mapped_column(String(NAME))
    payload: Mapped[str] = mapped_column(Text)  # the event's canonical JSON
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineageState(Base):
    """One row: ``generation`` counts folds, so that in-process graph snapshots know when they
    are stale."""

    __tablename__ = "lineage_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class LineageNamespace(Base):
    """A namespace of datasets and jobs (a data source or a scheduler)."""

    __tablename__ = "lineage_namespaces"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner_name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineageDataset(Base):
    """A dataset's current state: latest schema fields and facets."""

    __tablename__ = "lineage_datasets"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    namespace: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(NAME))
    opaque_id: Mapped[str] = mapped_column(String(32), default=new_id)  # placeholder when hidden
    description: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    current_version_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_modified_at: Mapped[datetime | None] = mapped_column()


class LineageDatasetVersion(Base):
    """A version of a dataset: one per run that writes it, and one per schema change."""

    __tablename__ = "lineage_dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("lineage_datasets.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(36))
    version_key: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(36))
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineageJob(Base):
    """A job's current state."""

    __tablename__ = "lineage_jobs"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    namespace: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(NAME))
    opaque_id: Mapped[str] = mapped_column(String(32), default=new_id)  # placeholder when hidden
    job_type: Mapped[str] = mapped_column(String(20), default="BATCH")
    description: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    current_version_id: Mapped[str | None] = mapped_column(String(32))
    latest_run_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineageJobVersion(Base):
    """A version of a job: a distinct set of inputs, outputs and SQL."""

    __tablename__ = "lineage_job_versions"
    __table_args__ = (UniqueConstraint("job_id", "version_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(
        ForeignKey("lineage_jobs.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(36))
    version_key: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    outputs: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    sql: Mapped[str | None] = mapped_column(Text)
    latest_run_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineageRun(Base):
    """A run of a job; ``id`` is the OpenLineage runId."""

    __tablename__ = "lineage_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_id: Mapped[str] = mapped_column(
        ForeignKey("lineage_jobs.id", ondelete="CASCADE"), index=True
    )
    job_version_id: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(10))
    nominal_start_time: Mapped[datetime | None] = mapped_column()
    nominal_end_time: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    transitioned_at: Mapped[datetime] = mapped_column()
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    inputs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    outputs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineageEdge(Base):
    """An edge of the graph: ``direction`` ``in`` (dataset -> job) or ``out`` (job -> dataset)."""

    __tablename__ = "lineage_edges"
    __table_args__ = (Index("ix_lineage_edges_dataset", "dataset_id", "direction"),)

    job_id: Mapped[str] = mapped_column(
        ForeignKey("lineage_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("lineage_datasets.id", ondelete="CASCADE"), primary_key=True
    )
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)


class LineageColumn(Base):
    """Column lineage: ``field`` of a dataset derives from an input dataset's field."""

    __tablename__ = "lineage_columns"
    __table_args__ = (Index("ix_lineage_columns_input", "input_namespace", "input_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("lineage_datasets.id", ondelete="CASCADE"), index=True
    )
    field: Mapped[str] = mapped_column(String(255))
    input_namespace: Mapped[str] = mapped_column(String(255))
    input_name: Mapped[str] = mapped_column(String(NAME))
    input_field: Mapped[str] = mapped_column(String(255))
    transformations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
