"""Lakehouse engine: Delta tables (create, write, merge/CDC, schema evolution, time travel)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakehold.lakehouse.readers import Format, format_from_name, read_batch
    from lakehold.lakehouse.results import HistoryEntry, Snapshot, WriteResult
    from lakehold.lakehouse.schema import Evolution, evolve
    from lakehold.lakehouse.tables import DeltaTables, Mode

_HOMES = {  # each name of the package: its module, imported when the name is first used
    "Format": "readers",
    "format_from_name": "readers",
    "read_batch": "readers",
    "HistoryEntry": "results",
    "Snapshot": "results",
    "WriteResult": "results",
    "Evolution": "schema",
    "evolve": "schema",
    "DeltaTables": "tables",
    "Mode": "tables",
}


def __getattr__(name: str) -> Any:
    """A name of the package, from its module (PEP 562): importing one module of the package
    (``lakehold.lakehouse.folders``) does not load delta-rs, pyarrow and pandas."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DeltaTables",
    "Evolution",
    "Format",
    "HistoryEntry",
    "Mode",
    "Snapshot",
    "WriteResult",
    "evolve",
    "format_from_name",
    "read_batch",
]
