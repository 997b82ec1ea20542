"""A week of history for the anomaly alert tests, written straight into the store with the times
a real week would have given it: ended statements and successful sync runs, hour by hour.

Window ``h`` of an evaluation at ``now`` holds the times in ``(now - (h+1) h, now - h h]``; each
seeded row sits in the middle of its window, so an evaluation a few seconds later (real
statements run in between) still puts it in the same window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import Project, Statement, new_id
from lakehold.store.sync import SyncJob, SyncRun
from tests.sources.conftest import SourceDb

HOUR = timedelta(hours=1)
WEEK = 168


def middle_of(now: datetime, window: int) -> datetime:
    """The middle of window ``window`` before ``now`` (0: the current one)."""
    return now - (window + 0.5) * HOUR


def project_id(runtime: Runtime, name: str) -> str:
    with runtime.store.session() as session:
        return session.scalars(select(Project.id).where(Project.name == name)).one()


def seed_statements(
    runtime: Runtime,
    project: str,
    user: Principal,
    now: datetime,
    *,
    windows: Iterable[int] = range(1, WEEK + 1),
    per_window: int = 10,
    failing: Callable[[int], int] = lambda window: window % 2,
) -> int:
    """``per_window`` ended statements of ``project`` in each of ``windows``, of which
    ``failing(window)`` FAILED (by default 1 in every other window: a 5% baseline); how many."""
    pid = project_id(runtime, project)
    rows = []
    for window in windows:
        ended = middle_of(now, window)
        for i in range(per_window):
            rows.append(
                {
                    "id": new_id(),
                    "user_id": user.user_id,
                    "project_id": pid,
                    "sql": "select 1 as x",
                    "status": "FAILED" if i < failing(window) else "FINISHED",
                    "error": "Conversion Error" if i < failing(window) else None,
                    "assets": [],
                    "created_at": ended - timedelta(seconds=1),
                    "started_at": ended - timedelta(seconds=1),
                    "ended_at": ended + timedelta(milliseconds=i),
                }
            )
    with runtime.store.session() as session:
        session.execute(insert(Statement), rows)
    return len(rows)


@dataclass(frozen=True)
class Job:
    """A sync job made through the services."""

    id: str
    project: str
    name: str


def source_job(
    runtime: Runtime,
    principal: Principal,
    project: str,
    source: SourceDb,
    name: str,
    *,
    schedule: str | None,
    changed_at: datetime,
) -> Job:
    """Connection ``<name>_src`` to ``source`` (a PostgreSQL schema with table ``orders``) and
    sync job ``name`` copying that table in full into table ``name``, last changed at
    ``changed_at``."""
    runtime.connections.create(principal, project, f"{name}_src", "postgresql", dict(source.params))
    runtime.sync_jobs.create(
        principal,
        project,
        name,
        connection=f"{name}_src",
        target_table=name,
        source_table=f"{source.schema}.orders",
        mode="full",
        schedule=schedule,
    )
    with runtime.store.session() as session:
        job_id = session.scalars(select(SyncJob.id).where(SyncJob.name == name)).one()
        session.execute(
            update(SyncJob)
            .where(SyncJob.id == job_id)
            .values(created_at=changed_at, updated_at=changed_at)
        )
    return Job(job_id, project, name)


def seed_runs(
    runtime: Runtime,
    job: Job,
    now: datetime,
    *,
    windows: Iterable[int] = range(1, WEEK + 1),
    rows: Callable[[int], int] = lambda window: 1000,
    status: str = "succeeded",
) -> None:
    """A run of ``job`` finished in the middle of each of ``windows``, writing ``rows(window)``
    rows (inserted)."""
    values = []
    for window in windows:
        finished = middle_of(now, window)
        values.append(
            {
                "id": new_id(),
                "job_id": job.id,
                "status": status,
                "trigger": "schedule",
                "mode": "full",
                "started_at": finished - timedelta(seconds=5),
                "finished_at": finished,
                "duration_seconds": 5.0,
                "rows_read": rows(window),
                "rows_inserted": rows(window),
                "rows_updated": 0,
                "rows_deleted": 0,
                "rows_rejected": 0,
            }
        )
    with runtime.store.session() as session:
        session.execute(insert(SyncRun), values)
