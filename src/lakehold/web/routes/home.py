"""``/``: the portal's home page: the search box and, signed in, one's recent assets and
projects; not signed in, a way to sign in."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from lakehold.errors import Unauthorized
from lakehold.security.principal import Principal
from lakehold.web.routes.search import result_url
from lakehold.web.sessions import page_session
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

RECENT = 6  # assets and projects shown


async def signed_in(request: Request) -> Principal | None:
    """The principal of a signed-in request; None for anyone else (the page is public)."""
    try:
        return (await page_session(request)).principal
    except (HTTPException, Unauthorized):
        return None


def project_url(name: str) -> str:
    """A project's assets, as a search of its inventory."""
    return "/search?" + urlencode({"scope": "inventory", "project": name})


@router.get("/")
async def home(request: Request) -> Response:
    """The home page."""
    principal = await signed_in(request)
    context: dict[str, object] = {"signed_in": principal is not None}
    if principal is not None:
        runtime = request.app.state.runtime
        recent = await run_in_threadpool(
            runtime.search.search, principal, "", scope="inventory", limit=RECENT
        )
        projects = await run_in_threadpool(runtime.catalog.list_projects, principal)
        newest = sorted(projects, key=lambda p: p.created_at, reverse=True)[:RECENT]
        context["assets"] = [(hit, result_url(hit)) for hit in recent.items]
        context["projects"] = [(project, project_url(project.name)) for project in newest]
    return render(request, "home.html", context)
