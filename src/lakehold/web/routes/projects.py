"""Projects as the signed-in principal: the ones they may see, creating one, and a project's
members with their roles (owners add, re-role and remove them; the service refuses others and
keeps the last owner)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from lakehold.catalog.views import MemberView
from lakehold.kernel.roles import administers
from lakehold.security.principal import Principal
from lakehold.web.forms import Refused
from lakehold.web.routes.organisation import (
    ORGANISATION,
    Access,
    Failure,
    Page,
    domain_trees,
    optional,
    submit,
    text,
)
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

PROJECTS = f"{ORGANISATION}/projects"
ROLES = ("owner", "contributor", "viewer")


def project_url(project: str) -> str:
    return f"{PROJECTS}/{quote(project, safe='')}"


@router.get(PROJECTS)
def projects_page(request: Request, principal: PagePrincipal) -> Response:
    """The projects the principal may see, and the form to create one."""
    return _projects_page(request, principal, Failure())


def _projects_page(request: Request, principal: Principal, failure: Failure) -> Response:
    runtime = runtime_of(request)
    trees = domain_trees(runtime, principal, Access.of(runtime, principal))
    context = {
        "projects": runtime.catalog.list_projects(principal),
        "trees": trees,
        "failure": failure,
    }
    return render(request, "organisation/projects.html", context, status_code=failure.status)


@router.post(PROJECTS)
async def create_project(request: Request, principal: PagePrincipal) -> Response:
    """Create a project (anyone in a domain's root unit; owners of the unit below it)."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        made = runtime.catalog.create_project(
            principal,
            text(form, "name"),
            text(form, "domain"),
            optional(form, "description"),
            domain_unit=optional(form, "domain_unit"),
        )
        return project_url(made.name)

    def page(form: FormData, refused: Refused) -> Response:
        return _projects_page(request, principal, Failure("project", refused, form))

    return await submit(request, act, page)


# -- one project and its members ---------------------------------------------------------------


@router.get(PROJECTS + "/{project}")
def project_page(request: Request, project: str, principal: PagePrincipal) -> Response:
    """A project with its members (any member); owners change them."""
    return _project_page(request, principal, project, Failure())


def _is_owner(access: Access, members: list[MemberView]) -> bool:
    principal = access.principal
    return administers(principal) or any(
        m.role == "owner"
        and (
            (m.kind == "user" and m.name == principal.username)
            or (m.kind == "group" and m.name in access.groups)
        )
        for m in members
    )


def _project_page(
    request: Request, principal: Principal, project: str, failure: Failure
) -> Response:
    runtime = runtime_of(request)
    found = runtime.catalog.get_project(principal, project)
    members = runtime.organisation.list_members(principal, project)
    context: dict[str, Any] = {
        "project": found,
        "members": members,
        "roles": ROLES,
        "may_manage": _is_owner(Access.of(runtime, principal), members),
        "failure": failure,
    }
    return render(request, "organisation/project.html", context, status_code=failure.status)


def _refused_on(request: Request, principal: Principal, project: str, form_name: str) -> Page:
    def page(form: FormData, refused: Refused) -> Response:
        return _project_page(request, principal, project, Failure(form_name, refused, form))

    return page


@router.post(PROJECTS + "/{project}/members")
async def add_member(request: Request, project: str, principal: PagePrincipal) -> Response:
    """Add a user or a group with a role (project owners)."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        runtime.organisation.add_member(
            principal,
            project,
            text(form, "role"),
            user=optional(form, "user"),
            group=optional(form, "group"),
        )
        return f"{project_url(project)}#members"

    return await submit(request, act, _refused_on(request, principal, project, "add"))


def _member(kind: str, name: str) -> dict[str, str]:
    """The service's keyword for a member of ``kind`` (``user`` or ``group``)."""
    return {"group": name} if kind == "group" else {"user": name}


@router.post(PROJECTS + "/{project}/members/{kind}/{name}/role")
async def change_role(
    request: Request, project: str, kind: str, name: str, principal: PagePrincipal
) -> Response:
    """Change a member's role (project owners; not the last owner's)."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        role = text(form, "role")
        runtime.organisation.update_member(principal, project, role, **_member(kind, name))
        return f"{project_url(project)}#members"

    target = f"{kind}:{name}"
    return await submit(request, act, _refused_on(request, principal, project, target))


@router.post(PROJECTS + "/{project}/members/{kind}/{name}/remove")
async def remove_member(
    request: Request, project: str, kind: str, name: str, principal: PagePrincipal
) -> Response:
    """Remove a member (project owners; not the last owner)."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        runtime.organisation.remove_member(principal, project, **_member(kind, name))
        return f"{project_url(project)}#members"

    target = f"{kind}:{name}"
    return await submit(request, act, _refused_on(request, principal, project, target))
