"""SCIM 2.0 provisioning at ``/scim/v2`` (RFC 7644, ADR 30): the discovery documents, and
``/Users`` and ``/Groups`` for an identity provider's ``scim`` token.

Every answer is ``application/scim+json``; every refusal a SCIM error
(:mod:`lakehold.api.scim_errors`), whatever raised it (:class:`ScimRoute`). The discovery
documents need no token; the resources need a token with the ``scim`` scope (the kernel
refuses any other with 403).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from scim2_models import Context, ListResponse, Reference, ResponseParameters, SearchRequest
from starlette.exceptions import HTTPException

from lakehold.api import scim_errors
from lakehold.api.deps import RuntimeDep, bearer_token
from lakehold.errors import LakeholdError, NotFound
from lakehold.security import scim_resources as res
from lakehold.security.principal import Principal
from lakehold.security.scim import ScimPage, ScimQuery, ScimService

PREFIX = "/scim/v2"
_KNOWN = re.compile(r"^(Users|Groups|ResourceTypes|Schemas)(/[^/]+)?$|^ServiceProviderConfig$")


class ScimRoute(APIRoute):
    """A route whose every error is a SCIM error: Lakehold's typed errors, an unreadable
    request (400 invalidSyntax / invalidValue) and HTTP errors alike."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def scim_handler(request: Request) -> Response:
            try:
                return await handle(request)
            except LakeholdError as error:
                return scim_errors.of(error)
            except RequestValidationError as error:
                broken = any(e.get("type") == "json_invalid" for e in error.errors())
                first = error.errors()[0] if error.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
                detail = "the body is not valid JSON" if broken else f"{where}: {first.get('msg')}"
                return scim_errors.response(
                    400, detail, "invalidSyntax" if broken else "invalidValue"
                )
            except HTTPException as error:
                return scim_errors.response(error.status_code, str(error.detail))

        return scim_handler


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {
        "description": text,
        "content": {scim_errors.MEDIA_TYPE: {"schema": scim_errors.SCHEMA}},
    }
    for code, text in {
        400: "Bad request: scimType invalidFilter, invalidSyntax, invalidValue, mutability, ...",
        401: "No or bad credentials",
        403: "Not a token with the 'scim' scope",
        404: "No such resource of the token's identity provider",
        409: "uniqueness: the userName or displayName is taken",
        413: "The request body is too large",
    }.items()
}
_MESSAGE = {"description": "A SCIM message", "content": {scim_errors.MEDIA_TYPE: {}}}

router = APIRouter(
    prefix=PREFIX, tags=["SCIM provisioning"], route_class=ScimRoute, responses=ERRORS
)


async def scim_principal(request: Request) -> Principal:
    """The principal of the request's token, a ``scim`` token welcome (one with a body was
    authenticated before it was read: ``api.bodies``)."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    runtime = request.app.state.runtime
    return await run_in_threadpool(runtime.security.authenticate, bearer_token(request), scim=True)


ScimPrincipal = Annotated[Principal, Depends(scim_principal)]
Payload = Annotated[dict[str, Any], Body(media_type=scim_errors.MEDIA_TYPE)]
Attributes = Annotated[str | None, Query(description="Comma-separated attributes to return")]
Excluded = Annotated[
    str | None,
    Query(alias="excludedAttributes", description="Comma-separated attributes to leave out"),
]


def _service(runtime: Any) -> ScimService:
    return runtime.scim


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _listed(value: str | None) -> list[str] | None:
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    return names or None


def _parameters(model: type[Any], attributes: str | None, excluded: str | None) -> Any:
    try:
        return ResponseParameters[model].model_validate(  # type: ignore[valid-type]
            {"attributes": _listed(attributes), "excludedAttributes": _listed(excluded)}
        )
    except ValidationError as error:
        raise res.invalid(error) from None


def _with_members(attributes: str | None, excluded: str | None) -> bool:
    """Whether the response shows a group's members (``excludedAttributes=members`` is how
    identity providers list groups cheaply)."""
    wanted = {n.lower() for n in _listed(attributes) or ()}
    if any(n.lower() in ("members", "members.value") for n in _listed(excluded) or ()):
        return False
    return not wanted or any(n.startswith("members") for n in wanted)


def _locate(resource: Any, base: str) -> Any:
    """Fill in the URIs: the resource's ``meta.location``, its groups' or members' ``$ref``."""
    assert resource.meta is not None  # every resource of the service has its meta
    if isinstance(resource, res.User):
        resource.meta.location = f"{base}/Users/{resource.id}"
        for group in resource.groups or ():
            group.ref = Reference[res.Group](f"{base}/Groups/{group.value}")
    else:
        resource.meta.location = f"{base}/Groups/{resource.id}"
        for member in resource.members or ():
            member.ref = Reference[res.User](f"{base}/Users/{member.value}")
    return resource


