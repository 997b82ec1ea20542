"""DuckDB per task on Ray (the smallpond pattern) over Lakehold's governed plans.

The coordinator splits the statement (:mod:`lakehold.query.split`), cuts the largest table's
data files into slices (one per file), and binds one plan per slice with Lakehold's own bind
pass -- the same views, grant projection, row filter and LIMIT barrier as the single-process
plan, the partitioned view over the slice's files only. Each task (:mod:`benchmarks.ray_task`)
receives *text*: the lockdown (``allowed_paths`` = exactly its files, external access off,
configuration locked) and the statement; it needs DuckDB and read access to those files,
nothing else -- no Lakehold, no metadata store, no credentials beyond the storage paths. The
coordinator merges the partial results with the final query in its own DuckDB.
"""

from __future__ import annotations

import dataclasses

import duckdb
import pyarrow as pa
import ray

from benchmarks.ray_lakehouse import GovernedQuery
from benchmarks.ray_task import partial
from lakehold.query import plan
from lakehold.query.execute import setup_sql, statement_sql
from lakehold.query.split import PARTIALS, Split, Unsplittable, split


class DuckDBTasks:
    """``run``: split, one task per file of the largest table, merge."""

    name = "duckdb-tasks"

    def __init__(self, memory_limit: str | None = None) -> None:
        self.memory_limit = memory_limit

    def supports(self, query: GovernedQuery) -> str | None:
        try:
            self._split(query)
        except Unsplittable as refused:
            return refused.reason
        return None

    def _split(self, query: GovernedQuery) -> tuple[str, Split]:
        tables = query.tables
        partitioned = max(tables, key=lambda view: tables[view].size_bytes)
        columns = {field.name for table in tables.values() for field in table.schema}
        return partitioned, split(query.plan.sql, partitioned, columns)

    def tasks(self, query: GovernedQuery) -> list[tuple[str, str]]:
        """(setup, statement) of every task: the partial plan bound over each slice."""
        view, parts = self._split(query)
        ref = next(r for r, v in query.prepared.view_names.items() if v == view)
        bound = query.resolved[ref]
        prepared = dataclasses.replace(query.prepared, duckdb_sql=parts.partial)
        work = []
        for file in bound.files:
            resolved = dict(query.resolved)
            resolved[ref] = dataclasses.replace(bound, files=[file])
            sliced = plan(prepared, resolved)
            setup = setup_sql(sliced, threads=1, memory_limit=self.memory_limit, keep_order=False)
            work.append((setup, statement_sql(sliced)))
        return work

    def run(self, query: GovernedQuery) -> pa.Table:
        _, parts = self._split(query)
        refs = [partial.remote(setup, statement) for setup, statement in self.tasks(query)]
        partials = pa.concat_tables(ray.get(refs))
        if parts.final is None:  # a scan: the partials are the answer
            return partials
        con = duckdb.connect(config={"threads": 1})
        try:
            con.register(PARTIALS, partials)
            return con.execute(parts.final).to_arrow_table()
        finally:
            con.close()
