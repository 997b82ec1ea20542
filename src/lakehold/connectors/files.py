"""A folder of files as a source: each CSV, Parquet or JSON-lines file, and each folder of
Parquet files, directly under the connection's path is one table.

A federated table of a ``files`` connection stores the format as ``source_schema`` and the
path relative to the connection's folder as ``source_table``; :func:`table_files` lists its
data files and :func:`scan_sql` reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lakehold.errors import SourceUnavailable

FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "json", ".ndjson": "json"}
_READERS = {
    "csv": "read_csv({paths}, auto_detect = true)",
    "parquet": "read_parquet({paths})",
    "json": "read_json({paths}, format = 'newline_delimited')",
}


@dataclass(frozen=True)
class FileTable:
    """One table of a folder: its name (the file stem), format and relative path."""

    name: str
    fmt: str
    relative: str


def list_files(root: Path, connection: str) -> list[FileTable]:
    """The tables of the folder ``root``; SourceUnavailable naming the connection if it is not
    a readable folder."""
    if not root.is_dir():
        raise SourceUnavailable(f"connection {connection!r} (files): folder not found")
    tables: list[FileTable] = []
    try:
        entries = sorted(root.iterdir())
    except OSError as e:
        raise SourceUnavailable(f"connection {connection!r} (files): {e.strerror}") from None
    for entry in entries:
        if entry.name.startswith(".") or not _inside(entry, root):
            continue
        if entry.is_file() and entry.suffix.lower() in FORMATS:
            tables.append(FileTable(entry.stem, FORMATS[entry.suffix.lower()], entry.name))
        elif entry.is_dir() and any(entry.glob("*.parquet")):
            tables.append(FileTable(entry.name, "parquet", entry.name))
    return tables


def table_files(root: str | Path, relative: str) -> tuple[str, ...]:
    """The data files of one table of the folder ``root``: the file itself, or the Parquet
    files of a folder table (sorted)."""
    root = Path(root)
    path = root / relative
    if not _inside(path, root):
        return ()
    if path.is_dir():
        found = sorted(path.glob("*.parquet"))
        return tuple(str(f) for f in found if f.is_file() and _inside(f, root))
    return (str(path),)


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` really lies in ``root``: a symbolic link (or ``..``) leading out of the
    connection's folder -- into Lakehold's warehouse, say -- is not one of its files."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def scan_sql(fmt: str, paths: Sequence[str]) -> str:
    """The DuckDB table function reading the files ``paths`` of one table in format ``fmt``."""
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return _READERS[fmt].format(paths=f"[{listed}]")