def _one(
    resource: Any,
    request: Request,
    context: Context,
    parameters: Any = None,
    status_code: int = 200,
) -> scim_errors.ScimResponse:
    _locate(resource, _base(request))
    body = resource.model_dump(scim_ctx=context, response_parameters=parameters)
    headers = {"Location": resource.meta.location} if status_code == 201 else None
    return scim_errors.ScimResponse(body, status_code=status_code, headers=headers)


def _page(page: ScimPage[Any], model: type[Any], request: Request, parameters: Any) -> Response:
    base = _base(request)
    listed = ListResponse[model](  # type: ignore[valid-type]
        total_results=page.total,
        start_index=page.start_index,
        items_per_page=len(page.resources),
        resources=[_locate(r, base) for r in page.resources],
    )
    body = listed.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters
    )
    body.setdefault("Resources", [])
    return scim_errors.ScimResponse(body)


def _searched(model: type[Any], body: dict[str, Any]) -> tuple[ScimQuery, Any]:
    """The query and response parameters of a ``POST .../.search`` body (RFC 7644 §3.4.3)."""
    try:
        asked = SearchRequest[model].model_validate(  # type: ignore[valid-type]
            body, scim_ctx=Context.SEARCH_REQUEST
        )
    except ValidationError as error:
        raise res.invalid(error) from None
    order = asked.sort_order.value if asked.sort_order is not None else None
    query = ScimQuery(
        str(asked.filter) if asked.filter is not None else None,
        asked.start_index or 1,
        asked.count,
        str(asked.sort_by) if asked.sort_by is not None else None,
        order,
    )
    return query, asked


def _query(
    filter: str | None,
    start_index: int | None,
    count: int | None,
    sort_by: str | None,
    sort_order: str | None,
) -> ScimQuery:
    return ScimQuery(filter, start_index or 1, count, sort_by, sort_order)


# -- discovery (RFC 7644 §4): no token needed ---------------------------------------------------


def _discovered(resource: Any, request: Request) -> dict[str, Any]:
    """A discovery document with its ``meta`` (resource type and location)."""
    body = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    kind = type(resource).__name__
    where = {
        "ServiceProviderConfig": "/ServiceProviderConfig",
        "ResourceType": f"/ResourceTypes/{getattr(resource, 'name', '')}",
        "Schema": f"/Schemas/{resource.id}",
    }[kind]
    body["meta"] = {"resourceType": kind, "location": _base(request) + where}
    return body


@router.get(
    "/ServiceProviderConfig", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE}
)
def service_provider_config(request: Request) -> Response:
    """What this SCIM service supports: PATCH, filters, sorting; no bulk, ETags or password
    changes; a bearer token."""
    return scim_errors.ScimResponse(_discovered(res.service_provider_config(), request))


@router.get("/ResourceTypes", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE})
def resource_types(request: Request) -> Response:
    """The resource types served: User and Group."""
    found = [_discovered(t, request) for t in res.resource_types()]
    return scim_errors.ScimResponse(_list_of(found))


@router.get(
    "/ResourceTypes/{name}", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE}
)
def resource_type(name: str, request: Request) -> Response:
    """One resource type, by name."""
    for found in res.resource_types():
        if found.name == name:
            return scim_errors.ScimResponse(_discovered(found, request))
    raise NotFound(f"resource type '{name}' not found")


