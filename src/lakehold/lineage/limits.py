"""Bounds on what an external producer may post: event and batch size, JSON nesting, facets
per object and facet size, inputs and outputs, string length (ADR 0015).

A violation is an :class:`~lakehold.errors.Invalid` naming the limit and the path of the
offending part (``events[3].outputs[0].facets.schema``). The common case costs a few C-speed
passes over the event's canonical JSON: the precise walks run only when a cheap bound fails.

Reads never trust stored content either: :func:`readable` gives a facet (or any stored JSON)
back only when it is within the nesting bound, so rows stored before these limits (or by
Lakehold itself) can never make a read fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from lakehold.errors import Invalid

MAX_READ_DEPTH = 64


@dataclass(frozen=True)
class EventLimits:
    """Ingest limits; the defaults are those of :class:`lakehold.config.Settings`."""

    max_event_bytes: int = 1024 * 1024
    max_batch_bytes: int = 32 * 1024 * 1024
    max_batch_events: int = 10_000
    max_depth: int = 64
    max_facets: int = 100
    max_facet_bytes: int = 512 * 1024
    max_datasets: int = 1000
    max_string: int = 256 * 1024

    @classmethod
    def from_settings(cls, settings: Any) -> EventLimits:
        """The limits configured in ``settings`` (``LAKEHOLD_LINEAGE_MAX_*``)."""
        return cls(
            max_event_bytes=settings.lineage_max_event_bytes,
            max_batch_bytes=settings.lineage_max_batch_bytes,
            max_batch_events=settings.lineage_max_batch_events,
            max_depth=settings.lineage_max_depth,
            max_facets=settings.lineage_max_facets,
            max_facet_bytes=settings.lineage_max_facet_bytes,
            max_datasets=settings.lineage_max_datasets,
            max_string=settings.lineage_max_string,
        )

    def check_batch(self, events: Any) -> None:
        """The number of events in a batch."""
        if isinstance(events, list) and len(events) > self.max_batch_events:
            raise Invalid(
                f"at most {self.max_batch_events} events per batch (lineage_max_batch_events)",
                field="events",
                limit="lineage_max_batch_events",
            )

    def check_event(self, body: dict[str, Any], canonical: str, path: str) -> None:
        """Every bound of one event (``canonical`` is its canonical JSON)."""
        size = len(canonical)
        if size * 4 > self.max_event_bytes and len(canonical.encode()) > self.max_event_bytes:
            _refuse(f"an event is larger than {self.max_event_bytes} bytes", "event_bytes", path)
        if not _within_depth(canonical, self.max_depth):
            where = _too_deep(body, path, self.max_depth)
            _refuse(f"JSON nested deeper than {self.max_depth} levels", "depth", where)
        for facets_path, facets in _facet_maps(body, path):
            if len(facets) > self.max_facets:
                _refuse(f"more than {self.max_facets} facets", "facets", facets_path)
            if size > self.max_facet_bytes:
                for name, facet in facets.items():
                    if len(_encode(facet).encode()) > self.max_facet_bytes:
                        _refuse(
                            f"a facet is larger than {self.max_facet_bytes} bytes",
                            "facet_bytes",
                            f"{facets_path}.{_key(name)}",
                        )
        for side in ("inputs", "outputs"):
            items = body.get(side)
            if isinstance(items, list) and len(items) > self.max_datasets:
                _refuse(f"more than {self.max_datasets} {side}", "datasets", f"{path}.{side}")
        if size > self.max_string:
            long_at = _long_string(body, path, self.max_string)
            if long_at is not None:
                _refuse(f"a string is longer than {self.max_string} characters", "string", long_at)


def _refuse(message: str, limit: str, path: str) -> NoReturn:
    raise Invalid(message, field=path, limit=f"lineage_max_{limit}")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _encode(value: Any) -> str:
    return _ENCODER.encode(value)


def _key(name: Any) -> str:
    text = str(name)
    return text if len(text) <= 64 else text[:61] + "..."


# Outside its strings JSON text is ASCII, so deleting every ASCII character but quotes and
# brackets leaves the strings' delimiters and the nesting structure alone.
_STRUCTURE = {c: None for c in range(128) if chr(c) not in '"[]{}'}
_LEAF = re.compile(r"\{\}|\[\]")


def _within_depth(canonical: str, limit: int) -> bool:
    """Whether valid JSON text nests at most ``limit`` levels, at C speed: escaped
    backslashes and quotes removed, then everything but quotes and brackets; adjacent quotes
    (an empty string, or two strings with no bracket between) go, then whatever strings are
    left. Each pass then removes the innermost pairs of brackets, so the passes needed are
    the depth; it stops as soon as the brackets left cannot nest past ``limit``."""
    if "\\" in canonical:
        canonical = canonical.replace("\\\\", "").replace('\\"', "")
    brackets = canonical.translate(_STRUCTURE).replace('""', "")
    if '"' in brackets:
        brackets = "".join(brackets.split('"')[::2])
    for done in range(limit + 1):
        # ``done`` levels removed; what is left nests at most as deep as it has openings
        if done + brackets.count("{") + brackets.count("[") <= limit:
            return True
        if done < limit:
            brackets = _LEAF.sub("", brackets)
    return False


def _children(value: Any, path: str) -> Iterator[tuple[Any, str]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield child, f"{path}.{_key(key)}"
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield child, f"{path}[{i}]"


def _too_deep(body: Any, path: str, limit: int) -> str:
    """The path of the first object or array nested deeper than ``limit`` (iterative)."""
    stack = [(body, path, 1)]
    while stack:
        value, where, depth = stack.pop()
        if depth > limit:
            return where
        stack.extend(
            (child, child_path, depth + 1)
            for child, child_path in _children(value, where)
            if isinstance(child, dict | list)
        )
    return path


def _long_string(body: Any, path: str, limit: int) -> str | None:
    """The path of the first string (value or key) longer than ``limit``, or None."""
    stack = [(body, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if len(value) > limit:
                return where
            continue
        if isinstance(value, dict) and any(len(str(k)) > limit for k in value):
            return where
        stack.extend(_children(value, where))
    return None


def _facet_maps(body: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every facets object of an event, with its path."""
    for owner, key in (("run", "facets"), ("job", "facets")):
        part = body.get(owner)
        if isinstance(part, dict) and isinstance(part.get(key), dict):
            yield f"{path}.{owner}.{key}", part[key]
    dataset = body.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("facets"), dict):
        yield f"{path}.dataset.facets", dataset["facets"]
    for side, io in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        items = body.get(side)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            for key in ("facets", io):
                if isinstance(item.get(key), dict):
                    yield f"{path}.{side}[{i}].{key}", item[key]


# -- reads -----------------------------------------------------------------------------------


def depth_within(value: Any, limit: int = MAX_READ_DEPTH) -> bool:
    """Whether stored JSON ``value`` nests at most ``limit`` levels (iterative, early exit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return True


def readable(facets: Any, limit: int = MAX_READ_DEPTH) -> dict[str, Any]:
    """Stored facets as a read shows them: a facet that is not an object or nests deeper than
    ``limit`` is left out (it could not be serialized safely), never an error."""
    if not isinstance(facets, dict):
        return {}
    if depth_within(facets, limit):
        return facets
    return {
        name: facet
        for name, facet in facets.items()
        if isinstance(facet, dict) and depth_within(facet, limit - 1)
    }


def readable_value(value: Any, default: Any, limit: int = MAX_READ_DEPTH) -> Any:
    """``value`` when within ``limit`` levels, else ``default``."""
    return value if depth_within(value, limit) else default
