"""SCIM error responses (RFC 7644 §3.12): ``{"schemas": [...Error], "status": "409",
"scimType": "uniqueness", "detail": ...}`` as ``application/scim+json``, for every refusal
under ``/scim/v2`` (the router's, and the body limits' before it runs)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from scim2_models import Context, Error

from lakehold.errors import Conflict, Invalid, LakeholdError
from lakehold.kernel import requests

MEDIA_TYPE = "application/scim+json"

SCHEMA: dict[str, Any] = {
    "title": "ScimError",
    "type": "object",
    "description": "A SCIM error (RFC 7644 §3.12).",
    "required": ["schemas", "status"],
    "properties": {
        "schemas": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string", "description": "The HTTP status, as a string"},
        "scimType": {
            "type": "string",
            "description": "invalidFilter, invalidSyntax, invalidValue, uniqueness, "
            "mutability, noTarget, invalidPath, tooMany, ...",
        },
        "detail": {"type": "string"},
    },
}
"""The OpenAPI schema of :func:`response`'s body."""


class ScimResponse(JSONResponse):
    """A SCIM message: JSON as ``application/scim+json``."""

    media_type = MEDIA_TYPE


def response(
    status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
) -> ScimResponse:
    """A SCIM error response; it carries the request's id as every Lakehold response does."""
    body = Error(status=status, scim_type=scim_type, detail=detail).model_dump(
        scim_ctx=Context.DEFAULT
    )
    headers = dict(headers or {})
    request_id = requests.current()
    if request_id:
        headers.setdefault("X-Request-ID", request_id)
    return ScimResponse(body, status_code=status, headers=headers)


def of(error: LakeholdError) -> ScimResponse:
    """The SCIM error response of a Lakehold error: Invalid is 400 with its ``scim_type``
    (else invalidValue), Conflict 409 ``uniqueness``, the others their status alone."""
    scim_type = error.details.get("scim_type")
    if isinstance(error, Invalid):
        scim_type = scim_type or "invalidValue"
    elif isinstance(error, Conflict):
        scim_type = scim_type or "uniqueness"
    headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
    return response(error.status_code, error.message, scim_type, headers)
