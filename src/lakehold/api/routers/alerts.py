"""Anomaly alerts of projects: statement failure rate, sync lag and ingest volume against their
rolling baselines (ADR 34)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.governance.alerts import AlertView, EvaluationView

router = APIRouter(tags=["alerts"])

State = Annotated[Literal["open", "resolved"] | None, Query(description="Only open or resolved")]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first")]


@router.get("/api/v1/projects/{project}/alerts", response_model=list[AlertView])
def list_project_alerts(
    project: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    state: State = None,
    limit: Limit = 100,
):
    """The project's alerts, newest first (members of the project)."""
    return runtime.alerts.list(principal, project, state=state, limit=limit)


@router.get("/api/v1/alerts", response_model=list[AlertView])
def list_alerts(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    state: State = None,
    project: Annotated[str | None, Query(description="Only this project's")] = None,
    limit: Limit = 100,
):
    """Every project's alerts, newest first (administrators)."""
    return runtime.alerts.list_all(principal, state=state, project=project, limit=limit)


@router.post("/api/v1/alerts/evaluate", response_model=EvaluationView)
def evaluate_alerts(runtime: RuntimeDep, principal: PrincipalDep):
    """Evaluate every project's signals now, as `lakehold serve` does periodically: open the
    alerts of new anomalies, resolve those whose signal returned (administrators)."""
    return runtime.alerts.evaluate(principal)
