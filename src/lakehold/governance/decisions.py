"""What subscription requests (:mod:`lakehold.governance.subscriptions`) and share grants
(:mod:`lakehold.governance.sharing.grants`) decide alike: the reason a request gives, the
named filters an approval chooses, and an owner's decision as the request records it.

Each keeps what differs: what is requested, who may see and decide it, what an approval
grants, and the events it emits.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.governance.filters import find_filter
from lakehold.security.principal import Principal
from lakehold.store.models import Asset, AssetFilter, ShareGrant, SubscriptionRequest, utcnow

REQUESTED, APPROVED, REJECTED = "requested", "approved", "rejected"
MAX_REASON = 4000

Decided = ShareGrant | SubscriptionRequest
"""A request its owners decide."""


def check_reason(reason: object, missing: str) -> str:
    """``reason`` without surrounding blanks; Invalid (field ``reason``) saying ``missing``
    when it is blank, or when it is longer than :data:`MAX_REASON` characters."""
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid(missing, field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"a reason is at most {MAX_REASON} characters", field="reason")
    return reason.strip()


def chosen_filter(
    session: Session,
    asset: Asset,
    name: str | None,
    kind: Literal["row", "column"],
    field_name: str,
) -> AssetFilter | None:
    """The ``kind`` filter of ``asset`` named ``name``; None for no name; Invalid naming
    ``field_name`` for an unknown filter or one of the other kind."""
    if not name:
        return None
    try:
        found = find_filter(session, asset, name)
    except NotFound as error:
        raise Invalid(error.message, field=field_name) from None
    if found.kind != kind:
        raise Invalid(f"filter '{name}' is a {found.kind} filter", field=field_name)
    return found


def check_undecided(request: Decided, name: str) -> None:
    """Conflict unless ``request`` (``name`` in the message) still waits for a decision."""
    if request.status != REQUESTED:
        raise Conflict(f"{name} is already {request.status}")


def decide(request: Decided, status: str, principal: Principal, comment: str | None) -> None:
    """Record the owner's decision on ``request``: its status, who decided, when, and why."""
    request.status = status
    request.decided_by, request.decided_at = principal.user_id, utcnow()
    request.decision_comment = comment
