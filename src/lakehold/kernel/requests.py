"""The id of the request being served, for the audit log (one per HTTP request or CLI run)."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token

_current: ContextVar[str | None] = ContextVar("lakehold_request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id(given: str | None = None) -> str:
    """``given`` when it is a sane id (a client's or a proxy's ``X-Request-ID``), else a new one."""
    if given and _VALID.match(given):
        return given
    return secrets.token_hex(8)


def begin(request_id: str) -> Token[str | None]:
    """Make ``request_id`` the current request's id; pass the result to :func:`end`."""
    return _current.set(request_id)


def end(token: Token[str | None]) -> None:
    _current.reset(token)


def current() -> str | None:
    """The current request's id, if one is being served."""
    return _current.get()
