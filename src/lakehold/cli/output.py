"""Printing results: rich tables, CSV, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.table import Table

from lakehold.cli.session import console


def print_rows(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A rich table."""
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def print_json(value: Any) -> None:
    """JSON on stdout (dates and other values as strings)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
