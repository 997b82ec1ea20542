"""Validation of OpenLineage 2-0-x events: RunEvent, DatasetEvent and JobEvent.

The kind is discriminated as the spec's ``oneOf`` does: an event with ``run`` is a RunEvent,
one with ``dataset`` a DatasetEvent, one with only ``job`` a JobEvent. Only what Lakehold folds
is checked; facets are kept as raw JSON (unknown facets included). Every error is an
:class:`~lakehold.errors.Invalid` whose ``field`` is a path such as ``events[3].run.runId``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict, TypeGuard

from lakehold.errors import Invalid
from lakehold.lineage.limits import EventLimits

RUN, DATASET, JOB = "run", "dataset", "job"
EVENT_TYPES = frozenset({"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"})
TERMINAL = frozenset({"COMPLETE", "ABORT", "FAIL"})
MAX_NAME = 1000
MAX_NAMESPACE = 255


@dataclass(frozen=True)
class DatasetRef:
    """A dataset as an event mentions it."""

    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)
    io_facets: dict[str, Any] = field(default_factory=dict)
    """``inputFacets`` of an input, ``outputFacets`` of an output (e.g. outputStatistics)."""

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name


@dataclass(frozen=True)
class JobRef:
    """A job as an event mentions it."""

    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name


@dataclass(frozen=True)
class Event:
    """A validated event; ``raw`` is the event as received, ``content_hash`` its identity."""

    kind: str
    event_time: datetime
    raw: dict[str, Any]
    canonical: str
    content_hash: str
    event_type: str | None = None
    run_id: str | None = None
    run_facets: dict[str, Any] = field(default_factory=dict)
    job: JobRef | None = None
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()
    dataset: DatasetRef | None = None


class _Common(TypedDict):
    """The fields every kind of :class:`Event` shares."""

    event_time: datetime
    raw: dict[str, Any]
    canonical: str
    content_hash: str


def parse_events(events: Any, limits: EventLimits | None = None) -> list[Event]:
    """Validate a list of events; Invalid naming ``events[i]...`` at the first bad one.
    With ``limits`` (external producers), every event is also bounded."""
    if not isinstance(events, list):
        raise Invalid("expected a list of OpenLineage events", field="events")
    if limits is not None:
        limits.check_batch(events)
    return [parse_event(event, f"events[{i}]", limits) for i, event in enumerate(events)]


def parse_event(event: Any, path: str = "event", limits: EventLimits | None = None) -> Event:
    """Validate one event found at ``path`` (bounded by ``limits`` when given)."""
    body = _object(event, path)
    event_time = _time(body.get("eventTime"), f"{path}.eventTime")
    _string(body.get("producer"), f"{path}.producer", 2000)
    _string(body.get("schemaURL"), f"{path}.schemaURL", 2000)
    try:
        canonical = canonical_json(body)
    except (RecursionError, ValueError):  # nested too deeply for the encoder, or a cycle
        raise Invalid(
            "the event cannot be encoded as JSON (nested too deeply)", field=path
        ) from None
    if limits is not None:
        limits.check_event(body, canonical, path)
    common: _Common = {
        "event_time": event_time,
        "raw": body,
        "canonical": canonical,
        "content_hash": hashlib.sha256(canonical.encode()).hexdigest(),
    }
    if "run" in body:
        return _run_event(body, path, common)
    if "dataset" in body:
        dataset = _dataset(body["dataset"], f"{path}.dataset")
        return Event(kind=DATASET, dataset=dataset, **common)
    if "job" in body:
        inputs, outputs = _datasets(body, path)
        job = _job(body["job"], f"{path}.job")
        return Event(kind=JOB, job=job, inputs=inputs, outputs=outputs, **common)
    raise Invalid(
        "an OpenLineage event needs 'run' and 'job' (RunEvent), 'dataset' (DatasetEvent) "
        "or 'job' (JobEvent)",
        field=path,
    )


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(body: dict[str, Any]) -> str:
    """The event's canonical JSON (sorted keys, no spaces): stored, and hashed for dedup, so
    the same event delivered twice is recognised whatever its key order or spacing."""
    return _CANONICAL.encode(body)  # json.dumps with these options, without a new encoder


def _run_event(body: dict[str, Any], path: str, common: _Common) -> Event:
    event_type = body.get("eventType")
    if event_type is not None and (
        not isinstance(event_type, str) or event_type not in EVENT_TYPES
    ):
        raise Invalid(
            f"eventType must be one of {', '.join(sorted(EVENT_TYPES))}",
            field=f"{path}.eventType",
        )
    run = _object(body["run"], f"{path}.run")
    run_id = _uuid(run.get("runId"), f"{path}.run.runId")
    if "job" not in body:
        raise Invalid("a RunEvent needs a job", field=f"{path}.job")
    inputs, outputs = _datasets(body, path)
    return Event(
        kind=RUN,
        event_type=event_type or "OTHER",
        run_id=run_id,
        run_facets=_facets(run.get("facets"), f"{path}.run.facets"),
        job=_valid_job(body["job"]) or _job(body["job"], f"{path}.job"),
        inputs=inputs,
        outputs=outputs,
        **common,
    )


def _datasets(
    body: dict[str, Any], path: str
) -> tuple[tuple[DatasetRef, ...], tuple[DatasetRef, ...]]:
    found: list[tuple[DatasetRef, ...]] = []
    for side in ("inputs", "outputs"):
        items = body.get(side)
        if items is None:
            found.append(())
            continue
        if not isinstance(items, list):
            raise Invalid(f"{side} must be a list of datasets", field=f"{path}.{side}")
        io = "inputFacets" if side == "inputs" else "outputFacets"
        found.append(
            tuple(
                _valid_dataset(d, io) or _dataset(d, f"{path}.{side}[{i}]", io)
                for i, d in enumerate(items)
            )
        )
    return found[0], found[1]


def _valid_dataset(value: Any, io: str) -> DatasetRef | None:
    """The common case, checked without building field paths: a dataset that :func:`_dataset`
    accepts, or None to let :func:`_dataset` decide (and name the bad field)."""
    if value.__class__ is not dict:
        return None
    namespace, name = value.get("namespace"), value.get("name")
    facets, io_facets = value.get("facets"), value.get(io)
    if (
        _valid_string(namespace, MAX_NAMESPACE)
        and _valid_string(name, MAX_NAME)
        and (facets is None or _valid_facets(facets))
        and (io_facets is None or _valid_facets(io_facets))
    ):
        return DatasetRef(namespace, name, facets or {}, io_facets or {})
    return None


def _valid_job(value: Any) -> JobRef | None:
    """The common case of :func:`_job`, as :func:`_valid_dataset` is of :func:`_dataset`."""
    if value.__class__ is not dict:
        return None
    namespace, name, facets = value.get("namespace"), value.get("name"), value.get("facets")
    if (
        _valid_string(namespace, MAX_NAMESPACE)
        and _valid_string(name, MAX_NAME)
        and (facets is None or _valid_facets(facets))
    ):
        return JobRef(namespace, name, facets or {})
    return None


def _valid_string(value: Any, max_length: int) -> TypeGuard[str]:
    """What :func:`_string` accepts (exact ``str`` only; anything else takes the long way)."""
    return (
        value.__class__ is str
        and len(value) <= max_length
        and bool(value.strip())
        and "\x00" not in value
    )


def _valid_facets(value: Any) -> bool:
    """What :func:`_facets` accepts (exact ``dict`` only; anything else takes the long way)."""
    return value.__class__ is dict and all(f.__class__ is dict for f in value.values())


def _dataset(value: Any, path: str, io: str | None = None) -> DatasetRef:
    body = _object(value, path)
    return DatasetRef(
        namespace=_string(body.get("namespace"), f"{path}.namespace", MAX_NAMESPACE),
        name=_string(body.get("name"), f"{path}.name", MAX_NAME),
        facets=_facets(body.get("facets"), f"{path}.facets"),
        io_facets=_facets(body.get(io), f"{path}.{io}") if io else {},
    )


def _job(value: Any, path: str) -> JobRef:
    body = _object(value, path)
    return JobRef(
        namespace=_string(body.get("namespace"), f"{path}.namespace", MAX_NAMESPACE),
        name=_string(body.get("name"), f"{path}.name", MAX_NAME),
        facets=_facets(body.get("facets"), f"{path}.facets"),
    )


def _facets(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    facets = _object(value, path)
    for name, facet in facets.items():
        if not isinstance(facet, dict):
            raise Invalid("a facet must be a JSON object", field=f"{path}.{name}")
    return facets


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid("expected a JSON object", field=path)
    return value


def _string(value: Any, path: str, max_length: int) -> str:
    if value is None:
        raise Invalid("required", field=path)
    if not isinstance(value, str) or not value.strip():
        raise Invalid("expected a non-empty string", field=path)
    if len(value) > max_length:
        raise Invalid(f"longer than {max_length} characters", field=path)
    if "\x00" in value:
        raise Invalid("must not contain NUL characters", field=path)
    return value


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(value: Any, path: str) -> str:
    text = _string(value, path, 36)
    if _CANONICAL_UUID.fullmatch(text):
        return text  # already what str(uuid.UUID(text)) gives
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise Invalid("expected a UUID", field=path) from None


def _time(value: Any, path: str) -> datetime:
    text = _string(value, path, 64)
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise Invalid("expected an ISO 8601 date-time", field=path) from None


def parse_time(value: Any, path: str) -> datetime | None:
    """An optional ISO 8601 time inside a facet, or None when absent or malformed."""
    if not isinstance(value, str):
        return None
    try:
        return _time(value, path)
    except Invalid:
        return None
