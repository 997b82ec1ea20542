"""Snapshots, time travel, history, restore and maintenance (vacuum, optimize, drop)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pyarrow as pa
import pytest

from lakehold.errors import Invalid, NotFound
from lakehold.lakehouse import DeltaTables


@pytest.fixture
def counter(tables: DeltaTables) -> Path:
    """A table with versions 0, 1 and 2 holding 1, 2 and 3 rows."""
    path = tables.path_for("p", "counter")
    tables.create(path, pa.table({"n": [0]}), committer="ann")
    for n in (1, 2):
        time.sleep(0.01)  # distinct commit timestamps
        tables.write(path, pa.table({"n": [n]}), mode="append", committer="bob")
    return path


def test_snapshot_describes_the_table_from_the_log(tables: DeltaTables, counter: Path) -> None:
    snapshot = tables.snapshot(counter)
    assert snapshot.version == 2
    assert snapshot.num_rows == 3
    assert len(snapshot.files) == 3
    assert all(Path(f).is_absolute() and Path(f).exists() for f in snapshot.files)
    assert snapshot.size_bytes == sum(Path(f).stat().st_size for f in snapshot.files)
    assert snapshot.schema == pa.schema([("n", pa.int64())])
    assert snapshot.timestamp.tzinfo is not None


def test_time_travel_by_version_and_timestamp(tables: DeltaTables, counter: Path) -> None:
    assert tables.snapshot(counter, version=0).num_rows == 1
    assert tables.read(counter, version=1).num_rows == 2
    second = tables.snapshot(counter, version=1)
    assert tables.snapshot(counter, timestamp=second.timestamp).version == 1
    later = second.timestamp + dt.timedelta(microseconds=500)
    assert tables.snapshot(counter, timestamp=later.isoformat()).version == 1
    naive_utc = second.timestamp.replace(tzinfo=None).isoformat()
    assert tables.read(counter, timestamp=naive_utc).num_rows == 2
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert tables.snapshot(counter, timestamp=future).version == 2


def test_time_travel_errors(tables: DeltaTables, counter: Path) -> None:
    with pytest.raises(NotFound, match="no version 7"):
        tables.snapshot(counter, version=7)
    with pytest.raises(NotFound):
        tables.snapshot(counter, version=-1)
    with pytest.raises(NotFound, match="at or before"):
        tables.snapshot(counter, timestamp="2001-01-01T00:00:00Z")
    with pytest.raises(Invalid) as caught:
        tables.snapshot(counter, timestamp="yesterday")
    assert caught.value.details["field"] == "timestamp"
    with pytest.raises(Invalid):
        tables.snapshot(counter, version=0, timestamp="2001-01-01")


def test_missing_table_is_not_found(tables: DeltaTables, tmp_path: Path) -> None:
    for call in (tables.snapshot, tables.history, tables.read, tables.drop):
        with pytest.raises(NotFound):
            call(tmp_path / "nothing")


def test_history_shows_committer_operation_and_metrics(tables: DeltaTables, counter: Path) -> None:
    tables.write(
        counter,
        pa.table({"op": ["D", "I"], "n": [0, 5]}),
        mode="cdc",
        keys=["n"],
        committer="carol",
    )
    entries = tables.history(counter)
    assert [e.version for e in entries] == [3, 2, 1, 0]
    assert [e.operation for e in entries] == ["CDC MERGE", "APPEND", "APPEND", "CREATE"]
    assert [e.committer for e in entries] == ["carol", "bob", "bob", "ann"]
    merge = entries[0].metrics
    assert (merge["rows_inserted"], merge["rows_deleted"], merge["rows_updated"]) == (1, 1, 0)
    assert merge["files_added"] >= 1
    assert entries[-1].metrics["rows_inserted"] == 1
    assert entries[0].timestamp >= entries[-1].timestamp
    assert len(tables.history(counter, limit=2)) == 2


def test_overwrite_history_counts_deleted_rows(tables: DeltaTables, counter: Path) -> None:
    tables.write(counter, pa.table({"n": [9]}), mode="overwrite", committer="dan")
    entry = tables.history(counter, limit=1)[0]
    assert (entry.operation, entry.metrics["rows_deleted"], entry.metrics["rows_inserted"]) == (
        "OVERWRITE",
        3,
        1,
    )


def test_restore(tables: DeltaTables, counter: Path) -> None:
    result = tables.restore(counter, 0, committer="eve")
    assert (result.operation, result.version, result.snapshot.num_rows) == ("RESTORE", 3, 1)
    entry = tables.history(counter, limit=1)[0]
    assert (entry.operation, entry.committer) == ("RESTORE", "eve")
    assert tables.read(counter, version=2).num_rows == 3
    assert tables.restore(counter, 3, committer="eve").version == 3  # already there
    with pytest.raises(NotFound):
        tables.restore(counter, 42, committer="eve")


def test_optimize_compacts_files(tables: DeltaTables, counter: Path) -> None:
    metrics = tables.optimize(counter, committer="ops")
    assert (metrics["files_removed"], metrics["files_added"], metrics["version"]) == (3, 1, 3)
    snapshot = tables.snapshot(counter)
    assert (len(snapshot.files), snapshot.num_rows) == (1, 3)
    assert tables.history(counter, limit=1)[0].committer == "ops"


def test_vacuum_removes_unreferenced_files(tables: DeltaTables, counter: Path) -> None:
    tables.optimize(counter, committer="ops")
    assert tables.vacuum(counter, committer="ops").files == []  # within the default retention
    planned = tables.vacuum(counter, retention_hours=0, dry_run=True, committer="ops").files
    assert len(planned) == 3 and all((counter / f).exists() for f in planned)
    removed = tables.vacuum(counter, retention_hours=0, force=True, committer="ops").files
    assert sorted(removed) == sorted(planned)
    assert not any((counter / f).exists() for f in removed)
    assert tables.read(counter).num_rows == 3
    with pytest.raises(Invalid):
        tables.vacuum(counter, retention_hours=-1, committer="ops")


def test_drop(tables: DeltaTables, counter: Path) -> None:
    tables.drop(counter)
    assert not counter.exists()
    with pytest.raises(NotFound):
        tables.snapshot(counter)


def test_versions_whose_files_were_vacuumed_are_not_found(tables: DeltaTables) -> None:
    path = tables.path_for("p", "short")
    tables.create(path, pa.table({"n": [0]}), committer="ops")
    tables.write(path, pa.table({"n": [1]}), mode="overwrite", committer="ops")
    tables.vacuum(path, retention_hours=0, force=True, committer="ops")
    for call in (tables.read, tables.snapshot):
        with pytest.raises(NotFound, match="vacuum"):
            call(path, version=0)
    assert tables.read(path).column("n").to_pylist() == [1]
