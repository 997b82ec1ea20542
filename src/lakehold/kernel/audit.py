"""The audit log: every query, decision and change, allowed or denied, with who, where, on
what, why, and the request that caused it.

The table is append-only: this module adds events and reads them; nothing in Lakehold updates
or deletes one.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import LakeholdError
from lakehold.kernel import requests
from lakehold.kernel.actions import Action
from lakehold.kernel.authorize import authorize
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import AuditEvent, as_utc, new_id, utcnow

T = TypeVar("T")


def event(
    principal: Principal | None,
    action: str,
    *,
    allowed: bool,
    reason: str | None = None,
    project: str | None = None,
    sql: str | None = None,
    assets: Sequence[str] = (),
    details: dict[str, Any] | None = None,
    resource: str | None = None,
) -> dict[str, Any]:
    """The column values of an audit event; the current request's id
    (:mod:`lakehold.kernel.requests`) is recorded with it."""
    return {
        "id": new_id(),
        "at": utcnow(),
        "user_id": principal.user_id if principal else None,
        "username": principal.username if principal else None,
        "project": project if project is not None else (principal.project if principal else None),
        "action": action,
        "allowed": allowed,
        "reason": _text(reason),
        "sql": _text(sql),
        "assets": list(assets),
        "details": details or {},
        "resource": resource[:300] if resource else None,
        "request_id": requests.current(),
    }


def record(session: Session, principal: Principal | None, action: str, **fields: Any) -> None:
    """Add an audit event (:func:`event`'s arguments) to ``session``, committed with the
    caller's transaction."""
    session.add(AuditEvent(**event(principal, action, **fields)))


def _text(value: str | None) -> str | None:
    """Text a database can store: a NUL character (refused by PostgreSQL) written as ``\\0``."""
    return value.replace("\x00", "\\0") if value else value


@contextmanager
def denials(
    store: Store,
    principal: Principal | None,
    action: str,
    *,
    project: str | None = None,
    assets: Sequence[str] = (),
    details: dict[str, Any] | None = None,
    resource: str | None = None,
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
                resource=resource,
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
    resource: str | None = None
    request_id: str | None = None

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
            event.resource,
            event.request_id,
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
        resource: str | None = None,
        request_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditView]:
        """Newest first, filtered (administrators only); ``action`` ending in ``.*`` matches a
        family (``table.*``)."""
        authorize(principal, Action.AUDIT_READ)
        query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id)
        for column, value in (
            (AuditEvent.username, username),
            (AuditEvent.project, project),
            (AuditEvent.allowed, allowed),
            (AuditEvent.resource, resource),
            (AuditEvent.request_id, request_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if action is not None and action.endswith(".*"):
            query = query.where(AuditEvent.action.startswith(action[:-1]))
        elif action is not None:
            query = query.where(AuditEvent.action == action)
        if since is not None:
            query = query.where(AuditEvent.at >= as_utc(since).replace(tzinfo=None))
        if until is not None:
            query = query.where(AuditEvent.at < as_utc(until).replace(tzinfo=None))
        with self.store.session() as session:
            events = [
                AuditView.of(e) for e in session.scalars(query.limit(limit * 4 if asset else limit))
            ]
        if asset is not None:
            events = [e for e in events if asset in e.assets][:limit]
        return events


def audited(action: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Audit each call of a service method ``(self, principal, project, name, ...)`` whose change
    spans several transactions (a Delta commit between catalog updates): allowed once it
    returns, denied -- with the reason -- when it raises a Lakehold error. The service needs a
    ``store``; the event names ``project.name`` as its asset and resource."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
            bound = signature.bind(self, *args, **kwargs)
            principal, project = bound.arguments["principal"], bound.arguments["project"]
            asset = f"{project}.{bound.arguments['name']}"
            fields: dict[str, Any] = {
                "project": project,
                "assets": [asset],
                "resource": f"table:{asset}",
            }
            with denials(self.store, principal, action, **fields):
                result = method(self, *args, **kwargs)
            version = getattr(getattr(result, "result", None), "version", None)
            with self.store.session() as session:
                details = {"version": version} if version is not None else {}
                record(session, principal, action, allowed=True, details=details, **fields)
            return result

        return wrapper

    return decorate
