"""What is being served: the request's id, its principal and project, for the audit log
(``kernel.requests``) and every log line (``observability.logs``).

One contextvar holds a small mutable :class:`Served` per request (an HTTP request, a CLI
run): authentication fills in the principal once it is known, even on a worker thread (the
thread's copy of the context holds the same object), and log lines written later in the
request, uvicorn's access line included, carry it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any


class Served:
    """The request being served: its id, who it acts as (a user name) and in which project:
    the one recorded, else the ``{project}`` path parameter of its route (read from the ASGI
    ``scope`` when asked: the router fills it in after the request began)."""

    __slots__ = ("acting_project", "principal", "request_id", "scope")

    def __init__(self, request_id: str, scope: Mapping[str, Any] | None = None) -> None:
        self.request_id = request_id
        self.principal: str | None = None
        self.acting_project: str | None = None
        self.scope = scope

    @property
    def project(self) -> str | None:
        if self.acting_project is not None or self.scope is None:
            return self.acting_project
        value = self.scope.get("path_params", {}).get("project")
        return value if isinstance(value, str) else None


_served: ContextVar[Served | None] = ContextVar("lakehold_served", default=None)


def begin(request_id: str, scope: Mapping[str, Any] | None = None) -> Token[Served | None]:
    """Serve request ``request_id`` (with its ASGI ``scope``, if any) in this context; pass
    the result to :func:`end`."""
    return _served.set(Served(request_id, scope))


def end(token: Token[Served | None]) -> None:
    _served.reset(token)


def current() -> Served | None:
    """The request being served, if any."""
    return _served.get()


def identify(principal: str, project: str | None = None) -> None:
    """Record who the current request acts as (and the project its credential is bound to)."""
    served = _served.get()
    if served is not None:
        served.principal = principal
        if project is not None and served.acting_project is None:
            served.acting_project = project


def in_project(project: str | None) -> None:
    """Record the project the current request acts in (a statement's ``project``)."""
    served = _served.get()
    if served is not None and project is not None:
        served.acting_project = project
