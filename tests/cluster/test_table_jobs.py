"""Table jobs on a real Ray cluster: CDC merges, merges and compactions run as DuckDB tasks and
commit once, with the same table, counts and history as the in-process path on a copy."""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pytest
import ray
from deltalake import DeltaTable
from typer.testing import CliRunner

from lakehold.catalog.tables import DataSource
from lakehold.cli.main import app
from lakehold.cluster import ray_client
from lakehold.cluster.compact_job import RayCompactor
from lakehold.cluster.merge_job import RayMerge
from lakehold.cluster.routing import ClusterOptions
from lakehold.config import Settings
from lakehold.errors import Conflict, Invalid
from lakehold.lakehouse import DeltaTables
from lakehold.lakehouse.streaming import open_source
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.cluster import probes
from tests.conftest import SCENARIOS

ROWS = 40_000
FILES = 4


@pytest.fixture
def ray_address(lakehold_free_cluster: str) -> str:
    """The session's cluster (tests/cluster/conftest.py): its workers cannot import Lakehold."""
    return lakehold_free_cluster


@pytest.fixture
def cluster(ray_address: str) -> ClusterOptions:
    return ClusterOptions(ray_address, memory_limit="256MB")


def rows(start: int, stop: int, *, extra: bool = False) -> pa.Table:
    """Rows ``start``..``stop`` of the test table; the last append adds a column."""
    ids = range(start, stop)
    columns = {
        "id": pa.array(ids, pa.int64()),
        "name": pa.array([f"n{i}" for i in ids]),
        "amount": pa.array([i * 1.5 for i in ids]),
        "day": pa.array([i % 365 for i in ids], pa.int32()).cast(pa.date32()),
        "note": pa.array([None if i % 7 else f"note {i}" for i in ids]),
    }
    if extra:
        columns["extra"] = pa.array([i % 3 for i in ids], pa.int64())
    return pa.table(columns)


def several_files(tables: DeltaTables, path: Path, *, change_data_feed: bool = False) -> None:
    """A table of ``FILES`` files, key ranges one after the other (the last with a new column)."""
    step = ROWS // FILES
    tables.create(
        path, rows(0, step), keys=["id"], committer="setup", change_data_feed=change_data_feed
    )
    for index in range(1, FILES):
        batch = rows(index * step, (index + 1) * step, extra=index == FILES - 1)
        tables.write(path, batch, mode="append", committer="setup")


