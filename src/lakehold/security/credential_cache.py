"""A short-lived, bounded, per-process cache of validated credentials (ADR 0029).

Authentication checks a token against the metadata store (one query); the answer is kept for
``ttl`` seconds (``LAKEHOLD_CREDENTIAL_CACHE_SECONDS``, 1 s by default), keyed by the token's
lookup and the hash of its secret, so a burst of requests from one client costs one query.

Revocation is shared state in the store, and the caches follow it two ways:

- in this process, at once: :func:`invalidate` (called by every revocation, inside its
  transaction) clears every cache on that database, and clears them again when the
  transaction commits, so no request re-fills them from the state before it;
- in every other process, within ``ttl``: an entry is never trusted longer than that.

A revocation is therefore effective on the next request after at most ``ttl`` on every API
process. Caches are registered per database connection pool: two runtimes on one database in
one process (as tests make them) behave as two processes do.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

V = TypeVar("V")

MAX_ENTRIES = 10_000


class CredentialCache(Generic[V]):
    """``key -> value`` for at most ``ttl`` seconds and at most ``max_entries`` keys (the
    oldest go first). ``ttl`` 0 disables it. Thread-safe."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max(1, max_entries)
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self.generation = 0
        """Incremented by each :meth:`clear`: an answer read before it is not kept."""

    def get(self, key: Hashable) -> V | None:
        """The value cached for ``key`` less than ``ttl`` ago, else None."""
        found = self._entries.get(key)
        if found is None:
            return None
        if self.clock() >= found[0]:
            with self._lock:
                if self._entries.get(key) is found:
                    del self._entries[key]
            return None
        return found[1]

    def put(self, key: Hashable, value: V, generation: int | None = None) -> None:
        """Keep ``value`` for ``key`` for ``ttl`` seconds; nothing when disabled, or when
        the cache was cleared since ``generation`` (read before ``value`` was)."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._entries[key] = (self.clock() + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_caches: weakref.WeakKeyDictionary[Pool, weakref.WeakSet[CredentialCache]] = (
    weakref.WeakKeyDictionary()
)
_registry_lock = threading.Lock()


def register(engine: Engine, cache: CredentialCache) -> CredentialCache:
    """Have :func:`invalidate` on ``engine``'s database clear ``cache``; returns it."""
    with _registry_lock:
        _caches.setdefault(engine.pool, weakref.WeakSet()).add(cache)
    return cache


def clear_all(bind: Engine) -> None:
    """Clear every cache registered on ``bind``'s database (its connection pool)."""
    with _registry_lock:
        caches = list(_caches.get(bind.pool, ()))
    for cache in caches:
        cache.clear()


def invalidate(session: Session) -> None:
    """A revocation is being written in ``session``: clear this process's caches on its
    database now and once more after the transaction commits."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):  # a session bound to a connection: its engine
        bind = bind.engine
    clear_all(bind)
    event.listen(session, "after_commit", lambda _session: clear_all(bind), once=True)
