"""Failed attempts counted per key in a fixed window, in the metadata store (``login_failures``),
so that every API process sees the same count (ADR 0029).

A :class:`FailureWindow` is one kind of key (its prefix) and how many failures a key may hold
in its window, which opens at the key's first failure; the count starts again at one after
it. Past the limit, attempts are refused (:func:`check`: HTTP 429, with Retry-After: when the
window ends) before any credential is checked. The windows in use:

- ``user:<name>`` and ``address:<ip>``: password sign-in (:class:`LoginLimits`, 5 per user
  name and 20 per address in 15 minutes); OpenID Connect sign-in counts its failures under the
  same ``address:`` keys and under ``subject:<provider>:<subject>`` (the per-user limit);
- ``client:<client id>``: service principals' client authentication (ADR 0032);
- ``idtoken:<sha256>``: ID tokens exchanged by the CLI, which may be used once (ADR 0031).

Each count is one atomic ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (SQLite and
PostgreSQL), in the caller's transaction. Password sign-ins and client authentication count an
attempt before its credential is checked, in a transaction of its own (:func:`reserve`), and
take it back when it succeeds: the limit then holds across API processes too. A success
clears what the caller says (a user's count, not its address's: one good account must not
reset an attacker's address).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lakehold.security.network_limits import RateLimited
from lakehold.store.models import LoginFailure, as_utc

TOO_MANY = "too many failed sign-ins; try again in {seconds} s"
MAX_KEY = 200
"""The key column's length: a longer key is stored as its prefix and SHA-256."""


@dataclass(frozen=True)
class FailureWindow:
    """At most ``limit`` failures per ``<prefix>:<value>`` key in ``window``."""

    prefix: str
    limit: int
    window: timedelta

    def key(self, value: str) -> str:
        """The stored key of ``value``."""
        key = f"{self.prefix}:{value}"
        if len(key) <= MAX_KEY:
            return key
        return f"{self.prefix}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"

    def count(self, session: Session, value: str, now: datetime) -> int:
        """Count one failure of ``value``; its count in the current window, this one
        included. Keys of this prefix whose window is over are forgotten first."""
        cutoff = now - self.window
        session.execute(
            delete(LoginFailure).where(self._prefixed(), LoginFailure.window_start <= cutoff)
        )
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        current = LoginFailure.window_start > cutoff
        statement = insert(LoginFailure).values(key=self.key(value), window_start=now, failures=1)
        upsert = statement.on_conflict_do_update(
            index_elements=[LoginFailure.key],
            set_={
                "failures": case((current, LoginFailure.failures + 1), else_=1),
                "window_start": case(
                    (current, LoginFailure.window_start), else_=statement.excluded.window_start
                ),
            },
        ).returning(LoginFailure.failures)
        return int(session.execute(upsert).scalar_one())

    def clear(self, session: Session, value: str) -> None:
        """Forget the failures of ``value`` (after a success)."""
        session.execute(delete(LoginFailure).where(LoginFailure.key == self.key(value)))

    def _prefixed(self) -> ColumnElement[bool]:
        """Keys of this prefix, as a range the primary key's index answers (':' + 1 is ';')."""
        return and_(LoginFailure.key >= f"{self.prefix}:", LoginFailure.key < f"{self.prefix};")


Attempt = tuple[FailureWindow, str]
"""A window and the value (user name, address, client id...) an attempt counts under."""


def retry_after(session: Session, attempts: Iterable[Attempt], now: datetime) -> int | None:
    """Seconds until none of ``attempts``' keys is over its limit; None when none is (one
    query)."""
    limits = {window.key(value): window for window, value in attempts}
    if not limits:
        return None
    rows = session.execute(
        select(LoginFailure.key, LoginFailure.window_start, LoginFailure.failures).where(
            LoginFailure.key.in_(list(limits))
        )
    )
    wait = 0.0
    for key, started, failures in rows:
        window = limits[key]
        ends = as_utc(started) + window.window
        if failures >= window.limit and ends > now:
            wait = max(wait, (ends - now).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else None


def check(
    session: Session, attempts: Iterable[Attempt], now: datetime, message: str = TOO_MANY
) -> None:
    """Raise RateLimited (``message`` with ``{seconds}``) when a key of ``attempts`` is over
    its limit in its window."""
    seconds = retry_after(session, attempts, now)
    if seconds is not None:
        raise RateLimited(message.format(seconds=seconds), retry_after=seconds)


def reserve(session: Session, attempts: Iterable[Attempt], now: datetime) -> int | None:
    """Count an attempt as failed *before* its credential is checked; seconds to wait when a
    key is over its limit with it counted (refuse it), None when it may go on. Commit it
    before checking the credential: concurrent attempts, in any number of processes, then each
    see the ones before them, so the limit holds (checked before and counted after, guesses
    racing each other all passed the check). A success takes it back (:func:`release`), and
    so does a refusal here: what is refused before its credential is checked is no failure."""
    attempts = list(attempts)
    over = False
    for window, value in attempts:
        over = window.count(session, value, now) > window.limit or over
    if not over:
        return None
    release(session, attempts)
    return retry_after(session, attempts, now)


def release(session: Session, attempts: Iterable[Attempt]) -> None:
    """Take back an attempt :func:`reserve` counted, which succeeded."""
    for window, value in attempts:
        session.execute(
            update(LoginFailure)
            .where(LoginFailure.key == window.key(value), LoginFailure.failures > 0)
            .values(failures=LoginFailure.failures - 1)
        )


def fail(session: Session, attempts: Iterable[Attempt], now: datetime) -> None:
    """Count one failure under each key of ``attempts``."""
    for window, value in attempts:
        window.count(session, value, now)


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins a user name (or a provider's subject) and an address may have
    in ``window``."""

    per_user: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)

    @property
    def users(self) -> FailureWindow:
        return FailureWindow("user", self.per_user, self.window)

    @property
    def addresses(self) -> FailureWindow:
        return FailureWindow("address", self.per_address, self.window)

    @property
    def subjects(self) -> FailureWindow:
        """Identities an OpenID Connect provider vouched for (``<provider>:<subject>``)."""
        return FailureWindow("subject", self.per_user, self.window)

    def of(
        self, *, username: str | None = None, address: str | None = None, subject: str | None = None
    ) -> list[Attempt]:
        """The keys a sign-in counts under: its user name or subject, and address, when
        known (each at most 64 characters of a name or address)."""
        attempts: list[Attempt] = []
        if username is not None:
            attempts.append((self.users, username[:64]))
        if subject is not None:
            attempts.append((self.subjects, subject))
        if address:
            attempts.append((self.addresses, address[:64]))
        return attempts
