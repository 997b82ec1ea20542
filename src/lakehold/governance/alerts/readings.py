"""A signal's current value against its rolling baseline: pure arithmetic over the per-window
figures the store's aggregates give (:mod:`.signals`), no store, no clock.

Windows are numbered back from the evaluation: 0 is the current one, 1 the one before, up to
``Thresholds.history_windows``. Each function returns a :class:`Reading`, or None when there
is too little history to judge (no alert opens then).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lakehold.governance.alerts.thresholds import Thresholds
from lakehold.sources.schedule import next_run
from lakehold.store.models import as_utc

ABOVE, BELOW = "above", "below"


@dataclass(frozen=True)
class Reading:
    """The current value, its baseline and the bounds beyond which it is an anomaly."""

    observed: float
    baseline: float
    above: float | None
    """The bound the value must exceed to be anomalous (None: it cannot be, upwards)."""
    below: float | None
    """The bound the value must fall under (None: it cannot be, downwards)."""
    anomaly: str | None
    """ABOVE or BELOW when the value departs (and every floor is met), else None."""
    details: dict[str, Any] = field(default_factory=dict)

    def threshold(self, direction: str) -> float:
        """The bound of ``direction`` (0 when that direction has none)."""
        bound = self.above if direction == ABOVE else self.below
        return 0.0 if bound is None else bound


def failure_rate(windows: Mapping[int, tuple[int, int]], t: Thresholds) -> Reading | None:
    """The share of the window's ended statements that failed, from ``windows``: window →
    (statements ended, statements failed).

    Baseline: the pooled rate of the history's windows with statements; its spread: their
    rates' standard deviation weighted by their statements, at least the binomial deviation
    of the window's own count and ``rate_sigma_floor``. Anomalous above ``baseline + sigmas *
    spread`` with at least ``min_statements`` ended and ``min_failure_rate`` failed."""
    history = [
        (ended, failed)
        for number, (ended, failed) in windows.items()
        if 1 <= number <= t.history_windows and ended > 0
    ]
    if len(history) < t.min_history_windows:
        return None
    total = sum(ended for ended, _ in history)
    baseline = sum(failed for _, failed in history) / total
    spread = math.sqrt(
        sum(ended * (failed / ended - baseline) ** 2 for ended, failed in history) / total
    )
    ended, failed = windows.get(0, (0, 0))
    rate = failed / ended if ended else 0.0
    binomial = math.sqrt(baseline * (1 - baseline) / ended) if ended else 0.0
    sigma = max(spread, binomial, t.rate_sigma_floor)
    departs = baseline + t.sigmas * sigma
    anomalous = ended >= t.min_statements and rate >= t.min_failure_rate and rate > departs
    return Reading(
        observed=rate,
        baseline=baseline,
        above=max(departs, t.min_failure_rate),
        below=None,
        anomaly=ABOVE if anomalous else None,
        details={
            "statements": ended,
            "failed": failed,
            "sigma": sigma,
            "history_windows": len(history),
            "history_statements": total,
        },
    )


def ingest_volume(windows: Mapping[int, int], t: Thresholds) -> Reading | None:
    """Rows written in the window, from ``windows``: window → rows.

    The history starts at the oldest window with rows (windows before it are before the
    project synced anything, not a drop); it needs ``min_history_windows`` windows. Baseline:
    the mean rows of its windows, empty ones included. A drop: at most ``drop_fraction`` of a
    baseline of at least ``min_rows`` and below ``mean - sigmas * sd`` (so only a steady
    baseline drops). A spike: at least ``min_rows``, above ``mean + sigmas * sd`` and above
    ``spike_factor`` * the median of the non-empty history windows."""
    filled = [n for n, rows in windows.items() if 1 <= n <= t.history_windows and rows > 0]
    if not filled or max(filled) < t.min_history_windows:
        return None
    history = [windows.get(n, 0) for n in range(1, max(filled) + 1)]
    mean = statistics.fmean(history)
    sd = statistics.pstdev(history, mean)
    typical = statistics.median(rows for rows in history if rows > 0)
    rows = windows.get(0, 0)
    below = min(t.drop_fraction * mean, mean - t.sigmas * sd)
    above = max(mean + t.sigmas * sd, t.spike_factor * typical)
    anomaly = None
    if mean >= t.min_rows and rows <= t.drop_fraction * mean and rows < mean - t.sigmas * sd:
        anomaly = BELOW
    elif rows >= t.min_rows and rows > above:
        anomaly = ABOVE
    return Reading(
        observed=float(rows),
        baseline=mean,
        above=above,
        below=below if mean >= t.min_rows and below > 0 else None,
        anomaly=anomaly,
        details={"sd": sd, "typical_window_rows": typical, "history_windows": len(history)},
    )


def sync_lag(
    schedule: str, since: datetime, last_success: datetime | None, now: datetime, t: Thresholds
) -> Reading:
    """How overdue a scheduled job is: the first run its cron ``schedule`` set after
    ``since`` (its last success, or when it was created or changed) is due; the job is late
    by the time since then. Baseline: the schedule's interval there; anomalous beyond
    ``lag_factor`` intervals (and ``lag_grace``)."""
    due = next_run(schedule, since)
    assert due is not None  # a job with a schedule
    following = next_run(schedule, due)
    assert following is not None
    interval = (following - due).total_seconds()
    late = max(0.0, (now - due).total_seconds())
    threshold = max(t.lag_factor * interval, t.lag_grace.total_seconds())
    return Reading(
        observed=late,
        baseline=interval,
        above=threshold,
        below=None,
        anomaly=ABOVE if late > threshold else None,
        details={
            "schedule": schedule,
            "due_at": as_utc(due).isoformat(),
            "last_success_at": as_utc(last_success).isoformat() if last_success else None,
        },
    )
