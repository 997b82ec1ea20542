"""The alerts service: a project's alerts for its members, every alert for administrators, and
evaluations (periodic in ``lakehold serve``, or asked for by an administrator)."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lakehold.catalog.service import readable_project
from lakehold.errors import Invalid
from lakehold.governance.alerts.monitor import BUSY, evaluate
from lakehold.governance.alerts.thresholds import Thresholds
from lakehold.governance.alerts.views import STATES, AlertView, EvaluationView
from lakehold.kernel import Action, authorize, governed
from lakehold.periodic import Periodic
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import Alert, Project, utcnow

MAX_LIMIT = 1000


class AlertService:
    """Anomaly alerts of projects (ADR 34)."""

    def __init__(
        self, store: Store, thresholds: Thresholds | None = None, interval_seconds: float = 300.0
    ) -> None:
        self.store = store
        self.thresholds = thresholds or Thresholds()
        self.monitor = Periodic("lakehold-alerts", self.run, interval_seconds)

    # -- reading -------------------------------------------------------------------------------

    def list(
        self, principal: Principal, project: str, *, state: str | None = None, limit: int = 100
    ) -> list[AlertView]:
        """The project's alerts, newest first (members; a project one may not see is not
        found); ``state``: open or resolved only."""
        query = _query(state, limit)
        with self.store.session() as session:
            found = readable_project(session, principal, project)
            authorize(principal, Action.ALERT_READ, found, session=session)
            return _views(session, query.where(Alert.project_id == found.id))

    def list_all(
        self,
        principal: Principal,
        *,
        state: str | None = None,
        project: str | None = None,
        limit: int = 100,
    ) -> builtins.list[AlertView]:
        """Every project's alerts, newest first (administrators)."""
        query = _query(state, limit)
        authorize(principal, Action.ALERT_READ_ALL)
        with self.store.session() as session:
            if project is not None:
                query = query.where(
                    Alert.project_id == readable_project(session, principal, project).id
                )
            return _views(session, query)

    # -- evaluating ----------------------------------------------------------------------------

    def evaluate(self, principal: Principal, now: datetime | None = None) -> EvaluationView:
        """Evaluate every project's signals now (administrators; audited)."""
        with governed(self.store, principal, "alert.evaluate", decision=BUSY) as command:
            command.authorize(Action.ALERT_EVALUATE)
            evaluation = evaluate(command.session, now or utcnow(), self.thresholds)
            command.details.update(
                opened=[a.id for a in evaluation.opened],
                resolved=[a.id for a in evaluation.resolved],
            )
            return evaluation

    def run(self, now: datetime | None = None) -> EvaluationView:
        """One evaluation by Lakehold itself (the monitor's; no principal, not audited)."""
        with self.store.decision(BUSY) as session:
            return evaluate(session, now or utcnow(), self.thresholds)

    def start(self) -> None:
        """Evaluate periodically in a background thread (with the API server)."""
        self.monitor.start()

    def stop(self) -> None:
        self.monitor.stop()


def _query(state: str | None, limit: int) -> Select[Alert, str]:
    if state is not None and state not in STATES:
        raise Invalid("state is open or resolved", field="state")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit is a whole number from 1 to {MAX_LIMIT}", field="limit")
    query = (
        select(Alert, Project.name)
        .join(Project, Project.id == Alert.project_id)
        .order_by(Alert.opened_at.desc(), Alert.id)
        .limit(limit)
    )
    return query if state is None else query.where(Alert.state == state)


def _views(session: Session, query: Select[Alert, str]) -> list[AlertView]:
    return [AlertView.of(alert, name) for alert, name in session.execute(query)]
