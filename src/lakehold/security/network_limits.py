"""Bounds on work that waits for the network on a user's behalf (connection tests, crawls).

:class:`ProbeLimiter` runs such work on a small pool of its own threads, never on the event
loop nor on the server's request threads: at most ``workers`` run at once and at most
``max_pending`` wait; beyond that, and beyond ``per_minute`` calls of one user in a sliding
minute, :class:`RateLimited` (HTTP 429, with ``retry_after`` seconds) is raised at once.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from lakehold.errors import LakeholdError

T = TypeVar("T")
WINDOW_S = 60.0


class RateLimited(LakeholdError):
    """Too many requests of a kind: retry after ``retry_after`` seconds."""

    status_code = 429
    exit_code = 9
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class ProbeLimiter:
    """A bounded pool and a per-user rate limit for network probes."""

    def __init__(self, *, workers: int = 4, max_pending: int = 16, per_minute: int = 30) -> None:
        self.workers = max(1, workers)
        self.max_pending = max(0, max_pending)
        self.per_minute = max(1, per_minute)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="lakehold-probe")
        self._lock = threading.Lock()
        self._in_flight = 0
        self._calls: defaultdict[str, deque[float]] = defaultdict(deque)

    def submit(self, user_id: str, work: Callable[[], T]) -> Future[T]:
        """Start ``work`` on the pool for ``user_id``; RateLimited when over a bound."""
        now = time.monotonic()
        with self._lock:
            calls = self._calls[user_id]
            while calls and calls[0] <= now - WINDOW_S:
                calls.popleft()
            if len(calls) >= self.per_minute:
                wait = max(1, math.ceil(calls[0] + WINDOW_S - now))
                raise RateLimited(
                    f"at most {self.per_minute} connection tests and crawls a minute; "
                    f"retry in {wait} s",
                    retry_after=wait,
                )
            if self._in_flight >= self.workers + self.max_pending:
                raise RateLimited(
                    "too many connection tests and crawls are waiting for their sources; "
                    "retry shortly",
                    retry_after=5,
                )
            calls.append(now)
            self._in_flight += 1
        future = self._pool.submit(work)
        future.add_done_callback(self._done)
        return future

    def run(self, user_id: str, work: Callable[[], T]) -> T:
        """Run ``work`` on the pool and wait for it (from a thread)."""
        return self.submit(user_id, work).result()

    async def arun(self, user_id: str, work: Callable[[], T]) -> T:
        """Run ``work`` on the pool and await it (from the event loop, without blocking it)."""
        return await asyncio.wrap_future(self.submit(user_id, work))

    def _done(self, _future: Future) -> None:
        with self._lock:
            self._in_flight -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
