"""The audit log (administrators)."""

from __future__ import annotations

from datetime import datetime
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
    resource: Annotated[str | None, Query(description="e.g. project:retail")] = None,
    request_id: Annotated[str | None, Query(description="the X-Request-ID of a request")] = None,
    since: Annotated[datetime | None, Query(description="ISO time, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO time, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
):
    """Queries, decisions and changes, newest first: who, project, resource, SQL, assets,
    allowed or denied, why, and the request. ``action`` may end in ``.*`` (``table.*``)."""
    return runtime.audit.events(
        principal,
        username=username,
        project=project,
        action=action,
        allowed=allowed,
        asset=asset,
        resource=resource,
        request_id=request_id,
        since=since,
        until=until,
        limit=limit,
    )
