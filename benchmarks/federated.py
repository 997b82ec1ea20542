"""Federated sources: an incremental sync job vs the raw pieces it is built from.

Usage: python benchmarks/federated.py --part sync [--rows 5000000] [--changed 100000] [--repeat 3]

``--part sync``: creates a table of N accounts in PostgreSQL (127.0.0.1:5432, database
``test``, a schema of its own, dropped at the end) with ``INSERT ... SELECT generate_series``,
full-syncs it into a Lakehold table with a sync job, then changes the values and the
watermark (``last_modified``) of ``--changed`` rows and times the incremental run. Baseline,
measured in the same run on a copy of the same Delta table: DuckDB's postgres scanner reading
the same changed rows (``last_modified > watermark``, pushed down) + a raw deltalake MERGE on
the key, without Lakehold (no checks, no metadata, no catalog refresh). Each repetition starts
from the table after the full sync; the order alternates. Prints rows/s and the ratio
Lakehold throughput / raw throughput.

``--part join``: federated joins (written by the lead).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import psycopg
from deltalake import DeltaTable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.sources.attach import ConnectionSpec, attach
from lakehold.sources.sync_engine import DUCKDB_CONFIG
from lakehold.store.sync import SyncJob

POSTGRES = "host=127.0.0.1 port=5432 dbname=test user=postgres"
PARAMS = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres"}
VALUES = ["name", "industry", "annual_revenue", "is_deleted", "last_modified"]


def create_source(conn: psycopg.Connection, schema: str, rows: int) -> None:
    """N accounts, all modified on 2024-01-01 (plus a second per 1000 ids)."""
    conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(
        f"CREATE TABLE {schema}.account (id bigint PRIMARY KEY, name text, industry text, "
        "annual_revenue numeric(12,2), is_deleted boolean, last_modified timestamptz)"
    )
    conn.execute(
        f"INSERT INTO {schema}.account SELECT g, 'account-' || g, "
        "(ARRAY['energy','retail','software','pharma'])[1 + g % 4], (g % 100000) / 10.0, false, "
        "timestamptz '2024-01-01' + (g / 1000) * interval '1 second' "
        f"FROM generate_series(1, {rows}) AS g"
    )
    conn.execute(f"CREATE INDEX ON {schema}.account (last_modified)")
    conn.execute(f"ANALYZE {schema}.account")


def change_rows(conn: psycopg.Connection, schema: str, rows: int, changed: int) -> None:
    """New values and a new watermark for ``changed`` rows spread over the table."""
    stride = max(1, rows // changed)
    conn.execute(
        f"UPDATE {schema}.account SET annual_revenue = annual_revenue + 1, "
        "industry = 'changed', last_modified = timestamptz '2025-01-01' + id * interval '1 ms' "
        f"WHERE id % {stride} = 0 AND id <= {stride * changed}"
    )


def raw_sync(schema: str, watermark: str, path: Path) -> int:
    """Read the changed rows with the postgres scanner and MERGE them with deltalake."""
    connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    connection.execute("SET TimeZone = 'UTC'")
    attach(connection, ConnectionSpec("raw", "postgresql", PARAMS), "pg")
    batch = connection.execute(
        f"SELECT * FROM pg.{schema}.account WHERE last_modified > ?::TIMESTAMPTZ",
        [watermark],
    ).to_arrow_table()
    connection.close()
    (
        DeltaTable(str(path))
        .merge(batch, "t.id = s.id", source_alias="s", target_alias="t")
        .when_matched_delete(predicate="s.is_deleted")
        .when_matched_update(updates={c: f"s.{c}" for c in VALUES}, predicate="NOT s.is_deleted")
        .when_not_matched_insert(
            updates={c: f"s.{c}" for c in ["id", *VALUES]}, predicate="NOT s.is_deleted"
        )
        .execute()
    )
    return batch.num_rows


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def sync_part(args: argparse.Namespace) -> None:
    schema = f"lh_bench_{uuid.uuid4().hex[:8]}"
    with (
        psycopg.connect(POSTGRES, autocommit=True) as conn,
        tempfile.TemporaryDirectory() as root,
    ):
        try:
            started = time.perf_counter()
            create_source(conn, schema, args.rows)
            print(f"source: {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
            runtime = Runtime(Settings(home=Path(root) / "home"))
            admin, _ = runtime.security.bootstrap()
            runtime.catalog.create_domain(admin, "Bench")
            runtime.catalog.create_project(admin, "bench", "Bench")
            runtime.connections.create(admin, "bench", "crm", "postgresql", dict(PARAMS))
            runtime.sync_jobs.create(
                admin,
                "bench",
                "accounts",
                connection="crm",
                source_table=f"{schema}.account",
                target_table="account",
                watermark_column="last_modified",
                key_columns=["id"],
                delete_column="is_deleted",
                not_null_columns=["name"],
            )
            full = runtime.sync_jobs.run(admin, "bench", "accounts")
            print(
                f"full sync: {full.rows_read:,} rows in {full.duration_seconds:.1f} s "
                f"({full.rows_read / full.duration_seconds:,.0f} rows/s)"
            )
            watermark = full.watermark_after
            ours = runtime.tables.path_for("bench", "account")
            theirs = Path(root) / "raw_account"
            shutil.copytree(ours, theirs)
            base = DeltaTable(str(ours)).version(), DeltaTable(str(theirs)).version()
            change_rows(conn, schema, args.rows, args.changed)

            def lakehold() -> None:
                run = runtime.sync_jobs.run(admin, "bench", "accounts")
                assert run.status == "succeeded" and run.rows_updated == args.changed, run

            def raw() -> None:
                assert raw_sync(schema, watermark, theirs) == args.changed

            ours_times, raw_times = [], []
            for repetition in range(args.repeat):
                if repetition:
                    DeltaTable(str(ours)).restore(base[0])
                    DeltaTable(str(theirs)).restore(base[1])
                    with runtime.store.session() as session:
                        session.query(SyncJob).one().last_watermark = watermark
                first, second = (raw, lakehold) if repetition % 2 else (lakehold, raw)
                times = (raw_times, ours_times) if repetition % 2 else (ours_times, raw_times)
                times[0].append(timed(first))
                times[1].append(timed(second))
            a, b = statistics.median(ours_times), statistics.median(raw_times)
            print(
                f"incremental: {args.changed:,} changed rows of {args.rows:,}; median of "
                f"{args.repeat}"
            )
            print(f"{'':>10} {'seconds':>9} {'rows/s':>12}")
            print(f"{'lakehold':>10} {a:>9.3f} {args.changed / a:>12,.0f}")
            print(f"{'raw':>10} {b:>9.3f} {args.changed / b:>12,.0f}")
            print(f"ratio (lakehold / raw throughput): {b / a:.3f}")
            same = (
                runtime.tables.read(ours)
                .sort_by("id")
                .equals(DeltaTable(str(theirs)).to_pyarrow_table().sort_by("id"))
            )
            print(f"same table contents: {same}")
            runtime.close()
        finally:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def join_part(args: argparse.Namespace) -> None:
    # TODO(lead): the federated join benchmark (issue #4) is the lead's to write.
    raise SystemExit("join part: not yet written")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("sync", "join"), default="sync")
    parser.add_argument("--rows", type=int, default=5_000_000, help="source table rows")
    parser.add_argument(
        "--changed", type=int, default=100_000, help="rows changed after the full sync"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.part == "join":
        join_part(args)
    else:
        sync_part(args)


if __name__ == "__main__":
    main()
