"""Spool an uploaded file to disk so engines read a path, not a request body in memory."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

from lakehold.catalog.tables import DataSource
from lakehold.errors import Invalid


def split_list(value: str | None) -> list[str] | None:
    """``"a, b"`` → ``["a", "b"]``; empty → None."""
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


def parse_column_types(value: str | None) -> dict[str, str] | None:
    """A JSON object ``{"column": "SQL type"}`` from a form field."""
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise Invalid(
            f"column_types is not valid JSON: {error.msg}", field="column_types"
        ) from error
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise Invalid('column_types must be an object {"column": "type"}', field="column_types")
    return parsed


@contextmanager
def spooled(
    upload: UploadFile, fmt: str | None, column_types: str | None = None
) -> Iterator[DataSource]:
    """A DataSource over a temporary copy of ``upload``, removed afterwards."""
    suffix = Path(upload.filename or "").suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        shutil.copyfileobj(upload.file, handle, length=1024 * 1024)
        handle.flush()
        yield DataSource(
            Path(handle.name),
            fmt=fmt,
            name=upload.filename,
            column_types=parse_column_types(column_types),
        )
