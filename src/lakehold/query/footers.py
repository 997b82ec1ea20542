"""Top-level columns of Parquet data files, read from their footers and cached.

Delta data files are immutable (a path is never rewritten), so a footer is read once per
process.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq

from lakehold.errors import LakeholdError


def local_path(file: str) -> str:
    """A ``file://`` URI as a local path; other strings unchanged."""
    if file.startswith("file://"):
        return unquote(urlparse(file).path)
    return file


@lru_cache(maxsize=65536)
def file_columns(path: str) -> tuple[tuple[str, str], ...]:
    """(name, Arrow type) of each top-level column stored in the file."""
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as e:
        raise LakeholdError("a data file of the table could not be read") from e
    return tuple((field.name, str(field.type)) for field in schema)