@router.get("/Schemas", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE})
def schemas(request: Request) -> Response:
    """The schemas of User and Group: the attributes Lakehold keeps."""
    return scim_errors.ScimResponse(_list_of([_discovered(s, request) for s in res.schemas()]))


@router.get(
    "/Schemas/{schema_id}", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE}
)
def schema(schema_id: str, request: Request) -> Response:
    """One schema, by its URN."""
    for found in res.schemas():
        if found.id == schema_id:
            return scim_errors.ScimResponse(_discovered(found, request))
    raise NotFound(f"schema '{schema_id}' not found")


def _list_of(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


# -- users --------------------------------------------------------------------------------------

Filter = Annotated[str | None, Query(description='A SCIM filter, e.g. userName eq "ana"')]
StartIndex = Annotated[int | None, Query(alias="startIndex", description="1-based")]
Count = Annotated[int | None, Query(description=f"At most {res.MAX_RESULTS}")]
SortBy = Annotated[str | None, Query(alias="sortBy")]
SortOrder = Annotated[str | None, Query(alias="sortOrder", description="ascending, descending")]


@router.get("/Users", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE})
def list_users(
    request: Request,
    runtime: RuntimeDep,
    principal: ScimPrincipal,
    filter: Filter = None,
    start_index: StartIndex = None,
    count: Count = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    """The identity provider's users: filtered, sorted, a page at a time."""
    parameters = _parameters(res.User, attributes, excluded)
    query = _query(filter, start_index, count, sort_by, sort_order)
    page = _service(runtime).list_users(principal, query)
    return _page(page, res.User, request, parameters)


@router.post("/Users/.search", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE})
def search_users(
    body: Payload, request: Request, runtime: RuntimeDep, principal: ScimPrincipal
) -> Response:
    """The identity provider's users, asked for by a SearchRequest body."""
    query, asked = _searched(res.User, body)
    return _page(_service(runtime).list_users(principal, query), res.User, request, asked)


@router.post(
    "/Users",
    status_code=status.HTTP_201_CREATED,
    response_class=scim_errors.ScimResponse,
    responses={201: _MESSAGE},
)
def create_user(
    body: Payload, request: Request, runtime: RuntimeDep, principal: ScimPrincipal
) -> Response:
    """Provision a user."""
    created = _service(runtime).create_user(principal, res.read(res.USER_REQUEST, body))
    return _one(created, request, Context.RESOURCE_CREATION_RESPONSE, status_code=201)


@router.get("/Users/{user_id}", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE})
def get_user(
    user_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: ScimPrincipal,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    """One of the identity provider's users."""
    parameters = _parameters(res.User, attributes, excluded)
    found = _service(runtime).get_user(principal, user_id)
    return _one(found, request, Context.RESOURCE_QUERY_RESPONSE, parameters)


@router.put("/Users/{user_id}", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE})
def replace_user(
    user_id: str, body: Payload, request: Request, runtime: RuntimeDep, principal: ScimPrincipal
) -> Response:
    """Replace a user; ``active: false`` deactivates it (every session and token refused)."""
    resource = res.read(res.USER_REQUEST, body, replacing=True)
    replaced = _service(runtime).replace_user(principal, user_id, resource)
    return _one(replaced, request, Context.RESOURCE_REPLACEMENT_RESPONSE)


@router.patch(
    "/Users/{user_id}", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE}
)
def patch_user(
    user_id: str, body: Payload, request: Request, runtime: RuntimeDep, principal: ScimPrincipal
) -> Response:
    """Change a user by PATCH operations; ``active`` false deactivates it."""
    patch = res.read_patch(res.USER_REQUEST, body)
    patched = _service(runtime).patch_user(principal, user_id, patch)
    return _one(patched, request, Context.RESOURCE_PATCH_RESPONSE)


