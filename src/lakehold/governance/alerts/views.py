"""Alerts as the API, the portal and webhook payloads show them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from lakehold.governance.alerts.signals import UNITS
from lakehold.store.models import Alert, as_utc

OPEN, RESOLVED = "open", "resolved"
STATES = (OPEN, RESOLVED)


def link(project: str) -> str:
    """The portal's path where a project's alerts are listed."""
    return f"/projects/{quote(project, safe='')}/sources#alerts"


@dataclass(frozen=True)
class AlertView:
    id: str
    project: str
    signal: str
    """statement_failure_rate, sync_lag or ingest_volume."""
    subject: str | None
    """The sync job (sync_lag); None: the project as a whole."""
    direction: str
    """above or below the baseline."""
    state: str
    """open or resolved."""
    unit: str
    """What observed, baseline and threshold count: ratio, seconds or rows."""
    observed: float
    baseline: float
    threshold: float
    message: str
    details: dict[str, Any]
    opened_at: datetime
    resolved_at: datetime | None
    resolved_observed: float | None
    link: str
    """The portal page listing the project's alerts (a path on this server)."""

    @classmethod
    def of(cls, alert: Alert, project: str) -> AlertView:
        return cls(
            id=alert.id,
            project=project,
            signal=alert.signal,
            subject=alert.subject,
            direction=alert.direction,
            state=alert.state,
            unit=UNITS.get(alert.signal, ""),
            observed=alert.observed,
            baseline=alert.baseline,
            threshold=alert.threshold,
            message=alert.message,
            details=dict(alert.details or {}),
            opened_at=as_utc(alert.opened_at),
            resolved_at=as_utc(alert.resolved_at),
            resolved_observed=alert.resolved_observed,
            link=link(project),
        )

    def payload(self) -> dict[str, Any]:
        """The data of its ``alert.opened`` or ``alert.resolved`` event (``project`` routes it
        to the project's webhooks and the global ones)."""
        return {"alert_id": self.id, **{k: v for k, v in asdict(self).items() if k != "id"}}


@dataclass(frozen=True)
class EvaluationView:
    """What one evaluation changed."""

    evaluated_at: datetime
    opened: list[AlertView]
    resolved: list[AlertView]
    open: int
    """Alerts open after it, in every project."""
