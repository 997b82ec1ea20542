"""Who asked and who decided, by name: the username of a user id in events and views."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lakehold.store.models import User


def username(session: Session, user_id: str | None) -> str | None:
    """The name of the user ``user_id`` (None for none, or a user no longer there)."""
    user = session.get(User, user_id) if user_id else None
    return user.username if user else None