@router.delete("/Users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(user_id: str, runtime: RuntimeDep, principal: ScimPrincipal) -> Response:
    """Deactivate a user and detach it from the identity provider (the row stays, for the
    audit log and ownership)."""
    _service(runtime).delete_user(principal, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- groups -------------------------------------------------------------------------------------


@router.get("/Groups", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE})
def list_groups(
    request: Request,
    runtime: RuntimeDep,
    principal: ScimPrincipal,
    filter: Filter = None,
    start_index: StartIndex = None,
    count: Count = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    """The identity provider's groups: filtered, sorted, a page at a time."""
    parameters = _parameters(res.Group, attributes, excluded)
    query = _query(filter, start_index, count, sort_by, sort_order)
    members = _with_members(attributes, excluded)
    page = _service(runtime).list_groups(principal, query, members=members)
    return _page(page, res.Group, request, parameters)


@router.post("/Groups/.search", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE})
def search_groups(
    body: Payload, request: Request, runtime: RuntimeDep, principal: ScimPrincipal
) -> Response:
    """The identity provider's groups, asked for by a SearchRequest body."""
    query, asked = _searched(res.Group, body)
    excluded = ",".join(str(a) for a in asked.excluded_attributes or ())
    attributes = ",".join(str(a) for a in asked.attributes or ())
    members = _with_members(attributes or None, excluded or None)
    page = _service(runtime).list_groups(principal, query, members=members)
    return _page(page, res.Group, request, asked)


@router.post(
    "/Groups",
    status_code=status.HTTP_201_CREATED,
    response_class=scim_errors.ScimResponse,
    responses={201: _MESSAGE},
)
def create_group(
    body: Payload, request: Request, runtime: RuntimeDep, principal: ScimPrincipal
) -> Response:
    """Provision a group with its members."""
    created = _service(runtime).create_group(principal, res.read(res.GROUP_REQUEST, body))
    return _one(created, request, Context.RESOURCE_CREATION_RESPONSE, status_code=201)


@router.get(
    "/Groups/{group_id}", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE}
)
def get_group(
    group_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: ScimPrincipal,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    """One of the identity provider's groups."""
    parameters = _parameters(res.Group, attributes, excluded)
    members = _with_members(attributes, excluded)
    found = _service(runtime).get_group(principal, group_id, members=members)
    return _one(found, request, Context.RESOURCE_QUERY_RESPONSE, parameters)


@router.put(
    "/Groups/{group_id}", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE}
)
def replace_group(
    group_id: str, body: Payload, request: Request, runtime: RuntimeDep, principal: ScimPrincipal
) -> Response:
    """Replace a group's name and members."""
    resource = res.read(res.GROUP_REQUEST, body, replacing=True)
    replaced = _service(runtime).replace_group(principal, group_id, resource)
    return _one(replaced, request, Context.RESOURCE_REPLACEMENT_RESPONSE)


@router.patch(
    "/Groups/{group_id}", response_class=scim_errors.ScimResponse, responses={200: _MESSAGE}
)
def patch_group(
    group_id: str, body: Payload, request: Request, runtime: RuntimeDep, principal: ScimPrincipal
) -> Response:
    """Change a group by PATCH operations: add or remove members, replace its name."""
    patch = res.read_patch(res.GROUP_REQUEST, body)
    patched = _service(runtime).patch_group(principal, group_id, patch)
    return _one(patched, request, Context.RESOURCE_PATCH_RESPONSE)


@router.delete("/Groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_group(group_id: str, runtime: RuntimeDep, principal: ScimPrincipal) -> Response:
    """Delete a group (one holding project roles is emptied and detached instead)."""
    _service(runtime).delete_group(principal, group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/.search", status_code=501, include_in_schema=False)
def search_everything() -> Response:
    """Searching several resource types at once is not supported (RFC 7644 §3.12: 501)."""
    return scim_errors.response(
        501, "search one resource type: POST /scim/v2/Users/.search or /scim/v2/Groups/.search"
    )


@router.api_route(
    "/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
def elsewhere(path: str) -> Response:
    """Anything else under /scim/v2: a SCIM 404 (or 405 on a known path)."""
    if _KNOWN.match(path):
        return scim_errors.response(405, f"this method is not supported on /{path}")
    return scim_errors.response(404, f"no SCIM endpoint /{path}")
