"""The query's hints, applied best effort as the protocol allows: ``jsonPredicateHints`` skip
files whose partition values or statistics prove no row can match, ``limitHint`` stops once
the files listed hold enough rows. A hint never drops a file that could hold a matching row;
one the server cannot read is ignored (the client filters and limits the rows itself).
``predicateHints`` (the deprecated SQL form) are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from lakehold.lakehouse.sharing_reads import TableFile

MAX_PREDICATE_CHARS = 100_000
MAX_DEPTH = 32


class Truth(Enum):
    """What a predicate says of the rows of one file."""

    ALL = "all"
    NONE = "none"
    SOME = "some"  # maybe: not provably all or none


_COMPARISONS = {"equal", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"}


def skip_files(
    files: Sequence[TableFile], json_predicate: str | None, limit: int | None
) -> list[TableFile]:
    """The files to list for a query with these hints."""
    chosen = list(files)
    predicate = _parse(json_predicate)
    if predicate is not None:
        chosen = [f for f in chosen if _safe_truth(predicate, f) is not Truth.NONE]
    if limit is not None and limit >= 0 and all(f.num_records is not None for f in chosen):
        kept, rows = [], 0
        for file in chosen:
            if rows >= limit:
                break
            kept.append(file)
            rows += file.num_records or 0
        chosen = kept
    return chosen


def _parse(text: str | None) -> dict[str, Any] | None:
    if not text or len(text) > MAX_PREDICATE_CHARS:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # broken, or nested deeper than the parser goes
        return None
    return value if isinstance(value, dict) else None


def _safe_truth(node: dict[str, Any], file: TableFile) -> Truth:
    try:
        return _truth(node, file, 0)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        return Truth.SOME


def _truth(node: Any, file: TableFile, depth: int) -> Truth:
    """What ``node`` says of the rows of ``file``; a node of no known shape says SOME."""
    if depth > MAX_DEPTH or not isinstance(node, dict):
        return Truth.SOME
    op = node.get("op")
    children = node.get("children") or []
    if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
        return Truth.SOME
    if op == "and":
        found = [_truth(c, file, depth + 1) for c in children]
        if any(t is Truth.NONE for t in found):
            return Truth.NONE
        return Truth.ALL if found and all(t is Truth.ALL for t in found) else Truth.SOME
    if op == "or":
        found = [_truth(c, file, depth + 1) for c in children]
        if any(t is Truth.ALL for t in found):
            return Truth.ALL
        return Truth.NONE if found and all(t is Truth.NONE for t in found) else Truth.SOME
    if op == "not" and len(children) == 1:
        inner = _truth(children[0], file, depth + 1)
        return {Truth.ALL: Truth.NONE, Truth.NONE: Truth.ALL}.get(inner, Truth.SOME)
    if op == "isNull" and len(children) == 1:
        return _is_null(children[0], file)
    if op in _COMPARISONS and len(children) == 2:
        return _compare(op, children[0], children[1], file)
    return Truth.SOME


def _is_null(column: dict[str, Any], file: TableFile) -> Truth:
    if column.get("op") != "column":
        return Truth.SOME
    name = column["name"]
    if name in file.partition_values:
        return Truth.ALL if file.partition_values[name] in (None, "") else Truth.NONE
    stats = _stats(file)
    nulls = (stats.get("nullCount") or {}).get(name)
    rows = stats.get("numRecords")
    if not isinstance(nulls, int) or not isinstance(rows, int):
        return Truth.SOME
    return Truth.NONE if nulls == 0 else Truth.ALL if nulls == rows else Truth.SOME


_FLIPPED = {
    "equal": "equal",
    "lessThan": "greaterThan",
    "lessThanOrEqual": "greaterThanOrEqual",
    "greaterThan": "lessThan",
    "greaterThanOrEqual": "lessThanOrEqual",
}


def _compare(op: str, left: dict[str, Any], right: dict[str, Any], file: TableFile) -> Truth:
    if left.get("op") == "literal" and right.get("op") == "column":
        op, left, right = _FLIPPED[op], right, left
    if left.get("op") != "column" or right.get("op") != "literal":
        return Truth.SOME
    kind = str(right.get("valueType") or left.get("valueType") or "string")
    literal = _value(right.get("value"), kind)
    name = left["name"]
    if name in file.partition_values:
        raw = file.partition_values[name]
        if raw in (None, ""):
            return Truth.NONE  # a comparison with null holds for no row
        value = _value(raw, kind)
        return Truth.ALL if _holds(op, value, literal) else Truth.NONE
    stats = _stats(file)
    low = (stats.get("minValues") or {}).get(name)
    high = (stats.get("maxValues") or {}).get(name)
    if low is None or high is None:
        return Truth.SOME
    low, high = _value(low, kind), _value(high, kind)
    everything = _nulls(stats, name) == 0
    if op == "equal":
        if literal < low or literal > high:
            return Truth.NONE
        return Truth.ALL if everything and low == high == literal else Truth.SOME
    if op in ("lessThan", "lessThanOrEqual"):
        if not _holds(op, low, literal):
            return Truth.NONE
        return Truth.ALL if everything and _holds(op, high, literal) else Truth.SOME
    if not _holds(op, high, literal):
        return Truth.NONE
    return Truth.ALL if everything and _holds(op, low, literal) else Truth.SOME


def _holds(op: str, value: Any, literal: Any) -> bool:
    if op == "equal":
        return bool(value == literal)
    if op == "lessThan":
        return bool(value < literal)
    if op == "lessThanOrEqual":
        return bool(value <= literal)
    if op == "greaterThan":
        return bool(value > literal)
    return bool(value >= literal)


def _nulls(stats: dict[str, Any], name: str) -> int | None:
    found = (stats.get("nullCount") or {}).get(name)
    return found if isinstance(found, int) else None


def _stats(file: TableFile) -> dict[str, Any]:
    if not file.stats:
        return {}
    parsed = json.loads(file.stats)
    return parsed if isinstance(parsed, dict) else {}


def _value(raw: Any, kind: str) -> Any:
    """``raw`` (a literal's text, a statistic or a partition value) as ``kind`` compares."""
    if kind in ("int", "long"):
        return int(raw)
    if kind in ("float", "double"):
        return float(raw)
    if kind == "bool":
        return str(raw).lower() == "true"
    if kind == "date":
        return date.fromisoformat(str(raw)[:10])
    if kind == "timestamp":
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00").replace(" ", "T"))
    return str(raw)
