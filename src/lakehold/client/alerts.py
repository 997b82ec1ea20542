"""The SDK's alerts: anomalies of a project's statement failure rate, sync lag and ingest
volume against their rolling baselines."""

from __future__ import annotations

import builtins
from typing import Literal

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment

State = Literal["open", "resolved"]


class Alerts(Resource):
    """Alerts of projects: their members read them, administrators read every project's and
    evaluate them on demand (the server evaluates them periodically)."""

    def list(
        self, project: str, *, state: State | None = None, limit: int = 100
    ) -> builtins.list[m.AlertView]:
        """The project's alerts, newest first; ``state``: only open or resolved ones."""
        return self._get(
            f"/api/v1/projects/{segment(project)}/alerts",
            list[m.AlertView],
            params={"state": state, "limit": limit},
        )

    def list_all(
        self, *, state: State | None = None, project: str | None = None, limit: int = 100
    ) -> builtins.list[m.AlertView]:
        """Every project's alerts, newest first (administrators)."""
        return self._get(
            "/api/v1/alerts",
            list[m.AlertView],
            params={"state": state, "project": project, "limit": limit},
        )

    def evaluate(self) -> m.EvaluationView:
        """Evaluate every project's signals now: the alerts opened and resolved (administrators)."""
        return self._post("/api/v1/alerts/evaluate", m.EvaluationView)
