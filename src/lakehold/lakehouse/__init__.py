"""Lakehouse engine: Delta tables (create, write, merge/CDC, schema evolution, time travel)."""

from lakehold.lakehouse.readers import Format, format_from_name, read_batch
from lakehold.lakehouse.results import HistoryEntry, Snapshot, WriteResult
from lakehold.lakehouse.schema import Evolution, evolve
from lakehold.lakehouse.tables import DeltaTables, Mode

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