def cdc_batch(*, touched: int, seed: int = 7) -> pa.Table:
    """5% of the table's rows changed (updates, deletes, unchanged re-sends), keys below
    ``touched`` only, a key changed twice (the later change wins), and new keys."""
    chosen = random.Random(seed).sample(range(touched), ROWS // 20)
    ids, ops, names, amounts, seqs = [], [], [], [], []
    for position, key in enumerate(chosen):
        op = "UDU"[position % 3]
        same = position % 10 == 0  # an update that changes nothing
        ids.append(key)
        ops.append(op)
        names.append(f"n{key}" if same else (None if position % 11 == 0 else f"changed {key}"))
        amounts.append(key * 1.5 if same else -float(key))
        seqs.append(2)
    ids += [chosen[1], *range(ROWS, ROWS + 500)]  # chosen[1] was deleted: now it comes back
    ops += ["U"] + ["I"] * 500
    names += ["back"] + [f"new {i}" for i in range(500)]
    amounts += [0.5] + [float(i) for i in range(500)]
    seqs += [3] + [1] * 500
    return pa.table(
        {"id": ids, "name": names, "amount": amounts, "op": ops, "seq": pa.array(seqs, pa.int64())}
    )


def sorted_rows(tables: DeltaTables, path: Path) -> pa.Table:
    return tables.read(path).sort_by("id")


def twins(tmp_path: Path, **options: bool) -> tuple[DeltaTables, Path, Path]:
    """A warehouse with two identical tables (one folder copied from the other)."""
    tables = DeltaTables(tmp_path / "warehouse")
    local, remote = tables.path_for("p", "local"), tables.path_for("p", "remote")
    several_files(tables, local, **options)
    shutil.copytree(local, remote)
    return tables, local, remote


def test_a_cdc_merge_on_the_cluster_equals_the_local_merge(
    tmp_path: Path, cluster: ClusterOptions
) -> None:
    tables, local, remote = twins(tmp_path)
    batch = cdc_batch(touched=ROWS * 3 // 4)  # the last file holds no changed key
    before = tables.snapshot(remote)
    options = {"mode": "cdc", "keys": ["id"], "committer": "ana", "order_column": "seq"}
    expected = tables.write(local, batch, **options)
    done = tables.write(remote, batch, **options, merge_engine=RayMerge(cluster, tables.root))

    assert done.engine == "ray" and done.engine_note is None and expected.engine == "duckdb"
    assert sorted_rows(tables, remote).equals(sorted_rows(tables, local))
    counts = ("rows_inserted", "rows_updated", "rows_deleted", "source_rows")
    assert [getattr(done, c) for c in counts] == [getattr(expected, c) for c in counts]
    assert done.rows_inserted == 500 and done.rows_updated > 0 and done.rows_deleted > 0
    assert done.duplicates_collapsed == expected.duplicates_collapsed == 1
    assert done.version == before.version + 1
    [entry] = tables.history(remote, limit=1)
    [local_entry] = tables.history(local, limit=1)
    assert (entry.version, entry.operation, entry.committer) == (done.version, "CDC MERGE", "ana")
    assert {m: entry.metrics[m] for m in counts} == {m: local_entry.metrics[m] for m in counts}
    assert len(set(before.files) & set(done.snapshot.files)) == 1  # the untouched file stays


def test_a_merge_keeps_columns_the_batch_lacks(tmp_path: Path, cluster: ClusterOptions) -> None:
    tables, local, remote = twins(tmp_path)
    batch = pa.table({"id": [5, 17, ROWS - 1, ROWS + 1], "amount": [1.0, 2.0, 3.0, 4.0]})
    expected = tables.write(local, batch, mode="merge", keys=["id"], committer="ana")
    engine = RayMerge(cluster, tables.root)
    done = tables.write(
        remote, batch, mode="merge", keys=["id"], committer="ana", merge_engine=engine
    )
    assert done.engine == "ray"
    assert (done.rows_updated, done.rows_inserted) == (expected.rows_updated, 1) == (3, 1)
    merged = sorted_rows(tables, remote)
    assert merged.equals(sorted_rows(tables, local))
    row = merged.filter(pc.equal(merged["id"], ROWS - 1)).to_pylist()[0]
    assert row["name"] == f"n{ROWS - 1}" and row["extra"] == (ROWS - 1) % 3
    assert tables.history(remote, limit=1)[0].operation == "MERGE"

    again = tables.write(  # re-applied: nothing changes, no commit (as delta-rs)
        remote, batch, mode="merge", keys=["id"], committer="ana", merge_engine=engine
    )
    assert (again.version, again.rows_updated, again.rows_inserted) == (done.version, 0, 0)


def test_a_merge_on_a_text_and_timestamp_key(tmp_path: Path, cluster: ClusterOptions) -> None:
    """Key bounds of strings and of timestamps (whose statistics are rounded to milliseconds)."""
    tables = DeltaTables(tmp_path / "warehouse")
    local, remote = tables.path_for("p", "local"), tables.path_for("p", "remote")
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def readings(regions: str, micros: range, value: float) -> pa.Table:
        keys = [(r, start + timedelta(microseconds=m)) for r in regions for m in micros]
        return pa.table(
            {
                "region": [r for r, _ in keys],
                "at": pa.array([t for _, t in keys], pa.timestamp("us", tz="UTC")),
                "value": [value] * len(keys),
            }
        )

    tables.create(
        local, readings("ab", range(0, 3000, 7), 1.0), keys=["at", "region"], committer="t"
    )
    tables.write(local, readings("cd", range(0, 3000, 7), 2.0), mode="append", committer="t")
    shutil.copytree(local, remote)
    # a file's last keys (2.996 ms, above its statistics' 2 ms) and new keys
    batch = readings("bc", range(2996, 6000, 7), 9.0)
    keys = ["at", "region"]
    expected = tables.write(local, batch, mode="merge", keys=keys, committer="t")
    engine = RayMerge(cluster, tables.root)
    done = tables.write(remote, batch, mode="merge", keys=keys, committer="t", merge_engine=engine)
    assert done.engine == "ray" and done.rows_updated == expected.rows_updated == 2
    assert done.rows_inserted == expected.rows_inserted
    order = [("region", "ascending"), ("at", "ascending")]
    assert tables.read(remote).sort_by(order).equals(tables.read(local).sort_by(order))


def test_a_streamed_cdc_file_merges_on_the_cluster(tmp_path: Path, cluster: ClusterOptions) -> None:
    tables, local, remote = twins(tmp_path)
    batch = cdc_batch(touched=ROWS, seed=11).drop_columns(["seq"])
    csv = tmp_path / "changes.csv"
    pyarrow.csv.write_csv(batch, csv)
    streams = [open_source(csv, "csv", {}, sample_bytes=4096) for _ in range(2)]
    assert streams[0] is not None and streams[1] is not None
    expected = tables.write(local, streams[0], mode="cdc", keys=["id"], committer="ana")
    done = tables.write(
        remote,
        streams[1],
        mode="cdc",
        keys=["id"],
        committer="ana",
        merge_engine=RayMerge(cluster, tables.root),
    )
    assert done.engine == "ray"
    assert (done.rows_inserted, done.rows_updated, done.rows_deleted) == (
        expected.rows_inserted,
        expected.rows_updated,
        expected.rows_deleted,
    )
    assert sorted_rows(tables, remote).equals(sorted_rows(tables, local))
    assert not any((tables.root / ".staging").iterdir())


def test_a_change_data_feed_table_merges_in_process(
    tmp_path: Path, cluster: ClusterOptions
) -> None:
    tables, local, remote = twins(tmp_path, change_data_feed=True)
    batch = cdc_batch(touched=ROWS)
    options = {"mode": "cdc", "keys": ["id"], "committer": "ana", "order_column": "seq"}
    tables.write(local, batch, **options)
    done = tables.write(remote, batch, **options, merge_engine=RayMerge(cluster, tables.root))
    assert done.engine == "duckdb"
    assert done.engine_note is not None and "change data feed" in done.engine_note

    def changes(path: Path) -> pa.Table:
        feed = pa.table(DeltaTable(str(path)).load_cdf(starting_version=done.version).read_all())
        plain = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}
        schema = pa.schema([f.with_type(plain.get(f.type, f.type)) for f in feed.schema])
        order = [("id", "ascending"), ("_change_type", "ascending")]
        return feed.cast(schema).drop_columns(["_commit_timestamp"]).sort_by(order)

    assert changes(remote).num_rows > 0 and changes(remote).equals(changes(local))


def test_optimize_on_the_cluster_keeps_the_rows_in_fewer_files(
    tmp_path: Path, cluster: ClusterOptions
) -> None:
    tables, local, remote = twins(tmp_path)
    before = sorted_rows(tables, remote)
    expected = tables.optimize(local, committer="ana")
    metrics = tables.optimize(remote, committer="ana", compactor=RayCompactor(cluster))
    assert metrics["engine"] == "ray" and expected["engine"] == "duckdb"
    assert set(expected) - set(metrics) <= {
        "plannerStrategy",
        "preservedStableOrder",
        "maxBinSpanFiles",
    }
    assert (metrics["files_removed"], metrics["files_added"]) == (FILES, 1)
    assert sorted_rows(tables, remote).equals(before)
    assert len(tables.snapshot(remote).files) == 1
    [entry] = tables.history(remote, limit=1)
    assert (entry.operation, entry.version, entry.metrics["files_removed"]) == (
        "OPTIMIZE",
        metrics["version"],
        FILES,
    )
    again = tables.optimize(remote, committer="ana", compactor=RayCompactor(cluster))
    assert (again["version"], again["files_added"]) == (metrics["version"], 0)


class _Interleaved(RayMerge):
    """Another writer appends after the job read the table, before it commits."""

    def __init__(self, cluster: ClusterOptions, tables: DeltaTables, path: Path) -> None:
        super().__init__(cluster, tables.root)
        self.tables, self.path = tables, path

    def _run(self, table, plan, commit):
        self.tables.write(self.path, rows(ROWS, ROWS + 10), mode="append", committer="other")
        return super()._run(table, plan, commit)


def test_a_commit_between_read_and_commit_is_a_conflict(
    tmp_path: Path, cluster: ClusterOptions
) -> None:
    tables = DeltaTables(tmp_path / "warehouse")
    path = tables.path_for("p", "t")
    several_files(tables, path)
    version = tables.snapshot(path).version
    on_disk = set(path.glob("*.parquet"))
    batch = cdc_batch(touched=ROWS)
    with pytest.raises(Conflict):
        tables.write(
            path,
            batch,
            mode="cdc",
            keys=["id"],
            committer="ana",
            order_column="seq",
            merge_engine=_Interleaved(cluster, tables, path),
        )
    after = tables.snapshot(path)
    assert after.version == version + 1 and tables.history(path, limit=1)[0].operation == "APPEND"
    assert after.num_rows == ROWS + 10
    assert set(path.glob("*.parquet")) == on_disk | {Path(f) for f in after.files}


def test_workers_import_no_lakehold(tmp_path: Path, cluster: ClusterOptions) -> None:
    tables = DeltaTables(tmp_path / "warehouse")
    path = tables.path_for("p", "t")
    several_files(tables, path)
    done = tables.write(
        path,
        cdc_batch(touched=ROWS).drop_columns(["seq"]),
        mode="cdc",
        keys=["id"],
        committer="ana",
        merge_engine=RayMerge(cluster, tables.root),
    )
    assert done.engine == "ray"
    probe = ray_client.remote(probes.loaded, num_cpus=1)
    assert ray.get([probe.remote() for _ in range(8)]) == [[]] * 8


# -- through the table service, the API and both metadata stores -------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str, ray_address: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        ray_address=ray_address,
        ray_threshold_bytes=100_000,
        ray_task_memory_limit="256MB",
    )


