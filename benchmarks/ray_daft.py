"""Daft on Ray over Lakehold's governed plans: one Daft DataFrame per view, then Daft SQL.

Each view of the plan becomes ``daft.read_parquet(<the snapshot's files>)`` (the files
Lakehold pinned, so the version read is the catalog's), the grant's row filter as a Daft
expression (:mod:`benchmarks.ray_predicates`, pushed into the Parquet scan), a LIMIT barrier
above it (as in Lakehold's views: without it Daft's optimizer pushes the statement's own
predicates into the same scan filter, where they run on hidden rows -- the ``barrier`` probe
then fails with Daft's division-by-zero panic) and the granted columns as the projection.

The plan's statement -- Lakehold's DuckDB SQL over the view names -- goes to ``daft.sql``
with the views bound by name; when Daft's parser refuses it, the statement is transpiled by
sqlglot to PostgreSQL (Daft SQL's nearest dialect) and tried again. Daft refuses some
decimal arithmetic DuckDB accepts (precision beyond 38, CASE branches mixing DECIMAL and
INTEGER); such statements run again over views whose DECIMAL columns are cast to DOUBLE,
and are reported as ``approx``.

Needs Daft (``daft[ray]``), which pins ``pyarrow<26`` and ``ray<2.60``: it runs in its own
environment (``/tmp/venv-daft``), never in Lakehold's.
"""

from __future__ import annotations

import contextlib
import io

import daft
import pyarrow as pa
import sqlglot
from daft import DataType, col

from benchmarks.ray_lakehouse import GovernedQuery
from benchmarks.ray_predicates import daft as daft_backend
from benchmarks.ray_predicates import translate
from lakehold.query import BoundTable

_NO_LIMIT = (1 << 62) - 1


def view(table: BoundTable, *, doubles: bool = False, barrier: bool = True) -> daft.DataFrame:
    """The governed scan of one bound table as a Daft DataFrame; ``barrier``: under a LIMIT,
    as Lakehold's own views (else Daft evaluates the statement's predicates together with the
    row filter, on the rows it hides)."""
    frame = daft.read_parquet(list(table.files))
    if table.row_filter:
        frame = frame.where(translate(table.row_filter, daft_backend()))
        if barrier:
            frame = frame.limit(_NO_LIMIT)
    granted = list(table.columns) if table.columns is not None else list(table.schema.names)
    columns = []
    for field in table.schema:
        if field.name not in granted:
            continue
        column = col(field.name)
        if doubles and pa.types.is_decimal(field.type):
            column = column.cast(DataType.float64())
        columns.append(column)
    return frame.select(*columns)


def views(
    query: GovernedQuery, *, doubles: bool = False, barrier: bool = True
) -> dict[str, daft.DataFrame]:
    return {
        name: view(table, doubles=doubles, barrier=barrier) for name, table in query.tables.items()
    }


def optimized_plan(frame: daft.DataFrame) -> str:
    """Daft's optimized logical plan, as text (what the scan pushes down)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        frame.explain(show_all=True)
    text = out.getvalue()
    return text[text.find("== Optimized") : text.find("== Physical")]


class Daft:
    """``run``: Daft SQL over the governed views. The first run of a query finds the variant
    Daft accepts (exact or approx, as written or via PostgreSQL) and keeps it; ``mode`` says
    which variant ran the last query."""

    name = "daft"

    def __init__(self, barrier: bool = True) -> None:
        self.barrier = barrier
        self.mode = ""
        self._variants: dict[int, tuple[bool, str]] = {}

    def supports(self, query: GovernedQuery) -> str | None:
        return None

    def frame(self, query: GovernedQuery, doubles: bool, dialect: str) -> daft.DataFrame:
        sql = query.plan.sql
        if dialect != "duckdb":
            sql = sqlglot.transpile(sql, read="duckdb", write=dialect)[0]
        return daft.sql(sql, **views(query, doubles=doubles, barrier=self.barrier))

    def run(self, query: GovernedQuery) -> pa.Table:
        known = self._variants.get(query.number)
        variants = [known] if known else [(d, s) for d in (False, True) for s in _DIALECTS]
        errors = []
        for doubles, dialect in variants:
            try:
                table = self.frame(query, doubles, dialect).to_arrow()
            except Exception as error:  # Daft raises several types for a refused plan
                errors.append(f"{type(error).__name__}: {_first_line(error)}")
                continue
            self._variants[query.number] = (doubles, dialect)
            self.mode = ("approx" if doubles else "exact") + (
                "" if dialect == "duckdb" else f" via {dialect}"
            )
            return table
        raise RuntimeError(errors[0])


_DIALECTS = ("duckdb", "postgres")


def _first_line(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:160]
