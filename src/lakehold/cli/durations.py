"""Durations and instants as the CLI takes them: ``90d``, ``12h``, ``now``, ISO 8601."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lakehold.errors import Invalid

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
NO_LIMIT = frozenset({"none", "off", "never", "unlimited"})


def parse_duration(text: str, field: str) -> int | None:
    """Seconds of ``90d``, ``12h``, ``30m``, ``45s``, ``2w`` or a plain number of seconds;
    None for ``none``/``off`` (no limit). Invalid naming ``field`` otherwise."""
    if text.strip().lower() in NO_LIMIT:
        return None
    found = _DURATION.match(text.lower())
    if found is None or int(found.group(1)) <= 0:
        raise Invalid(
            f"'{text}' is not a duration: e.g. 90d, 12h, 30m, 3600 (seconds) or none",
            field=field,
        )
    return int(found.group(1)) * _UNITS[found.group(2) or "s"]


def parse_instant(text: str, field: str) -> datetime:
    """``now`` or an ISO 8601 time (without a zone: UTC), as an aware UTC datetime."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            f"'{text}' is not a time: use now or ISO 8601, e.g. 2027-01-04T09:00:00Z",
            field=field,
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def describe(seconds: int | None) -> str:
    """``90 days``, ``12 hours``... or ``no limit``."""
    if seconds is None:
        return "no limit"
    for unit, size in (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
