"""The signals of every project, read from the metadata store in three aggregate queries per
evaluation (never a query per project), and judged against their baselines (:mod:`.readings`).

- ``statement_failure_rate``: statements that ended in each window, and those of them that
  FAILED, by the statement's project (``statements.ended_at``, indexed).
- ``ingest_volume``: rows written by successful sync runs (inserted + updated + deleted) in
  each window, by the job's project. Table writes through the API record no row count in the
  store (only their audit event and Delta version), so they are not counted.
- ``sync_lag``: each scheduled sync job's last successful run (or its creation or last change).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, case, cast, extract, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from lakehold.governance.alerts.readings import (
    ABOVE,
    Reading,
    failure_rate,
    ingest_volume,
    sync_lag,
)
from lakehold.governance.alerts.thresholds import Thresholds
from lakehold.store.driver import is_sqlite
from lakehold.store.models import Statement, as_utc
from lakehold.store.sync import SyncJob, SyncRun

FAILURE_RATE = "statement_failure_rate"
SYNC_LAG = "sync_lag"
INGEST_VOLUME = "ingest_volume"
SIGNALS = (FAILURE_RATE, SYNC_LAG, INGEST_VOLUME)
UNITS = {FAILURE_RATE: "ratio", SYNC_LAG: "seconds", INGEST_VOLUME: "rows"}
"""What a signal's observed, baseline and threshold values count."""

Key = tuple[str, str, str | None]
"""(project id, signal, subject): at most one open alert each."""


@dataclass(frozen=True)
class Finding:
    """A signal of a project (and subject) as read at one evaluation."""

    project_id: str
    signal: str
    subject: str | None
    reading: Reading
    window_start: datetime
    window_end: datetime

    @property
    def key(self) -> Key:
        return (self.project_id, self.signal, self.subject)

    def message(self, project: str, direction: str) -> str:
        """What an alert of this finding says (``direction``: the alert's)."""
        r, bound = self.reading, formatted(self.signal, self.reading.threshold(direction))
        if self.signal == FAILURE_RATE:
            return (
                f"{r.details['failed']} of {r.details['statements']} statements of project "
                f"'{project}' failed in the last {_duration(self.window)} ({r.observed:.0%}; "
                f"baseline {r.baseline:.0%}, alert above {bound})"
            )
        if self.signal == SYNC_LAG:
            since = r.details["last_success_at"] or "it was created or changed"
            return (
                f"sync job '{project}.{self.subject}' ({r.details['schedule']}) has not "
                f"succeeded since {since}: {_duration(r.observed)} overdue, more than {bound} "
                f"({_duration(r.baseline)} between runs)"
            )
        change, limit = ("rose to", "above") if direction == ABOVE else ("dropped to", "below")
        return (
            f"rows synced into project '{project}' {change} {r.observed:,.0f} in the last "
            f"{_duration(self.window)} (baseline {r.baseline:,.0f} a window, alert {limit} "
            f"{bound})"
        )

    @property
    def window(self) -> float:
        return (self.window_end - self.window_start).total_seconds()

    def details(self) -> dict[str, Any]:
        """The alert's details: the reading's counts and the window."""
        return {
            **self.reading.details,
            "window_start": as_utc(self.window_start).isoformat(),
            "window_end": as_utc(self.window_end).isoformat(),
        }


def formatted(signal: str, value: float) -> str:
    """A value of ``signal`` for people: a percentage, a duration or a count of rows."""
    if signal == FAILURE_RATE:
        return f"{value:.0%}"
    if signal == SYNC_LAG:
        return _duration(value)
    return f"{value:,.0f} rows"


