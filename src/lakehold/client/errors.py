"""Error responses as the typed errors the server raised (``lakehold.errors``), so a program
catches ``NotFound`` whether it runs in process or against a server."""

from __future__ import annotations

import json
from typing import Any

from lakehold import errors
from lakehold.errors import LakeholdError

_BY_CODE: dict[str, type[LakeholdError]] = {
    cls.code: cls
    for cls in (
        errors.Invalid,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.Timeout,
        errors.Cancelled,
        errors.SourceUnavailable,
    )
}
_EXIT_BY_STATUS = {400: 2, 401: 3, 403: 3, 404: 4, 409: 5, 413: 2, 415: 2, 422: 2, 429: 10}


class APIError(LakeholdError):
    """An error response of another type (``too_large``, ``rate_limited``, ``internal``...)."""

    def __init__(self, message: str, *, status: int, code: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.status_code = status
        self.code = code
        self.exit_code = _EXIT_BY_STATUS.get(status, 1)


class ServerUnreachable(LakeholdError):
    """The server could not be reached, or closed the connection."""

    exit_code = 8
    code = "unreachable"


def error_from(status: int, body: bytes) -> LakeholdError:
    """The typed error of an error response: its body names the type, message and details
    (field, line, column, request id)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("message"), str):
        text = body.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}"
        return APIError(text, status=status, code="http_error")
    code = str(parsed.pop("error", "error"))
    message = parsed.pop("message")
    cls = _BY_CODE.get(code)
    if cls is None:
        return APIError(message, status=status, code=code, **parsed)
    error = cls.__new__(cls)
    LakeholdError.__init__(error, message, **parsed)
    return error
