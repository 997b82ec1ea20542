"""Web sign-in sessions: one's own (administrators: anyone's), listed and ended."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.security.sessions import SessionInfo

router = APIRouter(prefix="/api/v1/sessions", tags=["users and tokens"])


@router.get("", response_model=list[SessionInfo])
def list_sessions(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    user: Annotated[
        str | None, Query(description="Administrators: another user's sessions (a username).")
    ] = None,
):
    """Active web sign-in sessions (device, address, created, last seen), newest first:
    yours, or (administrators) another user's. A session's secret is never shown."""
    return runtime.sessions.list_sessions(principal, username=user)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_session(session_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """End a web sign-in session (yours; administrators: anyone's). Its cookie is refused
    from the next request on."""
    runtime.sessions.revoke(principal, session_id)
