"""Failed sign-ins, counted per user and per address in the metadata store, so that every
process shares the count (ADR 0029).

A key (``user:<name>``, ``address:<ip>``) holds the failures since the start of its window.
Past ``per_user`` failures of one user name, or ``per_address`` from one address, within
``window``, a sign-in is refused (HTTP 429, with Retry-After: when the window ends) before the
password is even checked. A success clears the user's count (not the address's: one good
account must not reset an attacker's address).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lakehold.security.network_limits import RateLimited
from lakehold.store.models import LoginFailure, as_utc

TOO_MANY = "too many failed sign-ins; try again in {seconds} s"


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins a user name and an address may have in ``window``."""

    per_user: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


def _keys(username: str, address: str | None) -> dict[str, str]:
    keys = {"user": f"user:{username[:64]}"}
    if address:
        keys["address"] = f"address:{address[:64]}"
    return keys


def check(
    session: Session, limits: LoginLimits, username: str, address: str | None, now: datetime
) -> None:
    """Raise RateLimited when ``username`` or ``address`` is over its limit in its window."""
    keys = _keys(username, address)
    limit = {keys["user"]: limits.per_user}
    if "address" in keys:
        limit[keys["address"]] = limits.per_address
    rows = session.execute(
        select(LoginFailure.key, LoginFailure.window_start, LoginFailure.failures).where(
            LoginFailure.key.in_(list(limit))
        )
    )
    wait = 0.0
    for key, started, failures in rows:
        ends = as_utc(started) + limits.window
        if failures >= limit[key] and ends > now:
            wait = max(wait, (ends - now).total_seconds())
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(TOO_MANY.format(seconds=seconds), retry_after=seconds)


def record_failure(
    session: Session, limits: LoginLimits, username: str, address: str | None, now: datetime
) -> None:
    """Count a failed sign-in for ``username`` and ``address`` (one atomic upsert each: a
    window over restarts at one)."""
    cutoff = now - limits.window
    session.execute(delete(LoginFailure).where(LoginFailure.window_start <= cutoff))
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    current = LoginFailure.window_start > cutoff
    for key in _keys(username, address).values():
        statement = insert(LoginFailure).values(key=key, window_start=now, failures=1)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[LoginFailure.key],
                set_={
                    "failures": case((current, LoginFailure.failures + 1), else_=1),
                    "window_start": case(
                        (current, LoginFailure.window_start), else_=statement.excluded.window_start
                    ),
                },
            )
        )


def reset_user(session: Session, username: str) -> None:
    """Forget the failed sign-ins of ``username`` (after a success)."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == _keys(username, None)["user"]))
