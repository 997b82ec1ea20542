"""How far behind their schedules a project's sync jobs are: per project, the largest time since
one of its scheduled jobs last succeeded (``lakehold_sync_lag_seconds``, read at each scrape).

One read, bounded: the scheduled jobs, and the successful runs of the last :data:`WINDOW`
(through the index on ``started_at``). A scheduled job without a success in the window counts
from its creation, at most the window back: the lag is capped at :data:`WINDOW`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakehold.store.models import Project, as_utc
from lakehold.store.sync import SyncJob, SyncRun

WINDOW = timedelta(days=7)
SUCCEEDED = "succeeded"


def lag_by_project(session: Session, now: datetime) -> dict[str, float]:
    """Project name -> seconds since its least recently successful scheduled job succeeded
    (projects with scheduled jobs only)."""
    since = now - WINDOW
    last = (
        select(SyncRun.job_id, func.max(SyncRun.finished_at).label("at"))
        .where(SyncRun.status == SUCCEEDED, SyncRun.started_at >= since)
        .group_by(SyncRun.job_id)
        .subquery()
    )
    rows = session.execute(
        select(Project.name, SyncJob.created_at, last.c.at)
        .join(Project, Project.id == SyncJob.project_id)
        .outerjoin(last, last.c.job_id == SyncJob.id)
        .where(SyncJob.schedule.is_not(None))
    )
    lags: dict[str, float] = {}
    for project, created_at, succeeded_at in rows:
        reference = as_utc(succeeded_at) or max(as_utc(created_at), since)
        seconds = max((now - reference).total_seconds(), 0.0)
        lags[project] = max(seconds, lags.get(project, 0.0))
    return lags
