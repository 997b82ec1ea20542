"""The audit log: every query and decision, allowed or denied, with who, where and why."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import LakeholdError
from lakehold.kernel.actions import Action
from lakehold.kernel.authorize import authorize
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import AuditEvent


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    *,
    allowed: bool,
    reason: str | None = None,
    project: str | None = None,
    sql: str | None = None,
    assets: Sequence[str] = (),
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to ``session`` (committed with the caller's transaction)."""
    session.add(
        AuditEvent(
            user_id=principal.user_id if principal else None,
            username=principal.username if principal else None,
            project=project if project is not None else (principal.project if principal else None),
            action=action,
            allowed=allowed,
            reason=reason,
            sql=sql,
            assets=list(assets),
            details=details or {},
        )
    )


@contextmanager
def denials(
    store: Store,
    principal: Principal | None,
    action: str,
    *,
    project: str | None = None,
    assets: Sequence[str] = (),
    details: dict[str, Any] | None = None,
) -> Iterator[None]:
    """Record a refused ``action`` (any typed error) in a transaction of its own, then re-raise.

    The work inside is rolled back by its own session; the denial stays in the log.
    """
    try:
        yield
    except LakeholdError as error:
        with store.session() as session:
            record(
                session,
                principal,
                action,
                allowed=False,
                reason=getattr(error, "audit_reason", None) or error.message,
                project=project,
                assets=assets,
                details={**(details or {}), "error": error.code},
            )
        raise


@dataclass(frozen=True)
class AuditView:
    id: str
    at: datetime
    username: str | None
    project: str | None
    action: str
    allowed: bool
    reason: str | None
    sql: str | None
    assets: list[str]
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditView:
        return cls(
            event.id,
            event.at,
            event.username,
            event.project,
            event.action,
            event.allowed,
            event.reason,
            event.sql,
            list(event.assets or []),
            dict(event.details or {}),
        )


class AuditService:
    """Reading the audit log (administrators)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, principal: Principal | None, action: str, **fields: Any) -> None:
        """Record an event in a transaction of its own (for denials that roll back the rest)."""
        with self.store.session() as session:
            record(session, principal, action, **fields)

    def events(
        self,
        principal: Principal,
        *,
        username: str | None = None,
        project: str | None = None,
        action: str | None = None,
        allowed: bool | None = None,
        asset: str | None = None,
        limit: int = 100,
    ) -> list[AuditView]:
        """Newest first, filtered (administrators only)."""
        authorize(principal, Action.AUDIT_READ)
        query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id)
        for column, value in (
            (AuditEvent.username, username),
            (AuditEvent.project, project),
            (AuditEvent.action, action),
            (AuditEvent.allowed, allowed),
        ):
            if value is not None:
                query = query.where(column == value)
        with self.store.session() as session:
            events = [
                AuditView.of(e) for e in session.scalars(query.limit(limit * 4 if asset else limit))
            ]
        if asset is not None:
            events = [e for e in events if asset in e.assets][:limit]
        return events
