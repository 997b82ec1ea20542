"""Reading another organisation's share (ADR 37, "Consumer"): an incremental sync job against
a full copy of the same shared table, measured in the same run.

Usage: PYTHONPATH=. python benchmarks/sharing_consumer.py [--rows 1000000] [--changed 1000]

Organisation A (a runtime served on a socket, SQLite) shares a table of ``--rows`` rows with a
change data feed; organisation B (in process, SQLite) registers A's profile as a
``delta_sharing`` connection and runs two sync jobs on it: a ``full`` one and an
``incremental`` one (key ``id``). After both have copied the table once, A CDC-merges
``--changed`` rows (half updated, a quarter deleted, a quarter inserted) and each job runs
again. Printed: the first copy, each job's second run, and the ratio incremental / full (the
baseline: reading the whole table again at the new version); then the reads alone (what the
Delta Sharing client fetches and resolves, without the write): the changes since version 0
against the whole table at version 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from lakehold.api.app import create_app
from lakehold.catalog.tables import DataSource
from lakehold.config import Settings
from lakehold.connectors.sync_engine import SyncDefinition
from lakehold.runtime import Runtime
from lakehold.sources.source_reads import read
from tests.servers import served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        producer = _runtime(Path(scratch) / "a")
        consumer = _runtime(Path(scratch) / "b")
        try:
            with served(producer) as url:
                profile = _share(producer, url, args.rows)
                first, full, incremental = _measure(producer, consumer, url, profile, args)
                whole, changes = _reads(consumer)
        finally:
            producer.close()
            consumer.close()
    print(f"shared table: {args.rows} rows; changed at the provider: {args.changed} rows")
    print(f"  first copy (incremental job's first run): {first:.2f} s")
    print(f"  full job, second run (whole table again):  {full:.2f} s")
    print(f"  incremental job, second run (changes):     {incremental:.2f} s")
    print(f"  ratio incremental / full: {incremental / full:.3f}")
    print(f"  read alone: whole table {whole:.2f} s, changes {changes:.3f} s")
    print(f"  ratio changes / whole table: {changes / whole:.3f}")


def _reads(consumer: Runtime) -> tuple[float, float]:
    """The whole table read at its newest version, and its changes since version 0."""
    connection = consumer.connections.list(_principal(consumer), "partners")[0]
    spec = consumer.connections.spec(connection.id)
    timings = []
    for mode, watermark in (("full", None), ("incremental", "0")):
        definition = SyncDefinition(
            source_table="shop_share.shop.sales", mode=mode, key_columns=("id",)
        )
        started = time.perf_counter()
        read(consumer.connections, spec, definition, watermark, None)
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


def _principal(runtime: Runtime):
    return runtime.security.authenticate(_TOKENS[id(runtime)])


_TOKENS: dict[int, str] = {}


def _runtime(home: Path) -> Runtime:
    runtime = Runtime(Settings(home=home, statement_timeout_seconds=300))
    created = runtime.security.bootstrap()
    assert created is not None
    _TOKENS[id(runtime)] = created[1]
    return runtime


def _admin(runtime: Runtime) -> TestClient:
    client = TestClient(create_app(runtime))
    client.headers["Authorization"] = f"Bearer {_TOKENS[id(runtime)]}"
    return client


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _rows(start: int, count: int, amount: float) -> pa.Table:
    ids = pa.array(range(start, start + count), pa.int64())
    return pa.table(
        {
            "id": ids,
            "customer": pa.array([f"customer {i % 5000}" for i in range(start, start + count)]),
            "amount": pa.array([amount + i % 100 for i in range(count)], pa.float64()),
        }
    )


def _share(producer: Runtime, url: str, rows: int) -> dict:
    """Table ``shop.sales`` (change data feed) in share ``shop_share``, granted in full to
    recipient ``org_b``: its profile."""
    with _admin(producer) as admin:
        _ok(admin.post("/api/v1/domains", json={"name": "Shop"}), 201)
        _ok(admin.post("/api/v1/projects", json={"name": "shop", "domain": "Shop"}), 201)
        principal = producer.security.authenticate(admin.headers["Authorization"].split()[1])
        producer.table_service.create_table(
            principal,
            "shop",
            "sales",
            DataSource(_rows(0, rows, 10.0)),
            keys=["id"],
            change_data_feed=True,
        )
        _ok(admin.post("/api/v1/projects/shop/assets/sales/publish"), 201)
        _ok(admin.post("/api/v1/shares", json={"name": "shop_share", "project": "shop"}), 201)
        _ok(admin.post("/api/v1/shares/shop_share/tables", json={"asset": "sales"}), 201)
        made = _ok(
            admin.post(
                "/api/v1/share-recipients",
                json={"project": "shop", "name": "org_b", "organisation": "B"},
            ),
            201,
        )
        asked = _ok(
            admin.post(
                "/api/v1/share-grants",
                json={"share": "shop_share", "recipient": made["recipient"]["id"], "reason": "b"},
            ),
            201,
        )
        _ok(admin.post(f"/api/v1/share-grants/{asked['id']}/approve", json={"tables": []}))
    return {**made["profile"], "endpoint": f"{url}/delta-sharing"}


def _measure(
    producer: Runtime, consumer: Runtime, url: str, profile: dict, args: argparse.Namespace
) -> tuple[float, float, float]:
    with _admin(consumer) as admin:
        principal = consumer.security.authenticate(admin.headers["Authorization"].split()[1])
        consumer.network.allow(principal, f"127.0.0.1:{url.rsplit(':', 1)[1]}")
        _ok(admin.post("/api/v1/domains", json={"name": "Partners"}), 201)
        _ok(admin.post("/api/v1/projects", json={"name": "partners", "domain": "Partners"}), 201)
        params = {"endpoint": profile["endpoint"], "expirationTime": profile["expirationTime"]}
        consumer.connections.create(
            principal, "partners", "shop", "delta_sharing", params, password=profile["bearerToken"]
        )
        jobs = consumer.sync_jobs
        source = "shop_share.shop.sales"
        for name, mode in (("copy_full", "full"), ("copy_changes", "incremental")):
            jobs.create(
                principal,
                "partners",
                name,
                connection="shop",
                source_table=source,
                target_table=name,
                mode=mode,
                key_columns=["id"],
            )
        jobs.run(principal, "partners", "copy_full")
        started = time.perf_counter()
        jobs.run(principal, "partners", "copy_changes")
        first = time.perf_counter() - started
    _change(producer, args.rows, args.changed)
    timings = []
    for name in ("copy_full", "copy_changes"):
        started = time.perf_counter()
        run = jobs.run(principal, "partners", name)
        timings.append(time.perf_counter() - started)
        print(
            f"{name}: {run.rows_read} read, {run.rows_inserted} inserted, "
            f"{run.rows_updated} updated, {run.rows_deleted} deleted; watermark "
            f"{run.watermark_after}",
            file=sys.stderr,
        )
    return first, timings[0], timings[1]


def _change(producer: Runtime, rows: int, changed: int) -> None:
    """One CDC merge at the provider: half updates, a quarter deletes, a quarter inserts."""
    updates = _rows(0, changed // 2, 99.0)
    deletes = _rows(changed // 2, changed // 4, 0.0)
    inserts = _rows(rows, changed - changed // 2 - changed // 4, 5.0)
    batch = pa.concat_tables([updates, deletes, inserts])
    ops = ["U"] * updates.num_rows + ["D"] * deletes.num_rows + ["I"] * inserts.num_rows
    batch = batch.append_column("op", pa.array(ops))
    with tempfile.NamedTemporaryFile(suffix=".parquet") as file, _admin(producer) as admin:
        pq.write_table(batch, file.name)
        _ok(
            admin.post(
                "/api/v1/projects/shop/tables/sales/writes",
                data={"mode": "cdc"},
                files={"file": ("changes.parquet", Path(file.name).read_bytes())},
            )
        )


if __name__ == "__main__":
    main()
