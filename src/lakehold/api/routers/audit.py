"""The audit log (administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.kernel.audit import AuditView

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditView])
def audit_events(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    username: str | None = None,
    project: str | None = None,
    action: str | None = None,
    allowed: bool | None = None,
    asset: Annotated[str | None, Query(description="project.table")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
):
    """Queries and decisions, newest first: who, project, SQL, assets, allowed or denied, why."""
    return runtime.audit.events(
        principal,
        username=username,
        project=project,
        action=action,
        allowed=allowed,
        asset=asset,
        limit=limit,
    )
