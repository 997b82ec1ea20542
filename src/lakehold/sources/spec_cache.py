"""Vetted connection specs, kept a few seconds per connection version (issue 12).

Every federated statement needs its connection's spec: the secret decrypted and the target
vetted (allow-list, DNS, pinned address; ADR 0014). Doing that per statement cost ~13 ms
under load, so :meth:`ConnectionService.spec` keeps the vetted spec here, keyed by
:func:`version`: the connection's id, ``updated_at``, parameters, a digest of the secret's
ciphertext (a key rotation re-encrypts it) and whether the connection is an administrator's.
The row is read on every statement, so a change made by any process is used by the next
statement; this process also drops a connection's entries when it changes it.

What the cache can hold back is bounded by :data:`SPEC_CACHE_S`: a removed allow-list rule,
a DNS change (the pinned address) or a newly restricted address refuses the connection at
most that long after the change. The guard against Lakehold's own metadata database is not
cached: it is checked again on the pinned address before every use.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

from lakehold.connectors.attach import ConnectionSpec
from lakehold.store.sources import Connection

SPEC_CACHE_S = 5.0
MAX_SPECS = 256

Version = tuple[str, ...]


def version(connection: Connection, *, trusted: bool) -> Version:
    """Changes whenever the spec would: parameters, password, key rotation, creator's role."""
    secret = connection.secret_ciphertext or ""
    return (
        connection.id,
        str(connection.updated_at),
        str(sorted(connection.params.items())),
        hashlib.sha256(secret.encode()).hexdigest(),
        "admin" if trusted else "member",
    )


class SpecCache:
    """At most ``max_size`` vetted specs, each for ``ttl_s`` seconds (0: no caching)."""

    def __init__(self, ttl_s: float = SPEC_CACHE_S, max_size: int = MAX_SPECS) -> None:
        self.ttl_s = ttl_s
        self.max_size = max_size
        self._entries: OrderedDict[Version, tuple[float, ConnectionSpec]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Version) -> ConnectionSpec | None:
        """The spec vetted for ``key`` less than ``ttl_s`` ago, else None."""
        if self.ttl_s <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Version, spec: ConnectionSpec) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl_s, spec)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def invalidate(self, connection_id: str) -> None:
        """Forget every version of one connection (it changed or was deleted)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == connection_id]:
                del self._entries[key]

    def clear(self) -> None:
        """Forget every spec (the secret key was rotated)."""
        with self._lock:
            self._entries.clear()
