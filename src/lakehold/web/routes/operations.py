"""A project's sources page: connections (list, test, create), data sources, sync jobs and
webhooks, as the signed-in principal (issue 13, page 7).

``/projects/{project}/sources`` lists each kind, and the project's open and recent anomaly
alerts, through its service; a section the principal
may not see shows the service's refusal instead. Connections are created and tested here
(project owners): a password is sent once and never shown back, only whether one is set.
Runs are in :mod:`.operations_runs`, webhooks and their deliveries in
:mod:`.operations_webhooks`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from lakehold.connectors.params import KINDS
from lakehold.errors import LakeholdError
from lakehold.governance.alerts import AlertView
from lakehold.governance.events import EVENT_TYPES
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.web.forms import Refused
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

PARAMS = ("host", "port", "database", "user", "path")
"""Connection parameters the form asks for (the password is its own field, never a param)."""
SECRET_FIELDS = frozenset({"password", "secret"})
"""Form fields never sent back into a re-rendered form."""
RECENT_RESOLVED = 20
"""Resolved alerts the page lists below the open ones."""


def sources_path(project: str) -> str:
    return f"/projects/{quote(project, safe='')}/sources"


@dataclass(frozen=True)
class Section:
    """One list of the page, or the refusal of the service that keeps it."""

    items: list[Any] = field(default_factory=list)
    refused: str | None = None


def _section(load: Callable[[], list[Any]]) -> Section:
    try:
        return Section(load())
    except LakeholdError as error:
        return Section(refused=error.message)


@dataclass(frozen=True)
class FormState:
    """A submitted form the services refused (``form`` names which), re-shown with its values
    (secrets left out) and a message per field; or a notice after a connection test."""

    form: str
    refused: Refused | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    notice: str | None = None


def kept_values(form: FormData) -> dict[str, Any]:
    """What a re-rendered form shows again: every field but the secrets and the CSRF token."""
    kept: dict[str, Any] = {}
    for key in form:
        if key in SECRET_FIELDS or key == "csrf_token":
            continue
        values = form.getlist(key)
        kept[key] = values if len(values) > 1 or key == "event_types" else values[0]
    return kept


def sources_page(
    request: Request, principal: Principal, project: str, state: FormState | None = None
) -> Response:
    """The page (404 as the API gives it when the project is not readable); ``state``: a
    form to show again, with the status of its refusal."""
    runtime = runtime_of(request)
    found = runtime.catalog.get_project(principal, project)
    context = {
        "project": found,
        "base": sources_path(project),
        "connections": _section(lambda: runtime.connections.list(principal, project)),
        "data_sources": _section(lambda: runtime.data_sources.list(principal, project)),
        "sync_jobs": _section(lambda: runtime.sync_jobs.list(principal, project)),
        "webhooks": _section(lambda: runtime.webhooks.list_webhooks(principal, project=project)),
        "alerts": _section(lambda: _alerts(runtime, principal, project)),
        "kinds": KINDS,
        "params": PARAMS,
        "event_types": EVENT_TYPES,
        "state": state or FormState(""),
    }
    status = state.refused.status if state and state.refused else 200
    return render(request, "operations/sources.html", context, status_code=status)


def _alerts(runtime: Runtime, principal: Principal, project: str) -> list[AlertView]:
    """The project's open alerts, then its :data:`RECENT_RESOLVED` latest resolved ones."""
    alerts = runtime.alerts
    return [
        *alerts.list(principal, project, state="open"),
        *alerts.list(principal, project, state="resolved", limit=RECENT_RESOLVED),
    ]


@router.get("/projects/{project}/sources")
def sources(request: Request, project: str, principal: PagePrincipal) -> Response:
    """Connections, data sources, sync jobs and webhooks of ``project``."""
    return sources_page(request, principal, project)


def connection_params(form: FormData) -> dict[str, Any]:
    """The params of the connection form: the fields filled in, a port of digits as a number."""
    params: dict[str, Any] = {}
    for key in PARAMS:
        value = str(form.get(key, "")).strip()
        if value:
            params[key] = int(value) if key == "port" and value.isdigit() else value
    return params


@router.post("/projects/{project}/sources/connections")
async def create_connection(request: Request, project: str, principal: PagePrincipal) -> Response:
    """Create a connection (owners); refused: the form again, the message by its field."""
    form = await request.form()
    runtime = runtime_of(request)

    def create() -> Response:
        try:
            runtime.connections.create(
                principal,
                project,
                str(form.get("name", "")).strip(),
                str(form.get("kind", "")),
                connection_params(form),
                password=str(form.get("password", "")) or None,
                description=str(form.get("description", "")).strip() or None,
            )
        except LakeholdError as error:
            names = {f"params.{key}": key for key in PARAMS}
            state = FormState("connection", Refused.of(error, names), kept_values(form))
            return sources_page(request, principal, project, state)
        return RedirectResponse(f"{sources_path(project)}#connections", status_code=303)

    return await run_in_threadpool(create)


@router.post("/projects/{project}/sources/connections/{name}/test")
async def test_connection(
    request: Request, project: str, name: str, principal: PagePrincipal
) -> Response:
    """Reach the source (short timeout, within the probe limits) and say what answered."""
    runtime = runtime_of(request)
    try:
        tested = await runtime.probes.arun(
            principal.user_id, lambda: runtime.connections.test(principal, project, name)
        )
    except LakeholdError as error:
        state = FormState(f"test:{name}", Refused.of(error), notice=error.message)
        return await run_in_threadpool(sources_page, request, principal, project, state)
    notice = (
        f"{tested.connection} answered: {tested.kind} {tested.version}, "
        f"{tested.tables} tables, in {tested.elapsed_ms} ms."
    )
    state = FormState(f"test:{name}", notice=notice)
    return await run_in_threadpool(sources_page, request, principal, project, state)
