"""How far behind a project's sync jobs are, read at each scrape, per project:

- behind their schedules: the largest time since one of its scheduled jobs last succeeded
  (``lakehold_sync_lag_seconds``). A scheduled job without a success in the last
  :data:`WINDOW` counts from its creation, at most the window back: capped at :data:`WINDOW`;
- behind the source: the largest time between now and the watermark an incremental job last
  committed, where that watermark is a date or time (``lakehold_sync_watermark_lag_seconds``):
  how old the newest source change the lakehouse holds is. A numeric watermark says nothing
  of time and is left out.

One read, bounded: the jobs, and the successful runs of the last :data:`WINDOW` (through the
index on ``started_at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakehold.store.models import Project, as_utc
from lakehold.store.sync import SyncJob, SyncRun

WINDOW = timedelta(days=7)
SUCCEEDED = "succeeded"


@dataclass
class SyncLags:
    """Per project name, seconds."""

    since_success: dict[str, float] = field(default_factory=dict)
    behind_watermark: dict[str, float] = field(default_factory=dict)


def lag_by_project(session: Session, now: datetime) -> SyncLags:
    """How far behind each project's jobs are (projects with scheduled jobs, or with an
    incremental job whose watermark is a time)."""
    since = now - WINDOW
    last = (
        select(SyncRun.job_id, func.max(SyncRun.finished_at).label("at"))
        .where(SyncRun.status == SUCCEEDED, SyncRun.started_at >= since)
        .group_by(SyncRun.job_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Project.name, SyncJob.schedule, SyncJob.created_at, SyncJob.last_watermark, last.c.at
        )
        .join(Project, Project.id == SyncJob.project_id)
        .outerjoin(last, last.c.job_id == SyncJob.id)
        .where(SyncJob.schedule.is_not(None) | SyncJob.last_watermark.is_not(None))
    )
    lags = SyncLags()
    for project, schedule, created_at, watermark, succeeded_at in rows:
        if schedule is not None:
            reference = as_utc(succeeded_at) or max(as_utc(created_at), since)
            _keep_largest(lags.since_success, project, now - reference)
        moment = _moment(watermark)
        if moment is not None:
            _keep_largest(lags.behind_watermark, project, now - moment)
    return lags


def _keep_largest(lags: dict[str, float], project: str, behind: timedelta) -> None:
    lags[project] = max(behind.total_seconds(), lags.get(project, 0.0), 0.0)


def _moment(watermark: str | None) -> datetime | None:
    """A watermark as a time (a date, a time with or without a zone: UTC when without), or
    None when it is not one (a number)."""
    if not watermark:
        return None
    try:
        moment = datetime.fromisoformat(watermark)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
