"""Map typed errors to HTTP responses; bad input is a 4xx naming the problem, never a 500.

Every error has one body shape (:data:`ERROR_SCHEMA`, the ``Error`` schema of the OpenAPI
document): ``{"error": <type>, "message": ..., "field"/"line"/"column" when known,
"request_id": <the request's X-Request-ID>}``, with server paths redacted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lakehold.errors import Invalid, LakeholdError
from lakehold.kernel import requests
from lakehold.redaction import Redactor

log = logging.getLogger("lakehold.api")

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "The body of every error response.",
    "required": ["error", "message"],
    "properties": {
        "error": {
            "type": "string",
            "description": "The error's type: invalid, unauthorized, forbidden, not_found, "
            "conflict, too_large, timeout, cancelled, rate_limited, source_unavailable, "
            "internal, ...",
        },
        "message": {"type": "string", "description": "What went wrong, for people"},
        "field": {
            "type": ["string", "null"],
            "description": "The input field at fault (dotted path), when known",
        },
        "line": {"type": ["integer", "null"], "description": "Line of the input, when known"},
        "column": {
            "type": ["integer", "string", "null"],
            "description": "Column of the input (a number, or a column name), when known",
        },
        "request_id": {
            "type": ["string", "null"],
            "description": "The request's id, as in the X-Request-ID response header",
        },
    },
    "additionalProperties": True,
}

ERROR_STATUSES: dict[int, str] = {
    400: "Bad input: the body names the field, line or column when known",
    401: "No or bad credentials",
    403: "Not allowed",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    413: "The request body is too large",
}
"""Error statuses every operation may answer, as documented in OpenAPI."""

_HTTP_TYPES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _redactor(request: Request) -> Redactor:
    """The app's redactor, made once from the runtime's settings."""
    state = request.app.state
    redactor = getattr(state, "redactor", None)
    if redactor is None:
        runtime = getattr(state, "runtime", None)
        redactor = Redactor.of(runtime.settings) if runtime is not None else Redactor(())
        state.redactor = redactor
    return redactor


def _request_id(request: Request | None = None) -> str | None:
    """The id of the request being served (set by the app's request-id middleware; the
    request's own first: a handler outside the middleware runs in another context)."""
    known = getattr(request.state, "request_id", None) if request is not None else None
    return known or requests.current()


def redacted_error(redactor: Redactor, error: LakeholdError) -> dict[str, Any]:
    """The JSON body of ``error`` with server paths replaced by placeholders."""
    return redactor.value({**error.to_dict(), "request_id": requests.current()})


def _respond(
    request: Request, body: dict[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """The error as JSON, or as the portal's error page for a browser asking for a page."""
    body = {**body, "request_id": _request_id(request)}
    headers = dict(headers or {})
    if body["request_id"]:
        headers.setdefault("X-Request-ID", body["request_id"])
    body = _redactor(request).value(body)
    if not 300 <= status < 400:  # a redirect (sign in first) stays a redirect
        from lakehold.web.errors import error_page, wants_page

        if wants_page(request):
            return error_page(request, status, str(body.get("message", "")), headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _lakehold_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, LakeholdError)  # registered for LakeholdError
    from lakehold.query.messages import readable  # with duckdb: loaded by the first error

    headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
    if error.status_code == 429 and "retry_after" in error.details:  # RateLimited
        headers = {"Retry-After": str(error.details["retry_after"])}
    body = {**error.to_dict(), "message": readable(error.message)}  # no parser internals
    return _respond(request, body, error.status_code, headers)


def _where(text: Any, position: int) -> tuple[int, int]:
    """Line and column (both from 1) of a character position in ``text``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return 1, position + 1
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _field(loc: Any) -> str:
    """The dotted path of a field (``body`` for the request body as a whole)."""
    where = ("body", "query", "path", "header", "cookie")
    return ".".join(str(p) for p in loc if p not in where) or (str(loc[0]) if loc else "")


def validation_body(error: RequestValidationError) -> dict[str, Any]:
    """The error body of a request FastAPI could not read: where the JSON is broken, the
    unknown fields, or the first invalid field (every problem listed in ``problems``)."""
    found = list(error.errors())
    broken = next((e for e in found if e.get("type") == "json_invalid"), None)
    if broken is not None:
        loc = broken.get("loc") or ()
        position = loc[-1] if loc and isinstance(loc[-1], int) else 0
        line, column = _where(error.body, position)
        reason = str((broken.get("ctx") or {}).get("error") or "not valid JSON")
        return {
            "error": "invalid",
            "message": f"invalid JSON at line {line}, column {column}: {reason}",
            "line": line,
            "column": column,
        }
    problems = [
        {
            "field": _field(e["loc"]),
            "message": "unknown field" if e.get("type") == "extra_forbidden" else e["msg"],
        }
        for e in found
    ]
    unknown = [p["field"] for p in problems if p["message"] == "unknown field"]
    if unknown:
        named = ", ".join(f"'{name}'" for name in unknown)
        message = f"unknown field{'s' if len(unknown) > 1 else ''}: {named}"
        return {"error": "invalid", "message": message, "field": unknown[0], "problems": problems}
    first = problems[0] if problems else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return {
        "error": "invalid",
        "message": message,
        "field": first["field"] or None,
        "problems": problems,
    }


def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)  # registered for RequestValidationError
    body = {k: v for k, v in validation_body(error).items() if v is not None}
    return _respond(request, body, 400)


def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)  # registered for HTTPException
    status = error.status_code
    kind = _HTTP_TYPES.get(status, "internal" if status >= 500 else "http_error")
    detail = error.detail if isinstance(error.detail, str) else "request refused"
    return _respond(request, {"error": kind, "message": detail}, status, error.headers)


def _data_error(request: Request, error: Exception) -> Response:
    """A value the metadata database refused as text: a NUL character that reached it by a
    route the request's gate does not read (a form field) is bad input, not a server error;
    the transaction was rolled back, nothing is written."""
    if "NUL" in str(getattr(error, "orig", error)):
        from lakehold.api.bodies import NUL_REFUSED

        return _lakehold_error(request, Invalid(NUL_REFUSED))
    return _unexpected(request, error)


def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unexpected error", exc_info=error)
    body = {"error": "internal", "message": "internal error; see the server log"}
    return _respond(request, body, 500)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""
    app.add_exception_handler(LakeholdError, _lakehold_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(Exception, _unexpected)


def document(openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the real error responses: the ``Error`` schema, the statuses of
    :data:`ERROR_STATUSES` on every operation, and no 422 (the server answers 400)."""
    components = openapi.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in openapi.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, description in ERROR_STATUSES.items():
                response = responses.setdefault(str(status), {"description": description})
                response.setdefault("content", content)
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:
                    response["content"] = content
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return openapi
