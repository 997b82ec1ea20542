"""Encryption at rest of connection passwords and webhook secrets (Fernet: AES-128-CBC +
HMAC-SHA256).

Keys, first one encrypts, every one decrypts (``MultiFernet``):

* ``LAKEHOLD_SECRET_KEY`` (a Fernet key) and, during a rotation, the earlier keys in
  ``LAKEHOLD_SECRET_KEY_PREVIOUS`` (comma-separated); or else
* the key file ``LAKEHOLD_HOME/secret.key`` (one key a line, the current one first), created
  with mode 0600 the first time a process needs it.

:meth:`Secrets.rotate` re-encrypts every stored secret with a new key: those of the callback it
is given, and those of every callback registered with :meth:`Secrets.also_rotate` (webhook
secrets). With the key file, it
writes the new key in front of the old one, re-encrypts, then drops the old key (a crash in
between leaves both keys, so nothing becomes unreadable). With ``LAKEHOLD_SECRET_KEY`` the
operator sets the new key and lists the old one in ``LAKEHOLD_SECRET_KEY_PREVIOUS``, runs the
rotation, then removes the previous key.

Neither keys nor plaintexts appear in a ``repr``, a log line or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from lakehold.config import Settings
from lakehold.errors import Invalid, LakeholdError
from lakehold.observability import instruments

log = logging.getLogger(__name__)

KEY_FILE = "secret.key"

#: Re-encrypts every stored secret with the function given (ciphertext -> ciphertext) and
#: returns how many it re-encrypted.
Reencrypt = Callable[[Callable[[str], str]], int]


def key_id(key: bytes) -> str:
    """A key's fingerprint, fit for metrics and logs: 8 hex digits of the SHA-256 of its bytes
    (nothing of the key can be learnt from it)."""
    return hashlib.sha256(base64.urlsafe_b64decode(key)).hexdigest()[:8]


class SecretError(LakeholdError):
    """A stored secret cannot be decrypted with the configured keys."""


class Secrets:
    """Encrypts and decrypts secrets with the configured keys."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._keys: list[bytes] = []
        self._stamp: int | None = None
        self._also: list[Reencrypt] = []
        self._fernet: MultiFernet
        self._openers: list[tuple[str, Fernet]] = []
        self._load()

    def __repr__(self) -> str:
        return f"Secrets(source={self.key_source!r}, keys={len(self._keys)})"

    @property
    def key_source(self) -> str:
        """``environment`` or the key file's path."""
        return "environment" if self._from_env else str(self.key_file)

    @property
    def key_file(self) -> Path:
        return self._settings.home / KEY_FILE

    @property
    def _from_env(self) -> bool:
        return self._settings.secret_key is not None

    def encrypt(self, plaintext: str) -> str:
        """The ciphertext (a Fernet token) of ``plaintext``, with the current key (the key file
        is re-read if another process rotated it)."""
        self._reload_if_changed()
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str, *, what: str = "a secret") -> str:
        """The plaintext of ``ciphertext``; SecretError naming ``what`` if no key fits.

        A key file changed by another process (a rotation) is re-read once. Each decryption
        is counted by the fingerprint of the key that opened it (:func:`key_id`)."""
        plaintext = self._open(ciphertext.encode())
        if plaintext is None and not self._from_env:
            with self._lock:
                self._load()
            plaintext = self._open(ciphertext.encode())
        if plaintext is None:
            raise SecretError(f"cannot decrypt {what}: the secret key does not match")
        return plaintext

    def _open(self, token: bytes) -> str | None:
        """Decrypt with each key in turn, as ``MultiFernet`` does, knowing which one fit."""
        for fingerprint, fernet in self._openers:
            try:
                plaintext = fernet.decrypt(token).decode()
            except InvalidToken:
                continue
            instruments.secret_decrypted(fingerprint)
            return plaintext
        return None

    def derived_keys(self, purpose: str) -> list[bytes]:
        """Signing keys for ``purpose``, one per configured key, the current key's first:
        HMAC-SHA256 of the purpose under each key. They reveal nothing of the keys, differ
        from purpose to purpose, and rotate with the secret key (what a key signed while it
        was current verifies until it is dropped)."""
        self._reload_if_changed()
        return [
            hmac.new(base64.urlsafe_b64decode(key), purpose.encode(), hashlib.sha256).digest()
            for key in self._keys
        ]

    def also_rotate(self, reencrypt: Reencrypt) -> None:
        """Have :meth:`rotate` re-encrypt these secrets too (those of another table)."""
        self._also.append(reencrypt)

    def rotate(self, reencrypt: Reencrypt) -> int:
        """Re-encrypt every stored secret with a new key (key file) or with the current key
        (``LAKEHOLD_SECRET_KEY``); returns how many secrets were re-encrypted."""
        with self._lock:
            if self._from_env:
                return self._reencrypt_all(reencrypt)
            new = Fernet.generate_key()
            self._keys = [new, *self._keys]
            self._write(self._keys)
            self._use(self._keys)
            count = self._reencrypt_all(reencrypt)
            self._keys = [new]
            self._write(self._keys)
            self._use(self._keys)
            log.info("secret key rotated; %d secret(s) re-encrypted", count)
            return count

    def _reencrypt_all(self, reencrypt: Reencrypt) -> int:
        return sum(each(self._rotate_token) for each in (reencrypt, *self._also))

    def _rotate_token(self, ciphertext: str) -> str:
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretError("cannot re-encrypt a secret: no configured key fits") from None

    # -- key material ----------------------------------------------------------------------

    def _reload_if_changed(self) -> None:
        if self._from_env:
            return
        try:
            stamp = self.key_file.stat().st_mtime_ns
        except OSError:
            return
        if stamp != self._stamp:
            with self._lock:
                self._load()

    def _load(self) -> None:
        keys = self._env_keys() if self._from_env else self._file_keys()
        try:
            self._use(keys)
        except ValueError:
            raise Invalid(
                "the secret key is not a Fernet key (32 url-safe base64-encoded bytes)",
                field="secret_key",
            ) from None
        self._keys = keys

    def _use(self, keys: list[bytes]) -> None:
        """Encrypt with the first of ``keys``, decrypt with any (ValueError: not Fernet keys)."""
        self._openers = [(key_id(k), Fernet(k)) for k in keys]
        self._fernet = MultiFernet([fernet for _, fernet in self._openers])

    def _env_keys(self) -> list[bytes]:
        assert self._settings.secret_key is not None
        keys = [self._settings.secret_key.get_secret_value()]
        if self._settings.secret_key_previous is not None:
            previous = self._settings.secret_key_previous.get_secret_value()
            keys += [k.strip() for k in previous.split(",") if k.strip()]
        return [k.strip().encode() for k in keys]

    def _file_keys(self) -> list[bytes]:
        path = self.key_file
        if not path.exists():
            self._create_key_file(path)
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("key file %s is readable by others (mode %o); use 0600", path, mode)
        self._stamp = path.stat().st_mtime_ns
        keys = [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]
        if not keys:
            raise Invalid(f"the key file {KEY_FILE} holds no key", field="secret_key")
        return keys

    @staticmethod
    def _create_key_file(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key() + b"\n")
        log.info("created secret key file %s", path)

    def _write(self, keys: list[bytes]) -> None:
        """Replace the key file atomically, mode 0600."""
        path = self.key_file
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(b"".join(k + b"\n" for k in keys))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
        self._stamp = path.stat().st_mtime_ns
