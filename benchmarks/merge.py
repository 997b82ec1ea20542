"""CDC merge through Lakehold's DeltaTables.write vs a raw deltalake MERGE of the same batch.

Usage: python benchmarks/merge.py [--rows 1000000] [--change-fraction 0.05] [--repeat 5]

Generates a table of N rows with DuckDB, writes it as two identical Delta tables, builds one
CDC batch (80% updates, 10% inserts, 10% deletes of ``change-fraction`` x N rows) and merges
it into copy 1 with ``DeltaTables.write(mode="cdc")`` and into copy 2 with a raw
``DeltaTable.merge`` (equivalent delete, update and insert clauses, default options). Each
run starts from version 0 of both copies; the order alternates between runs. Prints the
median times, change rows per second and the ratio Lakehold throughput / raw throughput
(goal: >= 0.8), and the same ratio over the best runs (less sensitive to a busy machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from lakehold.lakehouse import DeltaTables

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

COLUMNS = "id, name, amount, quantity, created, active"


def generate_table(rows: int) -> pa.Table:
    """N rows of a few typed columns: bigint key, text, double, bigint, date, boolean."""
    return duckdb.sql(
        f"""
        select range as id,
               'customer-' || (range % 100000) as name,
               round((range * 7919 % 1000000) / 100.0, 2) as amount,
               range % 97 as quantity,
               date '2020-01-01' + cast(range % 1500 as integer) as created,
               range % 3 = 0 as active
        from range({rows})
        """
    ).to_arrow_table()


def generate_changes(rows: int, fraction: float) -> pa.Table:
    """A CDC batch: updates and deletes spread over existing keys, inserts of new keys."""
    changes = max(10, int(rows * fraction))
    deletes = changes // 10
    inserts = changes // 10
    updates = changes - deletes - inserts
    stride = max(1, rows // (updates + deletes))
    return duckdb.sql(
        f"""
        select case when range < {updates} then 'U' else 'D' end as op,
               range * {stride} as id,
               'changed-' || range as name,
               round(range / 7.0, 2) as amount,
               range % 13 as quantity,
               date '2024-06-01' + cast(range % 30 as integer) as created,
               range % 2 = 0 as active
        from range({updates + deletes})
        union all
        select 'I', {rows} + range, 'new-' || range, 1.5, 1, date '2024-07-01', true
        from range({inserts})
        """
    ).to_arrow_table()


def raw_merge(path: Path, batch: pa.Table) -> dict:
    """The same CDC batch through deltalake's merge builder, without Lakehold."""
    values = ["name", "amount", "quantity", "created", "active"]
    return (
        DeltaTable(str(path))
        .merge(batch, "t.id = s.id", source_alias="s", target_alias="t")
        .when_matched_delete(predicate="s.op = 'D'")
        .when_matched_update(updates={c: f"s.{c}" for c in values}, predicate="s.op <> 'D'")
        .when_not_matched_insert(
            updates={c: f"s.{c}" for c in ["id", *values]}, predicate="s.op <> 'D'"
        )
        .execute()
    )


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="table rows (up to 6M)")
    parser.add_argument("--change-fraction", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    data = generate_table(args.rows)
    batch = generate_changes(args.rows, args.change_fraction)
    with tempfile.TemporaryDirectory() as root:
        tables = DeltaTables(Path(root))
        ours, theirs = tables.path_for("bench", "lakehold"), tables.path_for("bench", "raw")
        for path in (ours, theirs):
            path.mkdir(parents=True)
            write_deltalake(str(path), data)
        print(
            f"table {args.rows:,} rows, CDC batch {batch.num_rows:,} rows "
            f"(set-up {time.perf_counter() - started:.1f} s); {args.repeat} runs, median"
        )

        def lakehold() -> None:
            tables.write(ours, batch, mode="cdc", keys=["id"], committer="bench")

        ours_times, raw_times = [], []
        for run in range(args.repeat):
            if run:
                DeltaTable(str(ours)).restore(0)
                DeltaTable(str(theirs)).restore(0)
            if run % 2:
                raw_times.append(timed(lambda: raw_merge(theirs, batch)))
                ours_times.append(timed(lakehold))
            else:
                ours_times.append(timed(lakehold))
                raw_times.append(timed(lambda: raw_merge(theirs, batch)))

        columns = COLUMNS.split(", ")
        mine = tables.read(ours).sort_by("id").select(columns)
        same = mine.equals(DeltaTable(str(theirs)).to_pyarrow_table().sort_by("id").select(columns))
        a, b = statistics.median(ours_times), statistics.median(raw_times)
        print(f"{'':>10} {'seconds':>9} {'rows/s':>12}")
        print(f"{'lakehold':>10} {a:>9.3f} {batch.num_rows / a:>12,.0f}")
        print(f"{'raw':>10} {b:>9.3f} {batch.num_rows / b:>12,.0f}")
        print(f"ratio (lakehold / raw throughput): {b / a:.3f}  (goal >= 0.8)")
        print(f"best-of-runs ratio: {min(raw_times) / min(ours_times):.3f}")
        print(f"same table contents: {same}")


if __name__ == "__main__":
    main()
