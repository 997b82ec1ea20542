"""Governance events, written to an outbox in the transaction of the state change they report.

:func:`emit` adds the event and one pending delivery per matching webhook to the caller's
session, so an event exists if and only if its state change committed (a transactional
outbox); :mod:`lakehold.governance.webhooks` delivers them afterwards, never inside the request
that changed the state.

Event types:

- ``subscription.requested``: a subscription request was created.
- ``subscription.approved``: a request was approved; the payload lists the grants with their
  filters (what an external system must fulfil).
- ``subscription.rejected``: a request was rejected.
- ``subscription.revoked``: a grant ended; ``action`` is ``revoke`` (by the owning project)
  or ``unsubscribe`` (by the subscribing project).
- ``subscription.filters_changed``: the owning project changed a grant's row or column filter
  in place; the payload has the new filters and ``before``.
- ``alert.opened`` / ``alert.resolved``: an anomaly alert of a project opened or resolved
  (:mod:`lakehold.governance.alerts`); ``project`` is the project the alert is about.
- ``connection.certificate_expiring``: the TLS certificate of a connection's server crossed an
  expiry threshold (30, 7, 1 days, or expired; :mod:`lakehold.sources.certificates`), once per
  threshold and certificate; ``project`` is the connection's project.

A webhook matches an event when it is active, subscribes to the event's type and is global or
belongs to the subscribing or the owning project of the event (an alert's project).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from lakehold.governance.usernames import username
from lakehold.security.principal import Principal
from lakehold.store.models import (
    Asset,
    AssetFilter,
    Grant,
    Listing,
    OutboxEvent,
    Project,
    SubscriptionRequest,
    SubscriptionRequestItem,
    Webhook,
    WebhookDelivery,
    as_utc,
    utcnow,
)

SUBSCRIPTION_REQUESTED = "subscription.requested"
SUBSCRIPTION_APPROVED = "subscription.approved"
SUBSCRIPTION_REJECTED = "subscription.rejected"
SUBSCRIPTION_REVOKED = "subscription.revoked"
SUBSCRIPTION_FILTERS_CHANGED = "subscription.filters_changed"
ALERT_OPENED = "alert.opened"
ALERT_RESOLVED = "alert.resolved"
CONNECTION_CERTIFICATE_EXPIRING = "connection.certificate_expiring"
EVENT_TYPES = (
    SUBSCRIPTION_REQUESTED,
    SUBSCRIPTION_APPROVED,
    SUBSCRIPTION_REJECTED,
    SUBSCRIPTION_REVOKED,
    SUBSCRIPTION_FILTERS_CHANGED,
    ALERT_OPENED,
    ALERT_RESOLVED,
    CONNECTION_CERTIFICATE_EXPIRING,
)
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

committed = threading.Event()
"""Set after a transaction that emitted events commits; wakes the dispatcher at once."""


def _notify(_session: Session) -> None:
    committed.set()


def emit(session: Session, event_type: str, payload: dict[str, Any]) -> OutboxEvent:
    """Record ``event_type`` with ``payload`` and a pending delivery per matching webhook, in
    ``session``'s transaction (nothing is sent here)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    now = utcnow()
    row = OutboxEvent(event_type=event_type, payload=_jsonable(payload), created_at=now)
    session.add(row)
    session.flush()
    names = {payload.get("project"), payload.get("owning_project")} - {None}
    project_ids = select(Project.id).where(Project.name.in_(names))
    hooks = session.scalars(
        select(Webhook).where(
            Webhook.active.is_(True),
            or_(Webhook.project_id.is_(None), Webhook.project_id.in_(project_ids)),
        )
    )
    for hook in hooks:
        if event_type in (hook.event_types or []):
            session.add(
                WebhookDelivery(
                    webhook_id=hook.id,
                    event_id=row.id,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    session.flush()
    event.listen(session, "after_commit", _notify, once=True)
    return row


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _filter(session: Session, filter_id: str | None) -> AssetFilter | None:
    return session.get(AssetFilter, filter_id) if filter_id else None


def _filters(session: Session, row_id: str | None, column_id: str | None) -> dict[str, Any]:
    row, col = _filter(session, row_id), _filter(session, column_id)
    return {
        "row_filter": row.name if row else None,
        "row_filter_expression": row.expression if row else None,
        "column_filter": col.name if col else None,
        "columns": list(col.columns or []) if col else None,
    }


def subscription_payload(
    session: Session, request: SubscriptionRequest, actor: Principal
) -> dict[str, Any]:
    """The payload of a ``subscription.*`` event about ``request`` (as it is now)."""
    subscriber = session.get(Project, request.project_id)
    assert subscriber is not None
    items = []
    owning = None
    for item in session.scalars(
        select(SubscriptionRequestItem)
        .where(SubscriptionRequestItem.request_id == request.id)
        .order_by(SubscriptionRequestItem.id)
    ):
        listing = session.get(Listing, item.listing_id)
        assert listing is not None
        asset = session.get(Asset, listing.asset_id)
        assert asset is not None
        owning = asset.project.name
        grant = session.scalar(select(Grant.id).where(Grant.request_item_id == item.id))
        items.append(
            {
                "listing_id": listing.id,
                "listing_revision": listing.revision,
                "asset": f"{asset.project.name}.{asset.name}",
                "grant_id": grant,
                **_filters(session, item.row_filter_id, item.column_filter_id),
            }
        )
    items.sort(key=lambda i: i["asset"])
    return {
        "request_id": request.id,
        "status": request.status,
        "project": subscriber.name,
        "owning_project": owning,
        "assets": [i["asset"] for i in items],
        "items": items,
        "requester": username(session, request.requester_id),
        "reason": request.reason,
        "form_values": dict(request.form_values or {}),
        "decided_by": username(session, request.decided_by),
        "comment": request.decision_comment,
        "created_at": request.created_at,
        "decided_at": request.decided_at,
        "actor": actor.username,
    }


def grant_payload(session: Session, grant: Grant, action: str, actor: Principal) -> dict[str, Any]:
    """The payload of an event about one grant: ``action`` is revoke, unsubscribe (a
    ``subscription.revoked`` event) or change_filters (``subscription.filters_changed``)."""
    asset = session.get(Asset, grant.asset_id)
    subscriber = session.get(Project, grant.project_id)
    assert asset is not None and subscriber is not None
    item = (
        session.get(SubscriptionRequestItem, grant.request_item_id)
        if grant.request_item_id
        else None
    )
    request = session.get(SubscriptionRequest, item.request_id) if item else None
    qualified = f"{asset.project.name}.{asset.name}"
    return {
        "action": action,
        "grant_id": grant.id,
        "request_id": request.id if request else None,
        "project": subscriber.name,
        "owning_project": asset.project.name,
        "asset": qualified,
        "assets": [qualified],
        "requester": username(session, request.requester_id) if request else None,
        "decided_by": username(session, request.decided_by) if request else None,
        "revoked_by": username(session, grant.revoked_by),
        **_filters(session, grant.row_filter_id, grant.column_filter_id),
        "granted_at": grant.created_at,
        "revoked_at": grant.revoked_at,
        "actor": actor.username,
    }
