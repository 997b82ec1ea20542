"""Failed OpenID Connect sign-ins limited as password sign-ins are (ADR 0029, 0031): per
address, under the same ``address:`` keys (one budget for every way of signing in), and per
person the provider vouched for (``subject:<provider>:<subject>``, the per-user limit) once
the token says who it is. Past a limit a sign-in is refused (429, Retry-After) before the
provider is asked anything; a success clears the person's count, not the address's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lakehold.security import login_limits
from lakehold.security.login_limits import LoginLimits
from lakehold.security.network_limits import RateLimited
from lakehold.security.oidc.refusals import RATE_LIMITED
from lakehold.store.db import Store
from lakehold.store.models import utcnow


def subject_key(provider: str, subject: str) -> str:
    """The value a person's failures count under: ``<provider>:<subject>``."""
    return f"{provider}:{subject}"


class SignInLimits:
    """Failed sign-in counts of addresses and subjects. ``clock`` gives the time (aware UTC)."""

    def __init__(
        self, store: Store, limits: LoginLimits, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.limits = limits
        self.clock = clock

    def check(self, *, address: str | None, subject: str | None = None) -> None:
        """RateLimited (audit reason ``rate limited``) when ``address`` or ``subject`` is over
        its limit."""
        attempts = self.limits.of(address=address, subject=subject)
        if not attempts:
            return
        with self.store.session() as session:
            try:
                login_limits.check(session, attempts, self.clock())
            except RateLimited as error:
                error.audit_reason = RATE_LIMITED  # type: ignore[attr-defined]
                raise

    def failed(self, *, address: str | None, subject: str | None = None) -> None:
        """Count a refused sign-in (its own transaction: the refusal rolls back the caller's)."""
        attempts = self.limits.of(address=address, subject=subject)
        if attempts:
            with self.store.session() as session:
                login_limits.fail(session, attempts, self.clock())

    def succeeded(self, subject: str) -> None:
        """Forget the failures of ``subject`` (those of its address stay)."""
        with self.store.session() as session:
            self.limits.subjects.clear(session, subject)
