"""Resolve pass: every table reference must have been bound by the caller.

The service layer decides which references a principal may read and binds those to
storage; a reference it left out is "not found" -- the same answer whether the table does
not exist or may not be read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lakehold.errors import NotFound
from lakehold.query.model import BoundTable, TableRef


def resolve(
    refs: Iterable[TableRef], resolved: Mapping[TableRef, BoundTable]
) -> dict[TableRef, BoundTable]:
    """The bound table of each reference; NotFound for the first one the caller left out."""
    bound = {}
    for ref in refs:
        table = resolved.get(ref)
        if table is None:
            raise NotFound(f"table {ref} not found")
        bound[ref] = table
    return bound
