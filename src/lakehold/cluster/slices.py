"""Slices: the partial query bound once per group of the largest table's data files.

Each slice is a plan of its own, made by the query engine's bind pass (the grant's columns,
its row filter under the LIMIT barrier) over the slice's files of the partitioned table and
every file of the other tables, and shipped as text: the setup (one thread, the task's
memory limit, then the lockdown to exactly those files) and the statement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lakehold.query.engine import PreparedQuery, plan
from lakehold.query.execute import setup_sql, statement_sql
from lakehold.query.model import BoundTable, TableRef

MAX_TASKS = 512
"""At most this many tasks per statement: beyond it, a task reads several files."""


@dataclass(frozen=True)
class Slice:
    """What one task runs (``setup``, ``statement``) and what its errors may name: ``names``
    (view -> the table as the user wrote it) and ``files`` (hidden from messages)."""

    setup: str
    statement: str
    names: Mapping[str, str]
    files: tuple[str, ...]


def partitioned(resolved: Mapping[TableRef, BoundTable]) -> TableRef:
    """The table whose files are cut into slices: the largest (first of equals)."""
    return max(resolved, key=lambda ref: (resolved[ref].size_bytes, len(resolved[ref].files)))


def groups(files: Sequence[str], max_tasks: int = MAX_TASKS) -> list[list[str]]:
    """``files`` in at most ``max_tasks`` consecutive groups of near-equal size; one empty
    group when there is no file (the task reads an empty table: its aggregates still count)."""
    if not files:
        return [[]]
    count = min(len(files), max_tasks)
    size, extra = divmod(len(files), count)
    cut, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        cut.append(list(files[start:end]))
        start = end
    return cut


def slices(
    prepared: PreparedQuery,
    resolved: Mapping[TableRef, BoundTable],
    ref: TableRef,
    partial_sql: str,
    *,
    memory_limit: str | None,
    max_tasks: int = MAX_TASKS,
) -> list[Slice]:
    """One slice per group of ``ref``'s files, each running ``partial_sql``."""
    partial = dataclasses.replace(prepared, duckdb_sql=partial_sql)
    bound = resolved[ref]
    work = []
    for files in groups(bound.files, max_tasks):
        tables = {**resolved, ref: dataclasses.replace(bound, files=files)}
        sliced = plan(partial, tables)
        setup = setup_sql(sliced, threads=1, memory_limit=memory_limit, keep_order=False)
        work.append(Slice(setup, statement_sql(sliced), sliced.names, sliced.files))
    return work