@pytest.fixture
def owner(runtime: Runtime, admin: Principal) -> Principal:
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(admin, "sales", "Sales")
    runtime.table_service.create_table(
        admin, "sales", "orders", DataSource(rows(0, ROWS // FILES)), keys=["id"]
    )
    for index in range(1, FILES):
        batch = rows(index * ROWS // FILES, (index + 1) * ROWS // FILES)
        runtime.table_service.write(admin, "sales", "orders", DataSource(batch), mode="append")
    return admin


def test_the_service_routes_table_jobs_to_the_cluster(runtime: Runtime, owner: Principal) -> None:
    service = runtime.table_service
    batch = cdc_batch(touched=ROWS).drop_columns(["seq"])
    outcome = service.write(owner, "sales", "orders", DataSource(batch), mode="cdc", engine="ray")
    assert outcome.result.engine == "ray" and outcome.result.rows_inserted == 500
    assert outcome.asset.row_count == outcome.result.snapshot.num_rows
    assert outcome.asset.current_version == outcome.result.version

    small = pa.table({"id": [1], "name": ["small"], "op": ["U"]})  # under the threshold
    outcome = service.write(owner, "sales", "orders", DataSource(small), mode="cdc")
    assert outcome.result.engine == "duckdb" and outcome.result.rows_updated == 1

    appended = service.write(
        owner,
        "sales",
        "orders",
        DataSource(rows(ROWS * 2, ROWS * 2 + 5)),
        mode="append",
        engine="ray",
    )
    assert appended.result.engine == "duckdb" and "append" in (appended.result.engine_note or "")

    metrics = service.optimize(owner, "sales", "orders")  # the table is above the threshold
    assert metrics["engine"] == "ray" and metrics["files_added"] == 1
    history = service.history(owner, "sales", "orders", limit=4)
    assert [h.operation for h in history] == ["OPTIMIZE", "APPEND", "CDC MERGE", "CDC MERGE"]


def test_the_ray_engine_needs_a_cluster(tmp_path: Path, database_url: str) -> None:
    runtime = Runtime(Settings(home=tmp_path / "plain", database_url=database_url))
    try:
        admin = runtime.security.authenticate(runtime.security.bootstrap()[1])
        runtime.catalog.create_domain(admin, "Sales")
        runtime.catalog.create_project(admin, "sales", "Sales")
        data = DataSource(rows(0, 10))
        runtime.table_service.create_table(admin, "sales", "orders", data, keys=["id"])
        with pytest.raises(Invalid) as refused:
            runtime.table_service.write(admin, "sales", "orders", data, mode="merge", engine="ray")
        assert refused.value.details["field"] == "engine"
        assert "LAKEHOLD_RAY_ADDRESS" in refused.value.message
        plain = runtime.table_service.write(admin, "sales", "orders", data, mode="merge")
        assert plain.result.engine == "duckdb"
    finally:
        runtime.close()


def test_the_api_takes_an_engine(client, owner: Principal) -> None:
    batch = cdc_batch(touched=ROWS).drop_columns(["seq"])
    sink = pa.BufferOutputStream()
    pyarrow.csv.write_csv(batch, sink)
    response = client.post(
        "/api/v1/projects/sales/tables/orders/writes",
        data={"mode": "cdc", "engine": "ray"},
        files={"file": ("changes.csv", sink.getvalue().to_pybytes())},
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["engine"] == "ray"
    refused = client.post(
        "/api/v1/projects/sales/tables/orders/writes",
        data={"mode": "cdc", "engine": "spark"},
        files={"file": ("changes.csv", sink.getvalue().to_pybytes())},
    )
    assert refused.status_code in (400, 422)
    optimized = client.post("/api/v1/projects/sales/tables/orders/optimize?engine=ray")
    assert optimized.status_code == 200 and optimized.json()["engine"] == "ray"


def test_the_cli_takes_an_engine(tmp_path: Path, database_url: str, ray_address: str) -> None:
    env = {
        "LAKEHOLD_HOME": str(tmp_path / "cli"),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_TOKEN": "",
        "LAKEHOLD_RAY_ADDRESS": ray_address,
        "COLUMNS": "200",
    }

    def cli(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    cli("domain", "create", "Insurance")
    cli("project", "create", "insurance", "--domain", "Insurance")
    policies = str(SCENARIOS / "insurance_full_load.csv")
    cli("table", "create", "insurance.policies", policies, "--key", "policy_id")
    changes = str(SCENARIOS / "insurance_cdc_1.csv")
    out = cli("table", "write", "insurance.policies", changes, "--mode", "cdc", "--engine", "ray")
    assert "27 rows" in out and "ran on the Ray cluster" in out
    assert (
        json.loads(cli("table", "optimize", "insurance.policies", "--engine", "ray"))["engine"]
        == "ray"
    )


def test_a_failed_task_leaves_the_table_and_its_folder_as_they_were(
    tmp_path: Path, ray_address: str
) -> None:
    tables = DeltaTables(tmp_path / "warehouse")
    path = tables.path_for("p", "t")
    several_files(tables, path)
    before, on_disk = tables.snapshot(path), set(path.glob("*.parquet"))
    starved = ClusterOptions(ray_address, memory_limit="1MB")  # DuckDB runs out of memory
    with pytest.raises(Invalid, match=r"more memory .* nothing was committed"):
        tables.write(
            path,
            cdc_batch(touched=ROWS).drop_columns(["seq"]),
            mode="cdc",
            keys=["id"],
            committer="ana",
            merge_engine=RayMerge(starved, tables.root),
        )
    assert tables.snapshot(path).version == before.version
    assert set(path.glob("*.parquet")) == on_disk
    assert not any((tables.root / ".staging").iterdir())


def test_a_floating_point_key_merges_in_process(tmp_path: Path, cluster: ClusterOptions) -> None:
    """DuckDB's join matches NaN to NaN and its sort turns -0.0 into 0.0; delta-rs does
    neither: such keys merge in process, and the result says why."""
    tables = DeltaTables(tmp_path / "warehouse")
    path = tables.path_for("p", "floats")
    start = pa.table({"k": [0.0, -0.0, float("nan")], "v": [1, 2, 3]})
    tables.create(path, start, committer="setup")
    batch = pa.table({"k": [-0.0, float("nan")], "v": [20, 30]})
    done = tables.write(
        path,
        batch,
        mode="merge",
        keys=["k"],
        committer="ana",
        merge_engine=RayMerge(cluster, tables.root),
    )
    assert done.engine == "duckdb"
    assert "floating-point" in (done.engine_note or "")
