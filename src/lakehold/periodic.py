"""A background thread that calls a function at a fixed interval until it is stopped.

For the loops ``lakehold serve`` runs beside the API (the source and sync scheduler, the
anomaly-alert evaluation): an exception is logged and the next call comes as planned, so a bad
moment of the store does not end the loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls ``run`` every ``interval_seconds`` in a daemon thread named ``name``: at once and
    then after each interval (``immediately``), or first after one interval. An interval of 0
    or less never starts the thread (the caller runs ``run`` on demand only)."""

    def __init__(
        self,
        name: str,
        run: Callable[[], object],
        interval_seconds: float,
        *,
        immediately: bool = False,
    ) -> None:
        self.name = name
        self.run = run
        self.interval_seconds = interval_seconds
        self.immediately = immediately
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_seconds <= 0 or self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        if not self.immediately and self._stop.wait(self.interval_seconds):
            return
        while True:
            try:
                self.run()
            except Exception:
                log.exception("%s failed; next run in %g s", self.name, self.interval_seconds)
            if self._stop.wait(self.interval_seconds):
                return
