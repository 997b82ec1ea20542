"""One evaluation of the anomaly alerts, and the background thread that runs it periodically.

:func:`evaluate` reads every project's signals (:mod:`.signals`), opens an alert for each new
anomaly and resolves each open alert whose signal returned (or whose subject went away), and
emits ``alert.opened`` / ``alert.resolved`` events in the same transaction: the project's
webhooks and the global ones receive them signed and retried, as every event
(:mod:`lakehold.governance.webhooks`). Evaluations are serialised: an immediate transaction
on SQLite, a transaction-scoped advisory lock on PostgreSQL; a partial unique index keeps one
open alert per project, signal and subject whatever happens.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lakehold.governance.alerts import signals
from lakehold.governance.alerts.signals import Finding, Key, formatted
from lakehold.governance.alerts.thresholds import Thresholds
from lakehold.governance.alerts.views import OPEN, RESOLVED, AlertView, EvaluationView
from lakehold.governance.events import ALERT_OPENED, ALERT_RESOLVED, emit
from lakehold.store.driver import is_sqlite
from lakehold.store.models import Alert, Project, as_utc

log = logging.getLogger(__name__)

BUSY = "the alerts are being evaluated elsewhere; retry"
"""The Conflict of an evaluation refused a write (another one made the same alert first)."""
_LOCK_KEY = 0x4C48_414C_4552_5453
"""PostgreSQL advisory lock of an evaluation ("LHALERTS")."""
_GONE = {
    signals.FAILURE_RATE: "the failure rate can no longer be judged (too little history)",
    signals.SYNC_LAG: "the sync job was deleted or is no longer scheduled",
    signals.INGEST_VOLUME: "no rows were synced within the baseline's reach",
}


def evaluate(session: Session, now: datetime, t: Thresholds) -> EvaluationView:
    """Open and resolve alerts at ``now`` in ``session``'s transaction (an immediate one)."""
    if not is_sqlite(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    now = as_utc(now)
    findings = {finding.key: finding for finding in signals.read(session, now, t)}
    current: dict[Key, Alert] = {
        (alert.project_id, alert.signal, alert.subject): alert
        for alert in session.scalars(select(Alert).where(Alert.state == OPEN))
    }
    ending = [
        (alert, findings.get(key))
        for key, alert in current.items()
        if not _lasts(alert, findings.get(key))
    ]
    starting = [
        finding
        for key, finding in findings.items()
        if finding.reading.anomaly is not None
        and (key not in current or not _lasts(current[key], finding))
    ]
    ids = {alert.project_id for alert, _ in ending} | {f.project_id for f in starting}
    names: dict[str, str] = {
        project_id: name
        for project_id, name in session.execute(
            select(Project.id, Project.name).where(Project.id.in_(ids))
        )
    }
    resolved = [
        _resolve(session, alert, found, now, names[alert.project_id]) for alert, found in ending
    ]
    session.flush()  # before a new alert of the same key takes the open one's place
    opened = [_open(session, finding, now, names[finding.project_id]) for finding in starting]
    if opened or resolved:
        log.info("alerts: %d opened, %d resolved", len(opened), len(resolved))
    return EvaluationView(now, opened, resolved, len(current) - len(resolved) + len(opened))


def _lasts(alert: Alert, finding: Finding | None) -> bool:
    """Whether ``alert`` stays open: its signal still departs, the same way."""
    return finding is not None and finding.reading.anomaly == alert.direction


def _open(session: Session, finding: Finding, now: datetime, project: str) -> AlertView:
    direction = finding.reading.anomaly
    assert direction is not None
    alert = Alert(
        project_id=finding.project_id,
        signal=finding.signal,
        subject=finding.subject,
        direction=direction,
        state=OPEN,
        observed=finding.reading.observed,
        baseline=finding.reading.baseline,
        threshold=finding.reading.threshold(direction),
        message=finding.message(project, direction),
        details=finding.details(),
        opened_at=now,
    )
    session.add(alert)
    session.flush()
    view = AlertView.of(alert, project)
    emit(session, ALERT_OPENED, view.payload())
    return view


def _resolve(
    session: Session, alert: Alert, finding: Finding | None, now: datetime, project: str
) -> AlertView:
    alert.state, alert.resolved_at = RESOLVED, now
    if finding is None:
        resolution = _GONE.get(alert.signal, "the signal is gone")
    else:
        alert.resolved_observed = finding.reading.observed
        bound = formatted(alert.signal, finding.reading.threshold(alert.direction))
        back = formatted(alert.signal, finding.reading.observed)
        resolution = f"back to {back} (alert {alert.direction} {bound})"
    alert.details = {**(alert.details or {}), "resolution": resolution}
    view = AlertView.of(alert, project)
    emit(session, ALERT_RESOLVED, view.payload())
    return view
