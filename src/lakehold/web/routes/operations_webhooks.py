"""A project's webhooks: create one (url, signing secret, events; project owners), and its
deliveries with status and attempts, a failed one sent again -- through the webhook service
as the signed-in principal. The signing secret is sent once and never shown back."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lakehold.errors import LakeholdError, NotFound
from lakehold.governance.webhooks import WebhookView
from lakehold.security.principal import Principal
from lakehold.web.forms import Refused
from lakehold.web.routes.operations import (
    FormState,
    kept_values,
    sources_page,
    sources_path,
)
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

DELIVERIES_SHOWN = 100
Status = Literal["pending", "delivered", "failed"]


def webhook_path(project: str, webhook_id: str) -> str:
    return f"/projects/{quote(project, safe='')}/webhooks/{quote(webhook_id, safe='')}"


@router.post("/projects/{project}/webhooks")
async def create_webhook(request: Request, project: str, principal: PagePrincipal) -> Response:
    """Create a webhook of the project; refused: the sources page with the form again."""
    form = await request.form()
    runtime = runtime_of(request)

    def create() -> Response:
        try:
            runtime.webhooks.create(
                principal,
                str(form.get("url", "")),
                str(form.get("secret", "")),
                project=project,
                event_types=[str(v) for v in form.getlist("event_types")] or None,
                description=str(form.get("description", "")).strip() or None,
            )
        except LakeholdError as error:
            state = FormState("webhook", Refused.of(error), kept_values(form))
            return sources_page(request, principal, project, state)
        return RedirectResponse(f"{sources_path(project)}#webhooks", status_code=303)

    return await run_in_threadpool(create)


def _webhook(request: Request, principal: Principal, project: str, webhook_id: str) -> WebhookView:
    """The webhook, when it is one of ``project``'s (else "not found", as for a stranger)."""
    hook = runtime_of(request).webhooks.get(principal, webhook_id)
    if hook.project != project:
        raise NotFound(f"webhook '{webhook_id}' not found")
    return hook


def _deliveries_page(
    request: Request,
    principal: Principal,
    project: str,
    webhook_id: str,
    status: Status | None = None,
    error: LakeholdError | None = None,
) -> Response:
    hook = _webhook(request, principal, project, webhook_id)
    deliveries = runtime_of(request).webhooks.deliveries(
        principal, webhook_id, status=status, limit=DELIVERIES_SHOWN
    )
    context = {
        "project": project,
        "base": sources_path(project),
        "here": webhook_path(project, webhook_id),
        "hook": hook,
        "deliveries": deliveries,
        "status": status or "",
        "statuses": ("pending", "delivered", "failed"),
        "error": error.message if error else None,
    }
    code = error.status_code if error else 200
    return render(request, "operations/webhook.html", context, status_code=code)


@router.get("/projects/{project}/webhooks/{webhook_id}")
def deliveries(
    request: Request,
    project: str,
    webhook_id: str,
    principal: PagePrincipal,
    status: Annotated[Status | Literal[""], Query()] = "",
) -> Response:
    """A webhook and its deliveries, newest first (optionally of one status)."""
    return _deliveries_page(request, principal, project, webhook_id, status or None)


@router.post("/projects/{project}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
def redeliver(
    request: Request, project: str, webhook_id: str, delivery_id: str, principal: PagePrincipal
) -> Response:
    """Send a failed delivery again (a fresh series of attempts); refused: the message."""
    _webhook(request, principal, project, webhook_id)
    try:
        runtime_of(request).webhooks.redeliver(principal, webhook_id, delivery_id)
    except LakeholdError as error:
        return _deliveries_page(request, principal, project, webhook_id, error=error)
    return RedirectResponse(webhook_path(project, webhook_id), status_code=303)
