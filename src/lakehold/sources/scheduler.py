"""A background thread that runs scheduled data sources (and sync jobs) when they are due, and
the daily check of connections' TLS certificates."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from lakehold.periodic import Periodic

log = logging.getLogger(__name__)

TICK_SECONDS = 30.0


class Scheduler:
    """Every ``tick_seconds``: ``runtime.data_sources.run_due(now)``, and
    ``runtime.sync_jobs.run_due(now)`` and ``runtime.certificates.run_due(now)`` when the
    runtime has them. Several processes may run one each: a due run is claimed atomically in
    the store, so it runs once."""

    def __init__(self, runtime: Any, tick_seconds: float = TICK_SECONDS) -> None:
        self.runtime = runtime
        self.tick_seconds = tick_seconds
        self._loop = Periodic("lakehold-scheduler", self.tick, tick_seconds, immediately=True)

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._loop.stop(timeout)

    def tick(self, now: datetime | None = None) -> int:
        """Run what is due at ``now``, in this thread; how many runs started."""
        now = now or datetime.now(UTC)
        started = 0
        for name in ("data_sources", "sync_jobs", "certificates"):
            service = getattr(self.runtime, name, None)
            run_due = getattr(service, "run_due", None)
            if run_due is None:
                continue
            try:
                started += run_due(now) or 0
            except Exception:  # one failing service must not stop the scheduler
                log.exception("scheduled %s failed", name)
        return started
