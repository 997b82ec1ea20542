"""The coordinator's DuckDB: the answer's schema first, then the final query over the partials.

A fresh in-memory database, locked before it runs anything: no file at all
(``allowed_paths`` empty, external access off) and its configuration locked. Its first
statement is the user's statement bound over *empty* tables (no file is read): that gives the
columns and types the single-process engine would return, which the merged answer then takes
(the final query's own names are generated, and a few of its types are wider, e.g. a count).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

import duckdb
import pyarrow as pa

from lakehold.errors import LakeholdError
from lakehold.query import databases
from lakehold.query.cancel import CancelHandle
from lakehold.query.engine import PreparedQuery, plan
from lakehold.query.execute import lockdown_sql, statement_sql
from lakehold.query.messages import INTERNAL_MESSAGE, is_interrupt, translate
from lakehold.query.model import BoundTable, TableRef
from lakehold.query.split import PARTIALS

log = logging.getLogger(__name__)


class Merge:
    """One statement's merge database; :meth:`close` it."""

    def __init__(self, prepared: PreparedQuery, resolved: Mapping[TableRef, BoundTable]) -> None:
        self.connection = databases.take()
        try:
            self.connection.execute(";\n".join(lockdown_sql(())))
            empty = {ref: dataclasses.replace(t, files=()) for ref, t in resolved.items()}
            shape = plan(prepared, empty)
            try:
                relation = self.connection.sql(statement_sql(shape))
                self.schema: pa.Schema = relation.limit(0).to_arrow_table().schema
            except duckdb.Error as e:
                raise translate(e, shape.names) from None
        except BaseException:
            self.close()
            raise

    def answer(
        self,
        final: str | None,
        partials: Sequence[pa.Table],
        max_rows: int,
        handle: CancelHandle,
    ) -> tuple[pa.Table, bool]:
        """The final query over ``partials`` (their concatenation when ``final`` is None),
        with the single-process engine's columns; at most ``max_rows`` rows and whether more
        existed."""
        table = pa.concat_tables(partials)
        if final is not None:
            try:
                self.connection.register(PARTIALS, table)
                table = self.connection.execute(final).to_arrow_table()
            except duckdb.Error as e:
                if handle.reason is not None or is_interrupt(e):
                    raise handle.error() from None
                raise translate(e, {}) from None
        handle.check()
        return self._shaped(table.slice(0, max_rows)), table.num_rows > max_rows

    def _shaped(self, table: pa.Table) -> pa.Table:
        table = table.rename_columns(self.schema.names)
        if table.schema.equals(self.schema):
            return table
        try:
            return table.cast(self.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            log.error("the merged answer does not fit the statement's columns: %s", e)
            raise LakeholdError(INTERNAL_MESSAGE) from None

    def close(self) -> None:
        databases.discard(self.connection)
