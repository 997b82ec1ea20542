"""An ID token the CLI exchanges for a Lakehold token is used once (ADR 0031): its ``jti`` (with
the issuer; the whole token when it has none) is remembered, as a SHA-256, in the shared
``login_failures`` table (``idtoken:<sha256>``, at most one use per key, via
:class:`~lakehold.security.login_limits.FailureWindow`) for as long as it could still be
accepted: the exchange takes tokens issued at most ``max_age`` seconds ago, and none issued in
the future beyond the leeway, so ``max_age`` plus twice the leeway after its first use it is
refused as too old anyway. The use is counted in its own transaction, atomically: of two
concurrent exchanges of one token, one wins on every API process."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from lakehold.security.login_limits import FailureWindow
from lakehold.security.oidc.refusals import REPLAYED, refused
from lakehold.security.oidc.tokens import LEEWAY_SECONDS
from lakehold.store.db import Store
from lakehold.store.models import utcnow


def fingerprint(claims: dict[str, Any], token: str) -> str:
    """The SHA-256 (hex) that identifies an ID token: of its issuer and ``jti``, else of the
    token itself."""
    jti = claims.get("jti")
    if isinstance(jti, str) and jti:
        return hashlib.sha256(f"{claims['iss']}\n{jti}".encode()).hexdigest()
    return hashlib.sha256(token.encode()).hexdigest()


class ExchangedTokens:
    """The ID tokens exchanged lately. ``clock`` gives the time (aware UTC)."""

    def __init__(
        self, store: Store, *, max_age_seconds: int, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.window = FailureWindow(
            "idtoken", 1, timedelta(seconds=max_age_seconds + 2 * LEEWAY_SECONDS)
        )
        self.clock = clock

    def use(self, claims: dict[str, Any], token: str) -> None:
        """Record the exchange of the validated ``token``; refused (``token already
        exchanged``, 401) when it was exchanged before."""
        with self.store.session() as session:
            uses = self.window.count(session, fingerprint(claims, token), self.clock())
        if uses > 1:
            raise refused(
                REPLAYED,
                "this ID token was already exchanged for a Lakehold token: sign in again",
            )
