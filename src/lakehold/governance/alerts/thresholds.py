"""The parameters of the anomaly alerts: the window, the baseline's reach and the floors (ADR 34).

The window, the history and ``sigmas`` are settings (``LAKEHOLD_ALERT_*``); the floors are
documented constants here, the same for every project.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Thresholds:
    """When a signal departs from its baseline far enough to open an alert."""

    window: timedelta = timedelta(hours=1)
    """Each signal is measured over the last window (ending at the evaluation); its baseline
    is the same measure over each window before, back to ``history``."""
    history: timedelta = timedelta(days=7)
    sigmas: float = 3.0
    """How many standard deviations from the baseline (and beyond the floors below)."""
    min_history_windows: int = 24
    """Too little history: fewer past windows with statements (failure rate), or fewer windows
    since the first rows synced (ingest volume), and no alert opens."""
    min_statements: int = 20
    """Failure rate: at least this many statements ended in the window."""
    min_failure_rate: float = 0.25
    """Failure rate: at least this share of them failed."""
    rate_sigma_floor: float = 0.02
    """Failure rate: the least standard deviation (a baseline that never failed has none)."""
    min_rows: int = 100
    """Ingest volume: a drop needs a baseline of at least this many rows a window, a spike at
    least this many rows in the window."""
    drop_fraction: float = 0.1
    """Ingest volume: a drop is to at most this fraction of the baseline."""
    spike_factor: float = 5.0
    """Ingest volume: a spike is more than this many times a typical window with rows (the
    median of the non-empty ones: a daily job is not a spike each day in hourly windows)."""
    lag_factor: float = 2.0
    """Sync lag: a job is late when its first run due after its last success is overdue by
    more than this many schedule intervals."""
    lag_grace: timedelta = timedelta(minutes=10)
    """Sync lag: never late before this (the scheduler ticks every 30 s; runs take time)."""

    @property
    def history_windows(self) -> int:
        """How many windows the baseline has (at most)."""
        return int(self.history / self.window)
