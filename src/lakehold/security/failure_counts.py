"""Failed attempts counted per key in a fixed window, in the metadata store (``login_failures``),
so every API process sees the same count: ``client:<client id>`` for client credentials.

A key is blocked once it holds ``limit`` failures in a window that is still open; the window
opens at the first failure and the count starts again after it. A success clears the key.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from lakehold.store.db import Store
from lakehold.store.models import LoginFailure, as_utc, utcnow


class FailureCounts:
    """At most ``limit`` failures per key in ``window``."""

    def __init__(self, store: Store, *, limit: int, window: timedelta) -> None:
        self.store = store
        self.limit = limit
        self.window = window

    def blocked_for(self, key: str, now: datetime | None = None) -> int | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        now = now or utcnow()
        with self.store.session() as session:
            row = session.get(LoginFailure, key)
            if row is None or row.failures < self.limit:
                return None
            ends = as_utc(row.window_start) + self.window
            return max(1, int((ends - now).total_seconds()) + 1) if ends > now else None

    def failed(self, key: str, now: datetime | None = None) -> None:
        """Count one failure of ``key`` (its own transaction; a concurrent first failure of the
        same key is retried once as an update)."""
        now = now or utcnow()
        for _attempt in range(2):
            try:
                with self.store.session(immediate=True) as session:
                    row = session.get(LoginFailure, key, with_for_update=True)
                    if row is None:
                        session.add(LoginFailure(key=key, window_start=now, failures=1))
                    elif as_utc(row.window_start) + self.window <= now:
                        row.window_start, row.failures = now, 1
                    else:
                        row.failures += 1
                return
            except IntegrityError:
                continue

    def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (after a success)."""
        with self.store.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key == key))
