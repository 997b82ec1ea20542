"""Printing results: rich tables, CSV, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec
from rich.table import Table
from rich.text import Text

from lakehold.cli.session import console


def print_rows(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A rich table; values wrap rather than being cut (a narrow or piped terminal)."""
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


NULL = Text("NULL", style="dim italic")


def print_values(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Query results as a rich table: every column in order (names may repeat), values as
    plain text (never read as markup), NULL as a dim ``NULL`` unlike empty text."""
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(Text(column), overflow="fold")
    for row in rows:
        table.add_row(*(NULL if v is None else Text(_text(v)) for v in row))
    console.print(table)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def print_json(value: Any) -> None:
    """JSON on stdout (dates and other values as strings)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def as_dict(record: Any) -> dict[str, Any]:
    """An SDK model (a msgspec struct) as a dict of its fields."""
    return msgspec.structs.asdict(record)


def print_records(
    records: Sequence[Any],
    as_json: bool,
    title: str | None,
    columns: Sequence[str],
    row: Callable[[Any], Sequence[Any]],
) -> None:
    """Records (SDK models) as a JSON list (``as_json``) or as a rich table,
    ``row`` of each."""
    if as_json:
        print_json([as_dict(record) for record in records])
        return
    print_rows(title, columns, [row(record) for record in records])
