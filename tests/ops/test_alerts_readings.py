"""The arithmetic of the alert signals against their baselines (no store): the floors, the
minimum history, steady and bursty baselines, irregular schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakehold.governance.alerts.readings import failure_rate, ingest_volume, sync_lag
from lakehold.governance.alerts.thresholds import Thresholds

T = Thresholds()
WEEK = range(1, 169)


def rates(history: dict[int, tuple[int, int]], now: tuple[int, int]):
    return failure_rate({**history, 0: now}, T)


def test_a_failure_rate_needs_a_days_history_enough_statements_and_the_floor() -> None:
    never_fails = {w: (10, 0) for w in WEEK}
    assert rates({w: (10, 0) for w in range(1, 24)}, (40, 40)) is None  # 23 windows: too few
    reading = rates(never_fails, (40, 10))
    assert reading is not None
    assert reading.baseline == 0 and reading.details["sigma"] == T.rate_sigma_floor
    assert reading.above == 0.25 and reading.anomaly == "above"  # 25%: at the floor
    assert rates(never_fails, (40, 9)).anomaly is None  # 22.5%: under the floor
    assert rates(never_fails, (19, 19)).anomaly is None  # every one failed, but only 19
    assert rates(never_fails, (0, 0)).observed == 0  # nothing ran: nothing failed


def test_a_failure_rate_departs_from_its_own_baseline() -> None:
    noisy = {w: (10, 5 if w % 2 else 1) for w in WEEK}  # 50% and 10%, alternately: 30%
    reading = rates(noisy, (40, 28))  # 70%: beyond the floor, within 3 sigma of this baseline
    assert reading.baseline == pytest.approx(0.3) and reading.details["sigma"] == pytest.approx(0.2)
    assert reading.above == pytest.approx(0.9) and reading.anomaly is None
    assert rates(noisy, (40, 37)).anomaly == "above"  # 92.5%


def test_ingest_volume_drops_only_from_a_steady_baseline_of_enough_rows() -> None:
    steady = {w: 1000 for w in WEEK}
    drop = ingest_volume(steady, T)
    assert drop is not None and drop.anomaly == "below"
    assert (drop.observed, drop.baseline, drop.below) == (0, 1000, 100)
    assert ingest_volume({**steady, 0: 101}, T).anomaly is None  # above a tenth
    tiny = ingest_volume({w: 10 for w in WEEK}, T)
    assert tiny.anomaly is None and tiny.below is None  # 10 rows an hour: under the floor
    ragged = {w: (3000 if w % 3 == 0 else 0) for w in WEEK}  # every third hour
    assert ingest_volume(ragged, T).anomaly is None  # an empty hour is ordinary there


def test_ingest_volume_history_starts_with_the_first_rows_and_spikes_beyond_typical() -> None:
    assert ingest_volume({w: 1000 for w in range(1, 24)}, T) is None  # 23 windows of rows
    young = ingest_volume({w: 1000 for w in range(1, 25)}, T)  # a day old: judged on a day
    assert young is not None and young.details["history_windows"] == 24
    assert ingest_volume({}, T) is None

    daily = {w: 24_000 for w in range(24, 169, 24)}
    assert ingest_volume({**daily, 0: 24_000}, T).anomaly is None  # its daily run: no spike
    spike = ingest_volume({**daily, 0: 120_001}, T)
    assert spike.anomaly == "above" and spike.above == 120_000  # five times a typical run
    assert ingest_volume({w: 1000 for w in WEEK} | {0: 5001}, T).anomaly == "above"
    assert ingest_volume({w: 10 for w in WEEK} | {0: 99}, T).anomaly is None  # under 100 rows


def test_sync_lag_counts_from_the_first_run_due_after_the_last_success() -> None:
    success = datetime(2026, 12, 4, 9, 0, 30, tzinfo=UTC)  # a Friday
    weekdays = "0 9 * * 1-5"
    monday = sync_lag(weekdays, success, success, datetime(2026, 12, 7, 10, tzinfo=UTC), T)
    assert monday.details["due_at"] == "2026-12-07T09:00:00+00:00"
    assert (monday.observed, monday.baseline, monday.above) == (3600, 86400, 2 * 86400)
    assert monday.anomaly is None  # a weekend is no lag
    wednesday = datetime(2026, 12, 9, 9, 1, tzinfo=UTC)
    assert sync_lag(weekdays, success, success, wednesday, T).anomaly == "above"

    every_minute = sync_lag("* * * * *", success, None, success + timedelta(minutes=9), T)
    assert every_minute.above == 600 and every_minute.anomaly is None  # the grace
    assert sync_lag("* * * * *", success, None, success + timedelta(minutes=11), T).anomaly
