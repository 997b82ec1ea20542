"""Webhooks: endpoints notified of governance events, and their deliveries."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.governance.events import EVENT_TYPES
from lakehold.governance.webhooks import DeliveryView, PurgeView, WebhookView

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="http:// or https:// endpoint receiving POSTed JSON events")
    secret: str = Field(
        description="whsec_<base64 of 24-64 bytes>, or 16-200 characters used as UTF-8 bytes; "
        "signs each delivery as Standard Webhooks does (webhook-id, webhook-timestamp, "
        "webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>). Stored encrypted, "
        "never returned."
    )
    project: str | None = Field(
        default=None,
        description="The project whose events it receives (its owners manage it); "
        "omitted: a global webhook (administrators)",
    )
    event_types: list[str] | None = Field(
        default=None, description=f"Subscribed event types; omitted: all ({', '.join(EVENT_TYPES)})"
    )
    description: str | None = None
    active: bool = True


class WebhookChange(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(default=None, description="false: no new deliveries")
    url: str | None = None
    event_types: list[str] | None = None
    secret: str | None = Field(default=None, description="A new signing secret (rotation)")
    description: str | None = Field(default=None, description='"" clears it')


@router.post("", response_model=WebhookView, status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a webhook of a project (its owners) or a global one (administrators)."""
    return runtime.webhooks.create(
        principal,
        body.url,
        body.secret,
        project=body.project,
        event_types=body.event_types,
        description=body.description,
        active=body.active,
    )


@router.get("", response_model=list[WebhookView])
def list_webhooks(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    project: Annotated[str | None, Query(description="Only this project's webhooks")] = None,
):
    """The webhooks you manage."""
    return runtime.webhooks.list_webhooks(principal, project=project)


@router.post("/purge", response_model=PurgeView)
def purge(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    older_than_days: Annotated[int, Query(ge=1, le=36_500, description="Age in days")] = 30,
):
    """Delete delivered and failed deliveries older than N days, with the outbox events no
    pending delivery needs (administrators)."""
    return runtime.webhooks.purge(principal, older_than_days)


@router.get("/{webhook_id}", response_model=WebhookView)
def get_webhook(webhook_id: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One webhook (without its secret)."""
    return runtime.webhooks.get(principal, webhook_id)


@router.patch("/{webhook_id}", response_model=WebhookView)
def update_webhook(
    webhook_id: str, body: WebhookChange, runtime: RuntimeDep, principal: PrincipalDep
):
    """Enable or disable a webhook, change its url, events or description, rotate its secret."""
    return runtime.webhooks.update(
        principal,
        webhook_id,
        active=body.enabled,
        url=body.url,
        event_types=body.event_types,
        secret=body.secret,
        description=body.description,
    )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Delete a webhook and its deliveries."""
    runtime.webhooks.delete(principal, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryView])
def list_deliveries(
    webhook_id: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    status: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(description="Filter by status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    """Deliveries of a webhook, newest first: status, attempts, last status code or error."""
    return runtime.webhooks.deliveries(principal, webhook_id, status=status, limit=limit)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryView)
def redeliver(webhook_id: str, delivery_id: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Send a failed delivery again (it starts over with a fresh series of attempts)."""
    return runtime.webhooks.redeliver(principal, webhook_id, delivery_id)
