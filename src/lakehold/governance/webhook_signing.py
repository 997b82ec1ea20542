"""Webhook secrets and signatures as the Standard Webhooks specification defines them
(https://www.standardwebhooks.com/), and their encryption at rest.

- A secret's canonical form is ``whsec_`` + base64 of the signing key. A generated secret holds
  32 random bytes. A supplied secret starting with ``whsec_`` is decoded (24 to 64 bytes);
  any other supplied secret (16 to 200 characters) is used as-is: its UTF-8 bytes are the key,
  so its canonical form is ``whsec_`` + base64 of those bytes.
- Each attempt carries ``webhook-id`` (the delivery id, the same on every retry),
  ``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``
  (``v1,`` + base64 HMAC-SHA256 of ``"{id}.{timestamp}.{body}"``). A verifier refuses a
  timestamp more than five minutes away, so a captured delivery cannot be replayed later.
- Secrets are stored encrypted with the key of :mod:`lakehold.security.secrets` (the one that
  encrypts connection passwords) and rotated with it. Rows from before migration 0008 keep
  their plaintext in ``legacy_secret`` until :meth:`SecretBox.encrypt_legacy` (run when the
  dispatcher starts) or the first delivery that needs it encrypts and clears it.
  Secrets never appear in a repr, a log line, an error or an API response.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import Invalid
from lakehold.security.secrets import Reencrypt, Secrets
from lakehold.store.db import Store
from lakehold.store.models import Webhook

PREFIX = "whsec_"
MIN_RAW, MAX_RAW = 16, 200
"""Length bounds of a supplied secret without the ``whsec_`` prefix (characters)."""
MIN_KEY, MAX_KEY = 24, 64
"""Length bounds of a ``whsec_`` secret's key (bytes), as the specification recommends."""
GENERATED_KEY = 32


def generate() -> str:
    """A new random secret, ``whsec_...``."""
    return PREFIX + base64.b64encode(random.token_bytes(GENERATED_KEY)).decode()


def canonical(secret: Any) -> str:
    """The ``whsec_`` form of a supplied secret; Invalid (naming no secret) otherwise."""
    if isinstance(secret, str) and secret.startswith(PREFIX):
        try:
            key = base64.b64decode(secret[len(PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("a whsec_ secret is base64 after its prefix", field="secret") from None
        if not MIN_KEY <= len(key) <= MAX_KEY:
            raise Invalid(f"a whsec_ secret holds {MIN_KEY} to {MAX_KEY} bytes", field="secret")
        return PREFIX + base64.b64encode(key).decode()
    if not isinstance(secret, str) or not MIN_RAW <= len(secret) <= MAX_RAW:
        raise Invalid(
            f"a webhook secret is whsec_<base64> or {MIN_RAW} to {MAX_RAW} characters",
            field="secret",
        )
    return PREFIX + base64.b64encode(secret.encode()).decode()


def key_of(secret: str) -> bytes:
    """The signing key of a canonical ``whsec_`` secret."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_of(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secret: str, message_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` (now, unless given) and ``webhook-signature``."""
    at = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(at),
        "webhook-signature": signature(secret, message_id, at, body),
    }


class SecretBox:
    """Seals webhook secrets with the secret key and opens them for signing."""

    def __init__(self, secrets: Secrets) -> None:
        self._secrets = secrets

    def __repr__(self) -> str:
        return "SecretBox()"

    def seal(self, hook: Webhook, secret: str) -> None:
        """Store the canonical ``secret`` on ``hook``, encrypted."""
        hook.secret_ciphertext = self._secrets.encrypt(secret)
        hook.legacy_secret = None

    def open(self, hook: Webhook) -> str:
        """The canonical secret of ``hook``; a plaintext one from before 0008 is sealed on the
        way (the caller's transaction stores it)."""
        if hook.secret_ciphertext is None and hook.legacy_secret:
            self.seal(hook, canonical_legacy(hook.legacy_secret))
        if hook.secret_ciphertext is None:
            raise Invalid("the webhook has no secret; set one", field="secret")
        return self._secrets.decrypt(hook.secret_ciphertext, what="a webhook secret")

    def encrypt_legacy(self, session: Session) -> int:
        """Seal every plaintext secret left by migration 0008; how many."""
        rows = session.scalars(
            select(Webhook).where(Webhook.legacy_secret.is_not(None), Webhook.legacy_secret != "")
        ).all()
        for hook in rows:
            if hook.secret_ciphertext is None:
                self.seal(hook, canonical_legacy(hook.legacy_secret or ""))
            else:
                hook.legacy_secret = None
        return len(rows)

    def reencrypter(self, store: Store) -> Reencrypt:
        """What :meth:`Secrets.rotate` calls to re-encrypt every webhook secret."""

        def reencrypt(rotate: Callable[[str], str]) -> int:
            with store.session() as session:
                rows = session.scalars(
                    select(Webhook).where(Webhook.secret_ciphertext.is_not(None))
                ).all()
                for hook in rows:
                    ciphertext = hook.secret_ciphertext
                    assert ciphertext is not None  # selected: secret_ciphertext IS NOT NULL
                    hook.secret_ciphertext = rotate(ciphertext)
                return len(rows)

        return reencrypt


def canonical_legacy(secret: str) -> str:
    """The ``whsec_`` form of a secret stored before 0008 (any length: it was accepted then)."""
    try:
        return canonical(secret)
    except Invalid:
        return PREFIX + base64.b64encode(secret.encode()).decode()
