"""Cron schedules (UTC) of data sources and sync jobs, with ``croniter``."""

from __future__ import annotations

from datetime import UTC, datetime

from croniter import CroniterBadCronError, croniter

from lakehold.errors import Invalid
from lakehold.store.models import as_utc


def check_cron(expression: str | None, field: str = "schedule") -> str | None:
    """``expression`` (stripped) if it is a valid 5-field cron expression, None if empty;
    Invalid naming ``field`` otherwise."""
    if expression is None or not str(expression).strip():
        return None
    expression = " ".join(str(expression).split())
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise Invalid(
            f"'{expression}' is not a cron expression (minute hour day month weekday, "
            "e.g. '0 3 * * *')",
            field=field,
        )
    return expression


def next_run(expression: str | None, after: datetime) -> datetime | None:
    """The first time after ``after`` (UTC) that ``expression`` fires; None without one."""
    if not expression:
        return None
    try:
        return croniter(expression, as_utc(after).astimezone(UTC)).get_next(datetime)
    except (CroniterBadCronError, ValueError):
        raise Invalid(f"'{expression}' is not a cron expression", field="schedule") from None
