"""Ray Data over Lakehold's governed plans: the bound files, the grant pushed into the reader.

Ray Data has no SQL front end, so each query is a hand-written pipeline (Q1, Q3, Q6 -- one
scan-filter-aggregate, one join, one filtered sum); the rest of TPC-H is not translated.
Every table is read with ``ray.data.read_parquet(files).select_columns(...).filter(expr=...)``: the
columns must be granted (else the read is refused) and the grant's row filter, as a Ray Data
expression (:mod:`benchmarks.ray_predicates`), is pushed by Ray Data's optimizer into the
Parquet reader (a ``pyarrow.dataset`` filter), so hidden rows and ungranted columns never
leave it. The query's own predicates run after the reader, in
``map_batches`` -- never together with the grant's (Arrow evaluates both sides of an AND,
so a user predicate would see, and could fail on, hidden rows). Q3 broadcasts the filtered
``customer`` join ``orders`` (built on the driver) to the tasks that scan ``lineitem``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import ray
import ray.data
from ray.data.aggregate import Count, Mean, Sum

from benchmarks.ray_lakehouse import GovernedQuery
from benchmarks.ray_predicates import columns as filter_columns
from benchmarks.ray_predicates import ray_data, translate
from lakehold.query import BoundTable


def read(table: BoundTable, columns: list[str]) -> ray.data.Dataset:
    """The governed scan of one bound table: granted columns only, the row filter inside."""
    granted = set(table.columns) if table.columns is not None else set(table.schema.names)
    if not set(columns) <= granted:
        raise PermissionError(f"columns not granted: {sorted(set(columns) - granted)}")
    if not table.row_filter:
        return ray.data.read_parquet(list(table.files)).select_columns(columns)
    needed = columns + sorted(filter_columns(table.row_filter) - set(columns))
    dataset = ray.data.read_parquet(list(table.files)).select_columns(needed)
    dataset = dataset.filter(expr=translate(table.row_filter, ray_data()))
    return dataset if needed == columns else dataset.select_columns(columns)


def collect(dataset: ray.data.Dataset) -> pa.Table:
    """All blocks of a dataset, on the driver, as one Arrow table."""
    return pa.concat_tables(ray.get(dataset.to_arrow_refs()))


def _tables(query: GovernedQuery) -> dict[str, BoundTable]:
    return {query.names[view]: bound for view, bound in query.tables.items()}


def _day(text: str) -> pa.Scalar:
    return pa.scalar(datetime.date.fromisoformat(text))


_ONE = pa.scalar(1, pa.decimal128(3, 2))


def _revenue(t: pa.Table) -> pa.Array:
    """``l_extendedprice * (1 - l_discount)``, exact. Arrow, unlike DuckDB, widens decimal
    precision at every product (p1 + p2 + 1) and fails beyond 38: intermediate results are
    cast to the precision their values need."""
    product = pc.multiply(t["l_extendedprice"], pc.subtract(_ONE, t["l_discount"]))
    return product.cast(pa.decimal128(20, 4))


def q1(query: GovernedQuery) -> pa.Table:
    lineitem = _tables(query)["lineitem"]
    columns = ["l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice"]
    columns += ["l_discount", "l_tax", "l_shipdate"]

    def prepare(t: pa.Table) -> pa.Table:
        t = t.filter(pc.less_equal(t["l_shipdate"], _day("1998-09-02")))
        disc_price = _revenue(t)
        plus_tax = pc.add(_ONE, t["l_tax"]).cast(pa.decimal128(4, 2))
        charge = pc.multiply(disc_price, plus_tax)
        return (
            t.drop(["l_shipdate", "l_tax"])
            .append_column("disc_price", disc_price)
            .append_column("charge", charge)
        )

    grouped = (
        read(lineitem, columns)
        .map_batches(prepare, batch_format="pyarrow", batch_size=None)
        .groupby(["l_returnflag", "l_linestatus"])
        .aggregate(
            Sum("l_quantity", alias_name="sum_qty"),
            Sum("l_extendedprice", alias_name="sum_base_price"),
            Sum("disc_price", alias_name="sum_disc_price"),
            Sum("charge", alias_name="sum_charge"),
            Mean("l_quantity", alias_name="avg_qty"),
            Mean("l_extendedprice", alias_name="avg_price"),
            Mean("l_discount", alias_name="avg_disc"),
            Count(alias_name="count_order"),
        )
    )
    return collect(grouped).sort_by([("l_returnflag", "ascending"), ("l_linestatus", "ascending")])


def q6(query: GovernedQuery) -> pa.Table:
    lineitem = _tables(query)["lineitem"]
    columns = ["l_extendedprice", "l_discount", "l_shipdate", "l_quantity"]

    def revenue(t: pa.Table) -> pa.Table:
        keep = pc.and_(
            pc.and_(
                pc.greater_equal(t["l_shipdate"], _day("1994-01-01")),
                pc.less(t["l_shipdate"], _day("1995-01-01")),
            ),
            pc.and_(
                pc.and_(
                    pc.greater_equal(t["l_discount"], pa.scalar(0.05)),
                    pc.less_equal(t["l_discount"], pa.scalar(0.07)),
                ),
                pc.less(t["l_quantity"], pa.scalar(24, pa.int64())),
            ),
        )
        t = t.filter(keep)
        return pa.table({"revenue": [pc.sum(pc.multiply(t["l_extendedprice"], t["l_discount"]))]})

    # a global sum: partial sums per block, added on the driver (Dataset.sum shuffles)
    parts = collect(
        read(lineitem, columns).map_batches(revenue, batch_format="pyarrow", batch_size=None)
    )
    return pa.table({"revenue": [pc.sum(parts["revenue"])]})


_BROADCAST: dict[str, pa.Table] = {}


def q3(query: GovernedQuery) -> pa.Table:
    tables = _tables(query)
    cutoff = _day("1995-03-15")
    customer = collect(
        read(tables["customer"], ["c_custkey", "c_mktsegment"]).map_batches(
            lambda t: t.filter(pc.equal(t["c_mktsegment"], "BUILDING")), batch_format="pyarrow"
        )
    )
    orders = collect(
        read(
            tables["orders"], ["o_orderkey", "o_custkey", "o_orderdate", "o_shippriority"]
        ).map_batches(
            lambda t: t.filter(pc.less(t["o_orderdate"], cutoff)),
            batch_format="pyarrow",
            batch_size=None,
        )
    )
    small = orders.join(customer, keys="o_custkey", right_keys="c_custkey", join_type="inner")
    small = small.select(["o_orderkey", "o_orderdate", "o_shippriority"])
    ref = ray.put(small)

    def joined(t: pa.Table) -> pa.Table:
        side = _BROADCAST.get(ref.hex())
        if side is None:
            side = _BROADCAST.setdefault(ref.hex(), ray.get(ref))
        t = t.filter(pc.greater(t["l_shipdate"], cutoff))
        t = t.append_column("revenue", _revenue(t)).select(["l_orderkey", "revenue"])
        return t.join(side, keys="l_orderkey", right_keys="o_orderkey", join_type="inner")

    grouped = collect(
        read(tables["lineitem"], ["l_orderkey", "l_extendedprice", "l_discount", "l_shipdate"])
        .map_batches(joined, batch_format="pyarrow", batch_size=None)
        .groupby(["l_orderkey", "o_orderdate", "o_shippriority"])
        .aggregate(Sum("revenue", alias_name="revenue"))
    )
    top = grouped.sort_by([("revenue", "descending"), ("o_orderdate", "ascending")]).slice(0, 10)
    return top.select(["l_orderkey", "revenue", "o_orderdate", "o_shippriority"])


def scan(query: GovernedQuery) -> pa.Table:
    """The ``scan`` probe of ``benchmarks.ray_engines``: every granted lineitem column."""
    lineitem = _tables(query)["lineitem"]
    columns = list(lineitem.columns or lineitem.schema.names)

    def sums(t: pa.Table) -> pa.Table:
        def total(*names: str) -> pa.Scalar:
            added = t[names[0]]
            for name in names[1:]:
                added = pc.add(added, t[name])
            return pc.sum(added)

        def lengths(*names: str) -> pa.Scalar:
            return pc.sum(
                pc.add(
                    pc.add(pc.utf8_length(t[names[0]]), pc.utf8_length(t[names[1]])),
                    pc.add(pc.utf8_length(t[names[2]]), pc.utf8_length(t[names[3]])),
                )
            )

        days = pc.add(
            pc.add(pc.day(t["l_shipdate"]), pc.day(t["l_commitdate"])), pc.day(t["l_receiptdate"])
        )
        return pa.table(
            {
                "n": [t.num_rows],
                "first_ship": [pc.min(t["l_shipdate"]).as_py()],
                "keys": [total("l_orderkey", "l_partkey", "l_suppkey", "l_linenumber").as_py()],
                "amounts": [total("l_quantity", "l_extendedprice", "l_discount", "l_tax").as_py()],
                "text": [
                    lengths("l_returnflag", "l_linestatus", "l_shipinstruct", "l_shipmode").as_py()
                ],
                "days": [pc.sum(days).as_py()],
            }
        )

    parts = collect(
        read(lineitem, columns).map_batches(sums, batch_format="pyarrow", batch_size=None)
    )
    return pa.table(
        {
            "n": [pc.sum(parts["n"]).as_py()],
            "first_ship": [pc.min(parts["first_ship"]).as_py()],
            **{name: [pc.sum(parts[name]).as_py()] for name in ("keys", "amounts", "text", "days")},
        }
    )


def barrier(query: GovernedQuery) -> pa.Table:
    """The ``barrier`` probe: a predicate that fails (integer division by zero) on a row the
    grant hides, run after the reader."""
    lineitem = _tables(query)["lineitem"]

    def count(t: pa.Table) -> pa.Table:
        hidden = pc.less(t["l_shipdate"], _day("1993-01-01"))
        divisor = pc.if_else(hidden, pa.scalar(0, pa.int64()), pa.scalar(1, pa.int64()))
        quotient = pc.divide(t["l_orderkey"], divisor)  # raises on a zero divisor
        return pa.table(
            {"n": [pc.sum(pc.equal(pc.multiply(quotient, divisor), t["l_orderkey"])).as_py()]}
        )

    parts = collect(
        read(lineitem, ["l_orderkey", "l_shipdate"]).map_batches(
            count, batch_format="pyarrow", batch_size=None
        )
    )
    return pa.table({"n": [pc.sum(parts["n"]).as_py()]})


QUERIES: dict[int, Callable[[GovernedQuery], pa.Table]] = {
    1: q1,
    3: q3,
    6: q6,
    101: scan,
    102: barrier,
}


class RayData:
    name = "ray-data"

    def __init__(self) -> None:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False

    def supports(self, query: GovernedQuery) -> str | None:
        if query.number not in QUERIES:
            return "no SQL front end: not translated by hand"
        return None

    def run(self, query: GovernedQuery) -> pa.Table:
        return QUERIES[query.number](query)
