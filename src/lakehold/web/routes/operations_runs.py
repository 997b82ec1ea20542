"""The runs of a project's data sources (crawlers) and sync jobs: listed newest first with
status, counts and errors, and "run now" -- through their services, as the signed-in
principal. A failed run is recorded by the service and shown with the refusal's message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lakehold.errors import LakeholdError, NotFound
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.web.routes.operations import sources_path
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

RUNS_SHOWN = 50


@dataclass(frozen=True)
class Runnable:
    """A kind of thing with runs: how to read it and its runs, run it, and show it."""

    title: str
    template: str
    get: Callable[[Runtime, Principal, str, str], Any]
    runs: Callable[[Runtime, Principal, str, str], list[Any]]
    run: Callable[[Runtime, Principal, str, str], Any]
    probe: bool
    """Run on the probe pool, within its limits (a crawl reaches the source like a test)."""


KINDS = {
    "data-sources": Runnable(
        "Data source",
        "operations/data_source.html",
        lambda rt, who, project, name: rt.data_sources.get(who, project, name),
        lambda rt, who, project, name: rt.data_sources.runs(who, project, name, limit=RUNS_SHOWN),
        lambda rt, who, project, name: rt.data_sources.run(who, project, name),
        probe=True,
    ),
    "sync-jobs": Runnable(
        "Sync job",
        "operations/sync_job.html",
        lambda rt, who, project, name: rt.sync_jobs.get(who, project, name),
        lambda rt, who, project, name: rt.sync_jobs.runs(who, project, name, RUNS_SHOWN),
        lambda rt, who, project, name: rt.sync_jobs.run(who, project, name),
        probe=False,
    ),
}


def _kind(kind: str) -> Runnable:
    if kind not in KINDS:
        raise NotFound(f"no such page: '{kind}'")
    return KINDS[kind]


def _runs_page(
    request: Request,
    principal: Principal,
    project: str,
    kind: str,
    name: str,
    *,
    error: LakeholdError | None = None,
) -> Response:
    runtime, runnable = runtime_of(request), _kind(kind)
    context = {
        "project": project,
        "base": sources_path(project),
        "kind": kind,
        "title": runnable.title,
        "item": runnable.get(runtime, principal, project, name),
        "runs": runnable.runs(runtime, principal, project, name),
        "error": error.message if error else None,
    }
    status = error.status_code if error else 200
    return render(request, runnable.template, context, status_code=status)


@router.get("/projects/{project}/sources/{kind}/{name}")
def runs(request: Request, project: str, kind: str, name: str, principal: PagePrincipal):
    """A data source or sync job and its latest runs (404 as the API gives it)."""
    return _runs_page(request, principal, project, kind, name)


@router.post("/projects/{project}/sources/{kind}/{name}/runs")
async def run_now(
    request: Request, project: str, kind: str, name: str, principal: PagePrincipal
) -> Response:
    """Run it now and wait; back to its runs (refused or failed: the page with the message,
    the status the API gives)."""
    runtime, runnable = runtime_of(request), _kind(kind)

    def work() -> Any:
        return runnable.run(runtime, principal, project, name)

    try:
        if runnable.probe:
            await runtime.probes.arun(principal.user_id, work)
        else:
            await run_in_threadpool(work)
    except LakeholdError as error:
        return await run_in_threadpool(
            _runs_page, request, principal, project, kind, name, error=error
        )
    back = f"{sources_path(project)}/{kind}/{quote(name, safe='')}"
    return RedirectResponse(back, status_code=303)
