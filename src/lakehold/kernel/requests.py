"""The id of the request being served, for the audit log (one per HTTP request or CLI run).

It lives in :mod:`lakehold.observability.request_context`, with the request's principal and
project, so that every log line carries it too."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from contextvars import Token
from typing import Any

from lakehold.observability import request_context
from lakehold.observability.request_context import Served

_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id(given: str | None = None) -> str:
    """``given`` when it is a sane id (a client's or a proxy's ``X-Request-ID``), else a new one."""
    if given and _VALID.match(given):
        return given
    return secrets.token_hex(8)


def begin(request_id: str, scope: Mapping[str, Any] | None = None) -> Token[Served | None]:
    """Make ``request_id`` the current request's id (``scope``: its ASGI scope, whose path
    parameters name its project); pass the result to :func:`end`."""
    return request_context.begin(request_id, scope)


def end(token: Token[Served | None]) -> None:
    request_context.end(token)


def current() -> str | None:
    """The current request's id, if one is being served."""
    served = request_context.current()
    return served.request_id if served is not None else None
