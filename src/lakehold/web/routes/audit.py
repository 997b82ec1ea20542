"""The audit log page: events newest first, filtered by action (``table.*`` for a family),
principal, project, allowed or denied and a time range, a page at a time -- read through the
audit service as the signed-in principal, so whoever the API refuses is refused here too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from lakehold.errors import Invalid, LakeholdError
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_EVENTS = 10_000
"""The most events the service returns at once: the last page reachable."""
FILTERS = ("action", "username", "project", "allowed", "since", "until")


@dataclass(frozen=True)
class Filters:
    """The page's query, checked: each bad value is an error by field."""

    values: dict[str, str]
    query: dict[str, Any]
    page: int
    errors: dict[str, str]

    @classmethod
    def of(cls, params: Any) -> Filters:
        values = {name: str(params.get(name, "")).strip() for name in FILTERS}
        errors: dict[str, str] = {}
        query: dict[str, Any] = {
            name: values[name] or None for name in ("action", "username", "project")
        }
        query["allowed"] = {"": None, "true": True, "false": False}.get(values["allowed"])
        if values["allowed"] not in ("", "true", "false"):
            errors["allowed"] = "choose allowed, denied or either"
        for name in ("since", "until"):
            try:
                query[name] = _time(values[name])
            except Invalid as error:
                errors[name] = error.message
        page_text = str(params.get("page", "1")).strip() or "1"
        page = int(page_text) if page_text.isdigit() else 0
        if not 1 <= page <= MAX_EVENTS // PAGE_SIZE:
            errors["page"] = f"a page is a number from 1 to {MAX_EVENTS // PAGE_SIZE}"
            page = 1
        return cls(values, query, page, errors)

    def link(self, page: int) -> str:
        """The query string of page ``page`` with these filters."""
        kept = {k: v for k, v in self.values.items() if v}
        return "?" + urlencode({**kept, "page": page})


def _time(value: str) -> datetime | None:
    """A time from the form (``YYYY-MM-DDTHH:MM``, UTC unless it names its zone)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("expected a time such as 2026-12-07T09:30 (UTC)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.get("/audit")
def audit_page(request: Request, principal: PagePrincipal) -> Response:
    """The audit log, filtered and paged; refused (the API's 403): the message, no events."""
    filters = Filters.of(request.query_params)
    context: dict[str, Any] = {
        "filters": filters,
        "events": [],
        "has_next": False,
        "refused": None,
    }
    if filters.errors:
        return render(request, "audit.html", context, status_code=400)
    shown = filters.page * PAGE_SIZE
    try:
        events = request.app.state.runtime.audit.events(
            principal, **filters.query, limit=min(shown + 1, MAX_EVENTS)
        )
    except LakeholdError as error:
        context["refused"] = error.message
        return render(request, "audit.html", context, status_code=error.status_code)
    context["events"] = events[shown - PAGE_SIZE : shown]
    context["has_next"] = len(events) > shown and shown < MAX_EVENTS
    return render(request, "audit.html", context)
