"""Vacuum like Delta Lake: files younger than the retention period are never deleted.

The retention may not go below 168 hours (Delta's default ``delta.deletedFileRetentionDuration``)
unless the caller forces it; a table's own ``delta.deletedFileRetentionDuration`` longer than
the asked retention is a floor even a forced vacuum respects. A dry run lists what a real run
would delete and deletes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deltalake import DeltaTable

from lakehold.errors import Invalid
from lakehold.lakehouse.history import commit_properties

MIN_RETENTION_HOURS = 168
RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
_INTERVAL = re.compile(r"^\s*(?:interval\s+)?(\d+)\s*([a-z]+?)s?\s*$", re.IGNORECASE)
_HOURS = {"week": 168.0, "day": 24.0, "hour": 1.0, "minute": 1 / 60, "second": 1 / 3600}


@dataclass(frozen=True)
class VacuumPlan:
    """What a vacuum deletes (or would), as names relative to the table folder."""

    files: list[str]
    retention_hours: int
    minimum_hours: float
    """The lowest retention this vacuum could have used (with ``force`` as given)."""
    dry_run: bool


def table_retention_hours(table: DeltaTable) -> float | None:
    """The table's ``delta.deletedFileRetentionDuration`` in hours; None when unset or
    unreadable (``interval 7 days``, ``interval 200 hours``, ``30 days``...)."""
    text = (table.metadata().configuration or {}).get(RETENTION_PROPERTY)
    match = _INTERVAL.match(text or "")
    if match is None or match.group(2).lower() not in _HOURS:
        return None
    return int(match.group(1)) * _HOURS[match.group(2).lower()]


def minimum_hours(table: DeltaTable, *, force: bool) -> float:
    """168 hours, or the table's own longer setting; ``force`` lowers it to the table's
    setting (0 when it has none)."""
    own = table_retention_hours(table)
    if force:
        return own or 0.0
    return max(float(MIN_RETENTION_HOURS), own or 0.0)


def check_retention(table: DeltaTable, retention_hours: int, *, force: bool) -> float:
    """Invalid (naming ``retention_hours`` and the minimum) when the retention is too short."""
    if retention_hours < 0:
        raise Invalid("retention_hours cannot be negative", field="retention_hours")
    floor = minimum_hours(table, force=force)
    if retention_hours >= floor:
        return floor
    own = table_retention_hours(table)
    if force or (own is not None and own > MIN_RETENTION_HOURS):
        why = f"the table's {RETENTION_PROPERTY} is {_hours(floor)} hours"
    else:
        why = (
            f"retention_hours must be at least {MIN_RETENTION_HOURS} (7 days); an "
            "administrator may force a shorter one"
        )
    raise Invalid(
        f"retention_hours {retention_hours} is too short: {why}; older versions would no "
        "longer be readable",
        field="retention_hours",
        minimum=_hours(floor),
    )


def vacuum(
    table: DeltaTable,
    *,
    retention_hours: int,
    dry_run: bool,
    force: bool,
    committer: str,
) -> VacuumPlan:
    """Delete (or with ``dry_run`` list) the files no version within the retention needs.

    A dry run is never refused for its retention: it deletes nothing, and shows what a forced
    run would delete."""
    floor = minimum_hours(table, force=force)
    if not dry_run:
        check_retention(table, retention_hours, force=force)
    elif retention_hours < 0:
        raise Invalid("retention_hours cannot be negative", field="retention_hours")
    removed = table.vacuum(
        retention_hours=retention_hours,
        dry_run=dry_run,
        enforce_retention_duration=False,
        commit_properties=commit_properties(committer, "VACUUM"),
    )
    return VacuumPlan(sorted(_relative(name) for name in removed), retention_hours, floor, dry_run)


def _relative(name: str) -> str:
    """A file name as delta-rs reports it, relative to the table folder (never absolute)."""
    text = str(name).removeprefix("file://")
    return text.rsplit("/", 1)[-1] if text.startswith("/") else text


def _hours(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 3)
