"""Lakehold names for source objects: valid SQL names, unique in a project."""

from __future__ import annotations

import re
from collections.abc import Callable

from lakehold.names import RESERVED


def clean_name(text: str) -> str:
    """``text`` as a valid table name: lower case, ``[a-z0-9_]``, at most 63 characters."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    name = re.sub(r"_+", "_", name) or "table"
    if name[0].isdigit():
        name = f"t_{name}"
    if name in RESERVED:
        name = f"{name}_table"
    return name[:63].rstrip("_") or "table"


def unique_name(schema: str, table: str, taken: Callable[[str], bool]) -> str:
    """A free name for ``schema.table``: the table's, else schema_table, else numbered."""
    for candidate in (clean_name(table), clean_name(f"{schema}_{table}")):
        if not taken(candidate):
            return candidate
    base = clean_name(table)[:58]
    number = 2
    while taken(f"{base}_{number}"):
        number += 1
    return f"{base}_{number}"
