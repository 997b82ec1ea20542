"""The coordinator's DuckDB: the answer's schema first, then the final query over the partials.

A fresh in-memory database, locked before it runs anything: no file at all
(``allowed_paths`` empty, external access off) and its configuration locked. Its first
statement is the user's statement bound over *empty* tables (no file is read): that gives the
columns and types the single-process engine would return, which the merged answer then takes
(the final query's own names are generated, and a few of its types are wider, e.g. a count).

Then it checks the split over the same empty tables (else :class:`Unsplittable`), within
``CHECK_TIMEOUT_S`` (constant expressions run even there): its ``source`` must return no row
(a FROM clause that returns rows over empty tables aggregates somewhere), a scan must return
no row either, and the partial query must run -- its column types are kept.

The final query reads the partial results as ``partials``, a view that casts each column
back to that type: Arrow has no HUGEINT (it carries one as DECIMAL(38,0)), and a SUM's type
shows in ``typeof``, ``//`` or an overflow; a type Arrow does not carry back is refused. The
view also gives each AVG of a DECIMAL its sum unscaled and its count times the scale, so that
the final query divides the very numbers DuckDB's own AVG divides (``sum / (count *
10^scale)``), to the same double while the unscaled sum stays below 2^53 (beyond, DuckDB
divides in ``long double``, and the last bit may differ).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence

import duckdb
import pyarrow as pa

from lakehold.errors import LakeholdError
from lakehold.query import databases
from lakehold.query.arrow_types import quote
from lakehold.query.cancel import CancelHandle
from lakehold.query.engine import PreparedQuery, plan
from lakehold.query.execute import lockdown_sql, statement_sql
from lakehold.query.messages import INTERNAL_MESSAGE, is_interrupt, sanitize, translate
from lakehold.query.model import BoundTable, TableRef
from lakehold.query.split import PARTIALS, Split, Unsplittable

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 5.0
"""How long the checks over empty tables may take (a constant expression may be costly)."""
_RECEIVED = "_lh_received"
"""The name the partial results are registered under (``partials`` casts them)."""
_AGGREGATES_INSIDE = "an aggregate in a subquery over the outer query's columns"
_CARRIED = (
    (re.compile(r"\bU?HUGEINT\b"), "DECIMAL(38,0)"),
    (re.compile(r"\b(?:JSON|UUID)\b|\bENUM\((?:'(?:[^']|'')*'(?:, )?)*\)"), "VARCHAR"),
)


def _carried(kind: str) -> str:
    """The type a partial column of DuckDB type ``kind`` arrives as, through Arrow, when the
    cast back to ``kind`` restores its values: U/HUGEINT as DECIMAL(38,0); JSON, UUID and
    ENUM as VARCHAR. Anything else must arrive as it left."""
    for pattern, arrives in _CARRIED:
        kind = pattern.sub(arrives, kind)
    return kind


class Merge:
    """One statement's merge database, checked against ``parts``; :meth:`close` it."""

    def __init__(
        self, prepared: PreparedQuery, resolved: Mapping[TableRef, BoundTable], parts: Split
    ) -> None:
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
            self.averages = parts.averages
            self.types: dict[str, str] = {}
            self._check(prepared, empty, parts, shape.names)
        except BaseException:
            self.close()
            raise

    def _check(
        self,
        prepared: PreparedQuery,
        empty: Mapping[TableRef, BoundTable],
        parts: Split,
        names: Mapping[str, str],
    ) -> None:
        """The checks over empty tables; keep the partial query's column types."""

        def over_empty(sql: str) -> duckdb.DuckDBPyRelation:
            bound = plan(dataclasses.replace(prepared, duckdb_sql=sql), empty)
            return self.connection.sql(statement_sql(bound))

        clock = CancelHandle()  # constant expressions run even over empty tables
        clock.attach(self.connection, CHECK_TIMEOUT_S)
        try:
            if parts.source and over_empty(parts.source).limit(1).fetchall():
                raise Unsplittable(_AGGREGATES_INSIDE)
            partial = over_empty(parts.partial)
            if parts.final is None:
                if partial.limit(1).fetchall():
                    raise Unsplittable(_AGGREGATES_INSIDE)
                return
            self.types = {
                name: str(kind) for name, kind in zip(partial.columns, partial.types, strict=True)
            }
            received = partial.limit(0).to_arrow_table()
            self.connection.register(_RECEIVED, received)
            carried = self.connection.sql(f"SELECT * FROM {_RECEIVED}").types
            for kind, arrived in zip(self.types.values(), carried, strict=True):
                if _carried(kind) != str(arrived):
                    raise Unsplittable(f"partial results of type {kind} do not travel as Arrow")
            self._received(received)
            self.connection.execute(parts.final).fetchall()
        except duckdb.Error as e:
            if clock.reason is not None or is_interrupt(e):
                raise Unsplittable(
                    f"its checks over empty tables take more than {CHECK_TIMEOUT_S:g} s"
                ) from None
            reason = sanitize(str(e), names).splitlines()[0]
            raise Unsplittable(f"its partial query or merge does not run: {reason}") from None
        finally:
            clock.detach()

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
                self._received(table)
                table = self.connection.execute(final).to_arrow_table()
            except duckdb.Error as e:
                if handle.reason is not None or is_interrupt(e):
                    raise handle.error() from None
                raise translate(e, {}) from None
        handle.check()
        return self._shaped(table.slice(0, max_rows)), table.num_rows > max_rows

    def _received(self, table: pa.Table) -> None:
        """Register ``table`` (partial results) and define ``partials`` over it: each
        column cast to its partial type; an AVG's DECIMAL sum unscaled, its count scaled."""
        columns = {name: f"CAST({quote(name)} AS {kind})" for name, kind in self.types.items()}
        for total, count in self.averages:
            kind = table.schema.field(total).type
            if pa.types.is_decimal(kind) and kind.scale > 0:
                index = table.schema.get_field_index(total)
                unscaled = pa.decimal128(kind.precision, 0)
                chunks = [chunk.view(unscaled) for chunk in table.column(index).chunks]
                table = table.set_column(index, total, pa.chunked_array(chunks, unscaled))
                columns[total] = f"CAST({quote(total)} AS DECIMAL({kind.precision},0))"
                columns[count] = f"CAST({quote(count)} AS DOUBLE) * 1e{kind.scale}"
        view = ", ".join(f"{sql} AS {quote(name)}" for name, sql in columns.items())
        self.connection.register(_RECEIVED, table)
        self.connection.execute(
            f"CREATE OR REPLACE TEMP VIEW {PARTIALS} AS SELECT {view} FROM {_RECEIVED}"
        )

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
