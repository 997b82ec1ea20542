"""``/assets/{project}/{name}``: an asset's page -- its metadata, forms, preview, versions,
access and publishing (issue 13).

The page reads the same services as ``/api/v1/projects/{project}/assets/{asset}``, as the
signed-in principal: an asset it may not see is "not found" (404), never "forbidden". The
preview and its time travel run through the governed statements; an htmx request for another
version gets the preview fragment alone (``/preview``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lakehold.errors import Forbidden, LakeholdError, NotFound
from lakehold.security.principal import Principal
from lakehold.web.routes.asset_page import (
    FIELD_PREFIX,
    PREVIEW_ROWS,
    AssetPage,
    FormState,
    PublishProblem,
    access_of,
    field_problems,
    load,
    preview,
)
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

MAX_VERSION = 2**63 - 1  # a Delta version is a signed 64-bit integer
Version = Annotated[int | None, Query(ge=0, le=MAX_VERSION, description="Time travel")]
Acting = Annotated[str | None, Query(description="The subscribing project to preview in")]


def page_path(project: str, name: str) -> str:
    return f"/assets/{quote(project, safe='')}/{quote(name, safe='')}"


def _page(request: Request, page: AssetPage, *, status_code: int = 200) -> Response:
    context = {
        "page": page,
        "base": page_path(page.access.project, page.access.name),
        "preview_rows": PREVIEW_ROWS,
    }
    return render(request, "asset.html", context, status_code=status_code)


def _missing(request: Request, project: str, name: str) -> Response:
    """The answer for an asset that does not exist and for one the principal may not see."""
    context = {"page": None, "project": project, "name": name}
    return render(request, "asset.html", context, status_code=404)


@router.get("/assets/{project}/{name}")
def asset_page(
    request: Request,
    project: str,
    name: str,
    principal: PagePrincipal,
    version: Version = None,
    acting: Acting = None,
    saved: str | None = None,
) -> Response:
    """The asset: description, columns, forms, preview (at ``version``), versions, access."""
    try:
        page = load(
            runtime_of(request),
            principal,
            project,
            name,
            acting=acting,
            version=version,
            saved=saved,
        )
    except NotFound:
        return _missing(request, project, name)
    return _page(request, page)


@router.get("/assets/{project}/{name}/preview")
def asset_preview(
    request: Request,
    project: str,
    name: str,
    principal: PagePrincipal,
    version: Version = None,
    acting: Acting = None,
) -> Response:
    """The preview fragment (htmx): the first rows, at ``version`` when given."""
    runtime = runtime_of(request)
    try:
        access = access_of(runtime, principal, project, name)
    except NotFound as error:
        context = {"message": error.message}
        return render(request, "asset/_not_found.html", context, status_code=404)
    shown = preview(runtime, principal, access, acting=acting, version=version)
    return render(request, "asset/_preview.html", {"preview": shown})


@router.post("/assets/{project}/{name}/forms/{form_id}")
async def save_form(
    request: Request, project: str, name: str, form_id: str, principal: PagePrincipal
) -> Response:
    """Set a metadata form's values on the asset. Refused values: the page again (400) with
    each field's message next to its input; nothing is saved."""
    submitted = await request.form()
    values = {
        key[len(FIELD_PREFIX) :]: value
        for key, value in submitted.multi_items()
        if key.startswith(FIELD_PREFIX) and isinstance(value, str)
    }
    runtime = runtime_of(request)
    try:
        saved = await run_in_threadpool(
            runtime.forms.set_values, principal, project, name, form_id, values
        )
    except NotFound:
        return _missing(request, project, name)
    except LakeholdError as error:
        state = _refused(form_id, values, error)
        return await run_in_threadpool(
            _again, request, principal, project, name, error, submitted=state
        )
    target = f"{page_path(project, name)}?saved={quote(saved.form_id)}#form-{saved.form_id}"
    return RedirectResponse(target, status_code=303)


def _refused(form_id: str, values: dict[str, str], error: LakeholdError) -> FormState:
    """The submitted texts, the error's message, and each problem next to the field it names
    (``forms.<form>.<field>``, matched against the fields submitted)."""
    errors: dict[str, str] = {}
    listed = error.details.get("problems")
    for problem in listed if isinstance(listed, list) else []:
        path, message = str(problem.get("field", "")), str(problem.get("message", ""))
        named = [k for k in values if path.startswith("forms.") and path.endswith(f".{k}")]
        if named:
            errors.setdefault(max(named, key=len), message)
    return FormState(form_id, values, errors, error.message)


@router.post("/assets/{project}/{name}/publish")
def publish(request: Request, project: str, name: str, principal: PagePrincipal) -> Response:
    """Publish the asset's latest version; unmet publishing rules are shown field by field."""
    runtime = runtime_of(request)
    return _listing_change(request, principal, project, name, runtime.listings.publish)


@router.post("/assets/{project}/{name}/unpublish")
def unpublish(request: Request, project: str, name: str, principal: PagePrincipal) -> Response:
    """Withdraw the asset's listing; grants already made stay in force."""
    runtime = runtime_of(request)
    return _listing_change(request, principal, project, name, runtime.listings.unpublish)


def _listing_change(
    request: Request,
    principal: Principal,
    project: str,
    name: str,
    change: Callable[[Principal, str, str], object],
) -> Response:
    """Publish or unpublish; refused: the page again with each problem (a rule's field)."""
    try:
        change(principal, project, name)
    except NotFound:
        return _missing(request, project, name)
    except LakeholdError as error:
        return _again(request, principal, project, name, error, problems=field_problems(error))
    return RedirectResponse(page_path(project, name) + "#publishing", status_code=303)


def _again(
    request: Request,
    principal: Principal,
    project: str,
    name: str,
    error: LakeholdError,
    *,
    submitted: FormState | None = None,
    problems: list[PublishProblem] | None = None,
) -> Response:
    """The page again after a refused change, with the error's status (400, 403, 409)."""
    try:
        page = load(
            runtime_of(request), principal, project, name, submitted=submitted, problems=problems
        )
    except NotFound:
        return _missing(request, project, name)
    if isinstance(error, Forbidden):  # its controls are not on the page: say it at the top
        page = replace(page, refused=error.message)
    status = error.status_code if 400 <= error.status_code < 500 else 400
    return _page(request, page, status_code=status)
