"""Filtered snapshots (ADR 39): materialising a recipient's row- and column-filtered copy of a
Delta table, and refreshing it incrementally, against baselines measured in the same run.

Usage: python benchmarks/sharing_refresh.py [--rows 2000000] [--files 20] [--repeat 3]

Writes a table of N rows in F files through ``DeltaTables`` (change data feed on), then
times, medians over ``--repeat`` runs:

1. the first materialisation (``refresh`` of a new snapshot) vs a raw DuckDB ``COPY`` of the
   same projection and filter over the same files (one statement, DuckDB's own parallel
   Parquet writer): ratio materialisation / raw (goal <= 3);
2. the refresh after a 5% append vs rebuilding the snapshot from scratch at that version:
   ratio refresh / rebuild (goal <= 0.2);
3. the same after a 5% merge (updates of a contiguous key range and inserts; Delta rewrites
   the files holding the updated keys, and the snapshot those files' copies and the filtered
   change data): ratio refresh / rebuild (goal <= 0.3);
4. the refresh of one small commit (1,000 appended rows): the refresh lag a recipient sees
   is the server's poll interval plus this.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from lakehold.lakehouse import DeltaTables
from lakehold.lakehouse.filtered_snapshots import SnapshotSpec, refresh

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

COLUMNS = ("id", "region", "amount", "quantity", "created")
ROW_FILTER = "region IN ('EU', 'UK') AND amount >= 100"


def rows(start: int, count: int, *, salt: int = 0) -> pa.Table:
    """``count`` rows with ids from ``start``: granted columns and two that are not."""
    return duckdb.sql(
        f"""
        select range as id,
               ['EU', 'US', 'UK', 'APAC', 'LATAM'][(range * 7 + {salt}) % 5 + 1] as region,
               round(((range + {salt}) * 7919 % 100000) / 100.0, 2) as amount,
               cast(range % 97 as integer) as quantity,
               timestamptz '2024-01-01 00:00:00+00' + to_seconds(range) as created,
               'customer-' || (range % 100000) as customer,
               md5(cast(range as varchar)) as secret
        from range({start}, {start + count})
        """
    ).to_arrow_table()


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def raw_copy(table: Path, out: Path) -> int:
    """DuckDB's own filtered copy of the table's current files into one Parquet file."""
    files = DeltaTable(str(table)).file_uris()
    select = ", ".join(COLUMNS)
    duckdb.execute(
        f"COPY (SELECT {select} FROM read_parquet($files) WHERE {ROW_FILTER}) "
        f"TO '{out}' (FORMAT parquet)",
        {"files": files},
    )
    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]  # type: ignore[index]


def verdict(name: str, ratio: float, goal: float) -> None:
    mark = "ok" if ratio <= goal else "SLOWER THAN GOAL"
    print(f"{name}: {ratio:.2f}x (goal <= {goal}) -> {mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    per_file = args.rows // args.files

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        tables = DeltaTables(root / "warehouse")
        source = tables.path_for("bench", "orders")
        started = time.perf_counter()
        tables.create(
            source, rows(0, per_file), keys=["id"], committer="bench", change_data_feed=True
        )
        for part in range(1, args.files):
            tables.write(source, rows(part * per_file, per_file), mode="append", committer="b")
        total = args.files * per_file
        print(
            f"table {total:,} rows in {args.files} files, granted {len(COLUMNS)} of 7 columns, "
            f"filter {ROW_FILTER!r} (set-up {time.perf_counter() - started:.1f} s); "
            f"{args.repeat} runs, median"
        )

        def spec(name: str) -> SnapshotSpec:
            return SnapshotSpec(source, root / "snapshots" / name, COLUMNS, ROW_FILTER)

        def fresh(name: str, version: int) -> float:
            shutil.rmtree(root / "snapshots" / name, ignore_errors=True)
            return timed(lambda: refresh(spec(name), up_to=version))

        version = DeltaTable(str(source)).version()
        first, raw = [], []
        for run in range(args.repeat):
            out = root / f"raw-{run}.parquet"
            raw.append(timed(functools.partial(raw_copy, source, out)))
            first.append(fresh("first", version))
        granted = DeltaTable(str(root / "snapshots" / "first")).to_pyarrow_table().num_rows
        a, b = statistics.median(first), statistics.median(raw)
        print(f"first materialisation {a:.3f} s ({granted:,} granted rows), raw DuckDB {b:.3f} s")
        verdict("first materialisation / raw DuckDB filtered copy", a / b, 3)

        for label, change, goal in (
            ("5% append", "append", 0.2),
            ("5% merge", "merge", 0.3),
        ):
            incremental, rebuild = [], []
            for run in range(args.repeat):
                fresh("incremental", DeltaTable(str(source)).version())
                count = total // 20
                if change == "append":
                    batch = rows(10 * total + run * count, count)
                    tables.write(source, batch, mode="append", committer="b")
                else:  # update a contiguous half, insert the other half
                    updated = rows(total - count // 2 - run * count, count // 2, salt=run + 1)
                    inserted = rows(20 * total + run * count, count // 2)
                    merged = pa.concat_tables([updated, inserted])
                    tables.write(source, merged, mode="merge", keys=["id"], committer="b")
                version = DeltaTable(str(source)).version()
                incremental.append(
                    timed(functools.partial(refresh, spec("incremental"), up_to=version))
                )
                rebuild.append(fresh("rebuild", version))
            same = (
                DeltaTable(str(root / "snapshots" / "incremental")).to_pyarrow_table().sort_by("id")
            ).equals(
                DeltaTable(str(root / "snapshots" / "rebuild")).to_pyarrow_table().sort_by("id")
            )
            a, b = statistics.median(incremental), statistics.median(rebuild)
            print(f"refresh after a {label} {a:.3f} s, rebuild {b:.3f} s (same rows: {same})")
            verdict(f"refresh after a {label} / rebuild from scratch", a / b, goal)

        lag = []
        for run in range(max(args.repeat, 5)):
            tables.write(source, rows(40 * total + run * 1000, 1000), mode="append", committer="b")
            version = DeltaTable(str(source)).version()
            lag.append(timed(functools.partial(refresh, spec("incremental"), up_to=version)))
        print(
            f"per-commit refresh (1,000 appended rows): {statistics.median(lag) * 1000:.0f} ms "
            f"median, {max(lag) * 1000:.0f} ms max -> refresh lag = poll interval + this"
        )


if __name__ == "__main__":
    main()
