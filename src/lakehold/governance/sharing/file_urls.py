"""Short-lived signed URLs of the data files Lakehold serves to recipients (ADR 37).

Local storage has no pre-signed URLs, so Lakehold serves the files itself, at
``/delta-sharing/files/<token>``. The token carries what the URL opens -- the grant, the
share table, whether the file is of the grant's filtered snapshot, the file's path relative
to that table's root --, the recipient token that obtained it (the URL ends with that token:
revoked or expired, its URLs no longer open) and when it expires, signed with HMAC-SHA256
under a key derived from the server's secret key (:meth:`Secrets.derived_keys`, purpose
``lakehold.delta-sharing.file-url.v1``). A changed byte, another path or table, or a time past
the expiry fails :meth:`FileSigner.verify`; what the claim names is then checked against the
store and the table's log before a byte is read (:mod:`.reads`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from lakehold.errors import Forbidden

PURPOSE = "lakehold.delta-sharing.file-url.v1"
_FORMAT = 2
"""Version 2 names the recipient token; a URL of version 1 (before it) is refused."""


@dataclass(frozen=True)
class FileClaim:
    """What a signed URL opens."""

    grant_id: str
    table_id: str
    """The share table's id."""
    snapshot: bool
    """The file is one of the grant's filtered snapshot (else of the source table)."""
    path: str
    """Relative to that table's root, as its log names it."""
    expires: int
    """Unix seconds."""
    token_id: str
    """The recipient token the answer giving this URL was asked with."""


class FileSigner:
    """Signs and verifies file tokens with the keys ``keys()`` gives (the first signs, any
    verifies), valid ``seconds`` after signing."""

    def __init__(self, keys: Callable[[], list[bytes]], seconds: int) -> None:
        self._keys = keys
        self.seconds = seconds

    def sign(
        self, grant_id: str, table_id: str, snapshot: bool, path: str, token_id: str
    ) -> tuple[str, int]:
        """The token of a file, and when it expires (Unix milliseconds)."""
        expires = int(time.time()) + self.seconds
        payload = json.dumps(
            [_FORMAT, grant_id, table_id, int(snapshot), path, expires, token_id],
            separators=(",", ":"),
        )
        body = _encode(payload.encode())
        return f"{body}.{_encode(_mac(self._keys()[0], body))}", expires * 1000

    def verify(self, token: str) -> FileClaim:
        """The claim of a token signed by one of the keys and not expired; Forbidden else."""
        body, _, signature = token.partition(".")
        try:
            given = _decode(signature)
            values = json.loads(_decode(body))
        except (ValueError, binascii.Error):
            raise Forbidden("the file URL is not valid") from None
        if not any(hmac.compare_digest(_mac(key, body), given) for key in self._keys()):
            raise Forbidden("the file URL is not valid")
        if not (isinstance(values, list) and len(values) == 7 and values[0] == _FORMAT):
            raise Forbidden("the file URL is not valid")
        _, grant_id, table_id, snapshot, path, expires, token_id = values
        if time.time() >= expires:
            raise Forbidden("the file URL has expired; query the table again")
        return FileClaim(
            str(grant_id), str(table_id), bool(snapshot), str(path), int(expires), str(token_id)
        )


def _mac(key: bytes, body: str) -> bytes:
    return hmac.new(key, body.encode(), hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
