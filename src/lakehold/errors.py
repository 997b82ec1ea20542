"""Typed errors shared by every layer; adapters map them to HTTP status codes and exit codes."""

from __future__ import annotations

from typing import Any


class LakeholdError(Exception):
    """Base of every error Lakehold raises on purpose."""

    status_code = 500
    exit_code = 1
    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


class Invalid(LakeholdError):
    """Bad input. Details name the problem: field, line, column, position."""

    status_code = 400
    exit_code = 2
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        column: str | int | None = None,
        position: int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(
            message, field=field, line=line, column=column, position=position, **details
        )


class Unauthorized(LakeholdError):
    """No or bad credentials."""

    status_code = 401
    exit_code = 3
    code = "unauthorized"


class Forbidden(LakeholdError):
    """The principal is known but may not do this."""

    status_code = 403
    exit_code = 3
    code = "forbidden"


class NotFound(LakeholdError):
    """The thing does not exist, or the principal may not know that it exists."""

    status_code = 404
    exit_code = 4
    code = "not_found"


class Conflict(LakeholdError):
    """The request conflicts with the current state (duplicate name, wrong status)."""

    status_code = 409
    exit_code = 5
    code = "conflict"


class Timeout(LakeholdError):
    """A statement ran past its timeout and was cancelled."""

    status_code = 408
    exit_code = 6
    code = "timeout"


class Cancelled(LakeholdError):
    """A statement was cancelled on request."""

    status_code = 409
    exit_code = 7
    code = "cancelled"


class SourceUnavailable(LakeholdError):
    """An external source (a connection) could not be reached or refused the request."""

    status_code = 502
    exit_code = 8
    code = "source_unavailable"