def _duration(seconds: float) -> str:
    """``seconds`` for people: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours = seconds // 60, seconds // 3600
    if hours == 0:
        return f"{minutes} min"
    if hours < 48:
        rest = minutes % 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    rest = hours % 24
    return f"{hours // 24} d {rest} h" if rest else f"{hours // 24} d"


def read(session: Session, now: datetime, t: Thresholds) -> list[Finding]:
    """Every project's signals at ``now`` that can be judged (enough history, a schedule)."""
    now = as_utc(now)
    window_start = now - t.window
    since = now - t.window * (t.history_windows + 1)
    findings = []
    for project_id, windows in _failure_windows(session, now, since, t.window).items():
        reading = failure_rate(windows, t)
        if reading is not None:
            findings.append(Finding(project_id, FAILURE_RATE, None, reading, window_start, now))
    for project_id, volumes in _ingest_windows(session, now, since, t.window).items():
        reading = ingest_volume(volumes, t)
        if reading is not None:
            findings.append(Finding(project_id, INGEST_VOLUME, None, reading, window_start, now))
    for project_id, name, schedule, since_change, last_success in _scheduled_jobs(session):
        reference = max(as_utc(since_change), as_utc(last_success) or as_utc(since_change))
        reading = sync_lag(schedule, reference, last_success, now, t)
        findings.append(Finding(project_id, SYNC_LAG, name, reading, reference, now))
    return findings


def _windows_ago(
    session: Session, now: datetime, column: InstrumentedAttribute[Any], window: timedelta
) -> ColumnElement[int]:
    """How many whole windows before ``now`` the time in ``column`` is (0: the last one)."""
    at = literal(now, DateTime(timezone=True))
    seconds = window.total_seconds()
    if is_sqlite(session):
        elapsed = (func.julianday(at) - func.julianday(column)) * 86400.0
        return cast(elapsed / seconds, Integer)  # a cast truncates: floor, for times before now
    return cast(func.floor(extract("epoch", at - column) / seconds), Integer)


def _failure_windows(
    session: Session, now: datetime, since: datetime, window: timedelta
) -> dict[str, dict[int, tuple[int, int]]]:
    """project id → window → (statements ended, of which FAILED)."""
    number = _windows_ago(session, now, Statement.ended_at, window).label("window")
    failed = func.sum(case((Statement.status == "FAILED", 1), else_=0))
    rows = session.execute(
        select(Statement.project_id, number, func.count(), failed)
        .where(
            Statement.ended_at > since,
            Statement.ended_at <= now,
            Statement.project_id.is_not(None),
        )
        .group_by(Statement.project_id, number)
    )
    windows: defaultdict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
    for project_id, n, ended, failures in rows:
        windows[project_id][int(n)] = (int(ended), int(failures or 0))
    return windows


def _ingest_windows(
    session: Session, now: datetime, since: datetime, window: timedelta
) -> dict[str, dict[int, int]]:
    """project id → window → rows written by successful sync runs that finished in it."""
    number = _windows_ago(session, now, SyncRun.finished_at, window).label("window")
    written = func.sum(SyncRun.rows_inserted + SyncRun.rows_updated + SyncRun.rows_deleted)
    rows = session.execute(
        select(SyncJob.project_id, number, written)
        .join(SyncJob, SyncJob.id == SyncRun.job_id)
        .where(
            SyncRun.status == "succeeded",
            SyncRun.started_at > since,  # indexed; a run finishes after it starts
            SyncRun.finished_at > since,
            SyncRun.finished_at <= now,
        )
        .group_by(SyncJob.project_id, number)
    )
    windows: defaultdict[str, dict[int, int]] = defaultdict(dict)
    for project_id, n, total in rows:
        windows[project_id][int(n)] = int(total or 0)
    return windows


def _scheduled_jobs(
    session: Session,
) -> list[tuple[str, str, str, datetime, datetime | None]]:
    """(project id, name, schedule, last change, last successful run's end) of every job
    with a schedule; the last success read through the runs' job index."""
    last_success = (
        select(func.max(SyncRun.finished_at))
        .where(SyncRun.job_id == SyncJob.id, SyncRun.status == "succeeded")
        .scalar_subquery()
    )
    rows = session.execute(
        select(SyncJob.project_id, SyncJob.name, SyncJob.schedule, SyncJob.updated_at, last_success)
        .where(SyncJob.schedule.is_not(None))
        .order_by(SyncJob.project_id, SyncJob.name)
    )
    return [(p, n, str(s), u, as_utc(last)) for p, n, s, u, last in rows]
