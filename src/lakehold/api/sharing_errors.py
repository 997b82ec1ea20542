"""Delta Sharing error responses: ``{"errorCode": ..., "message": ...}`` as the protocol
defines them, for every refusal under ``/delta-sharing`` (the router's, and the body limits'
before it runs). Server paths never appear (the message is redacted like every other)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from lakehold.errors import LakeholdError
from lakehold.kernel import requests
from lakehold.redaction import Redactor

PREFIX = "/delta-sharing"

SCHEMA: dict[str, Any] = {
    "title": "DeltaSharingError",
    "type": "object",
    "description": "A Delta Sharing protocol error.",
    "required": ["errorCode", "message"],
    "properties": {
        "errorCode": {
            "type": "string",
            "description": "INVALID_PARAMETER_VALUE, MALFORMED_REQUEST, UNAUTHENTICATED, "
            "PERMISSION_DENIED, RESOURCE_DOES_NOT_EXIST, RESOURCE_CONFLICT, "
            "REQUEST_TOO_LARGE, INTERNAL_ERROR",
        },
        "message": {"type": "string"},
    },
}
"""The OpenAPI schema of the error body."""

CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "UNSUPPORTED_OPERATION",
    409: "RESOURCE_CONFLICT",
    413: "REQUEST_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
}


def response(
    status: int, message: str, code: str | None = None, redactor: Redactor | None = None
) -> JSONResponse:
    """A protocol error response; it carries the request's id as every Lakehold response
    does (header ``X-Request-ID``)."""
    if redactor is not None:
        message = str(redactor.value(message))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    request_id = requests.current()
    if request_id:
        headers["X-Request-ID"] = request_id
    body = {"errorCode": code or CODES.get(status, "INTERNAL_ERROR"), "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def of(error: LakeholdError, redactor: Redactor | None = None) -> JSONResponse:
    """The protocol error of a Lakehold error (its status; a 5xx names no internals)."""
    if error.status_code >= 500:
        return response(error.status_code, "internal error; see the server log")
    return response(error.status_code, error.message, redactor=redactor)
