"""Vetted connection specs, kept a few seconds per connection (issue 12).

Every federated statement needs its connection's spec: the secret decrypted and the target
vetted (allow-list, DNS, pinned address; ADR 0014). Doing that per statement cost ~13 ms
under load, and even reading the connection's row to check a cached spec cost a metadata
session per statement (~2.5 ms on PostgreSQL metadata under load), so
:meth:`ConnectionService.spec` keeps the vetted spec here by connection id and does not read
the row while the spec is fresh.

What the cache can hold back is bounded by :data:`SPEC_CACHE_S`: a removed allow-list rule,
a DNS change (the pinned address), a newly restricted address, a change made to the
connection by another process, or its creator losing the administrator role, takes effect at
most that long after the change. This process's own changes to a connection (update, delete,
key rotation) take effect at once: they :meth:`~SpecCache.invalidate` it, and a spec vetted
from a row read before an invalidation is not kept (:attr:`SpecCache.generation`). A deleted
connection's federated assets are deleted with it, so no statement binds it again whatever
the cache holds. The guard against Lakehold's own metadata database is not cached: it is
checked again on the pinned address before every use.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from lakehold.connectors.attach import ConnectionSpec

SPEC_CACHE_S = 5.0
MAX_SPECS = 256


class SpecCache:
    """At most ``max_size`` vetted specs by connection id, each for ``ttl_s`` seconds (0: no
    caching)."""

    def __init__(self, ttl_s: float = SPEC_CACHE_S, max_size: int = MAX_SPECS) -> None:
        self.ttl_s = ttl_s
        self.max_size = max_size
        self._entries: OrderedDict[str, tuple[float, ConnectionSpec]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def generation(self) -> int:
        """Changes at every invalidation: read it before reading a connection's row, and
        :meth:`put` keeps the spec built from that row only if it has not changed since."""
        return self._generation

    def get(self, connection_id: str) -> ConnectionSpec | None:
        """The spec vetted for ``connection_id`` less than ``ttl_s`` ago, else None."""
        if self.ttl_s <= 0:
            return None
        with self._lock:
            entry = self._entries.get(connection_id)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[connection_id]
                return None
            self._entries.move_to_end(connection_id)
            return entry[1]

    def put(self, connection_id: str, spec: ConnectionSpec, generation: int) -> None:
        """Keep ``spec``, built from a row read when :attr:`generation` was ``generation``."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation != self._generation:  # the row may have changed since it was read
                return
            self._entries[connection_id] = (time.monotonic() + self.ttl_s, spec)
            self._entries.move_to_end(connection_id)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def invalidate(self, connection_id: str) -> None:
        """Forget one connection's spec (it changed or was deleted)."""
        with self._lock:
            self._generation += 1
            self._entries.pop(connection_id, None)

    def clear(self) -> None:
        """Forget every spec (the secret key was rotated)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
