"""Filtered snapshots: a recipient's Delta copy of the granted columns and rows of a source
table, refreshed commit by commit.

Every snapshot version is compared row for row with DuckDB applying the same projection and
filter to the source at the source version it reflects; every Parquet file ever written under
a snapshot (removed copies and change copies included) is scanned for ungranted columns and
rows.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehold.errors import Invalid
from lakehold.lakehouse import DeltaTables
from lakehold.lakehouse.delta_log import commit_actions
from lakehold.lakehouse.filtered_snapshots import (
    SnapshotSpec,
    refresh,
    remove,
    source_version,
    source_versions,
)

GRANTED = ("id", "region", "amount")
EU = "region = 'EU'"
BASE = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "region": ["EU", "US", "EU", "US"],
        "amount": [10.0, 20.0, 30.0, 40.0],
        "secret": ["SECRET-1", "SECRET-2", "SECRET-3", "SECRET-4"],
    }
)


def rows(*values: tuple[Any, ...], note: bool = False) -> pa.Table:
    """Rows of (id, region, amount[, note]); the secret column derives from the id."""
    columns: dict[str, Any] = {
        "id": pa.array([v[0] for v in values], pa.int64()),
        "region": [v[1] for v in values],
        "amount": [float(v[2]) for v in values],
        "secret": [f"SECRET-{v[0]}" for v in values],
    }
    if note:
        columns["note"] = [v[3] for v in values]
    return pa.table(columns)


def granted(source: Path, version: int, columns: tuple[str, ...] | None, row_filter: str | None):
    """The oracle: DuckDB applying the projection and filter to the source at ``version``."""
    data = DeltaTable(str(source), version=version).to_pyarrow_table()
    names = [c for c in data.column_names if columns is None or c in columns]
    select = ", ".join(f'"{c}"' for c in names)
    where = f"COALESCE(({row_filter}), false)" if row_filter else "true"
    return duckdb.sql(f"SELECT {select} FROM data WHERE {where}").to_arrow_table()


def ordered(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)


def assert_history_matches(spec: SnapshotSpec) -> dict[int, int]:
    """Every snapshot version equals the oracle at the source version it reflects."""
    versions = source_versions(spec.target)
    assert sorted(versions) == list(range(len(versions)))
    for version, at in versions.items():
        snapshot = DeltaTable(str(spec.target), version=version).to_pyarrow_table()
        expected = granted(spec.source, at, spec.columns, spec.row_filter)
        assert snapshot.column_names == expected.column_names, (version, at)
        assert ordered(snapshot) == ordered(expected), (version, at)
    return versions


def assert_nothing_ungranted(target: Path, columns: tuple[str, ...], check: str) -> int:
    """No file under the snapshot has an ungranted column or a row failing ``check``; the
    log holds no secret either. Returns the number of Parquet files scanned."""
    files = sorted(target.rglob("*.parquet"))
    for file in files:
        names = pq.read_schema(file).names
        assert set(names) <= {*columns, "_change_type"}, (file, names)
        failing = duckdb.execute(
            f"SELECT count(*) FROM read_parquet(?) WHERE NOT COALESCE(({check}), false)",
            [str(file)],
        ).fetchone()
        assert failing == (0,), file
    for file in target.rglob("*"):
        if file.is_file():
            assert b"SECRET" not in file.read_bytes(), file
    return len(files)


@pytest.fixture
def source(tables: DeltaTables) -> Path:
    path = tables.path_for("sales", "orders")
    tables.create(path, BASE, keys=["id"], committer="ann", change_data_feed=True)
    return path


def latest(path: Path) -> int:
    return DeltaTable(str(path)).version()


def cdc_rows(target: Path, version: int) -> list[tuple[Any, ...]]:
    files = commit_actions(target, version).cdc
    found: list[tuple[Any, ...]] = []
    for file in files:
        found.extend(tuple(r.values()) for r in pq.read_table(target / file.path).to_pylist())
    return sorted(found, key=repr)


# -- the life of a snapshot -------------------------------------------------------------------


def write_story(tables: DeltaTables, source: Path) -> None:
    """Versions 1..6 of the source: append, merge (rows moving in and out of EU), CDC delete,
    a merge adding a column, an append of US rows only, an overwrite."""
    tables.write(source, rows((5, "EU", 50), (6, "US", 60)), mode="append", committer="ann")
    merge = rows((1, "EU", 11), (2, "EU", 21), (3, "US", 31), (7, "US", 70), (8, "EU", 80))
    tables.write(source, merge, mode="merge", keys=["id"], committer="ann")
    deletes = rows((5, "EU", 0), (6, "US", 0)).append_column("op", pa.array(["D", "D"]))
    tables.write(source, deletes, mode="cdc", keys=["id"], committer="ann")
    noted = rows((8, "EU", 81, "n8"), note=True)
    tables.write(source, noted, mode="merge", keys=["id"], committer="ann")
    tables.write(source, rows((9, "US", 90, "n9"), note=True), mode="append", committer="ann")
    final = rows((10, "EU", 100, "n10"), (11, "US", 110, "n11"), note=True)
    tables.write(source, final, mode="overwrite", committer="ann")


def test_each_source_commit_becomes_one_snapshot_commit(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    first = refresh(spec, up_to=0)
    assert (first.source_version, first.version, first.commits) == (0, 0, 1)
    assert first.rows_written == 2 and first.files_added == 1

    write_story(tables, source)
    for version in range(1, latest(source) + 1):
        result = refresh(spec, up_to=version)
        assert result.source_version == version
        assert_history_matches(spec)

    # v5 appended US rows only: no snapshot commit, but the snapshot reflects it
    assert source_versions(spec.target) == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6}
    assert source_version(spec.target) == 6
    assert not (spec.target / "note").exists()
    assert DeltaTable(str(spec.target)).schema().to_arrow().names == list(GRANTED)
    assert assert_nothing_ungranted(spec.target, GRANTED, EU) >= 7


def test_one_refresh_over_many_commits_gives_the_same_history(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    stepwise = SnapshotSpec(source, tmp_path / "shares" / "step", GRANTED, EU)
    refresh(stepwise, up_to=0)
    write_story(tables, source)
    at_once = SnapshotSpec(source, tmp_path / "shares" / "once", GRANTED, EU)
    refresh(at_once, up_to=0)
    result = refresh(at_once, up_to=latest(source))
    assert (result.commits, result.version, result.source_version) == (5, 5, 6)
    assert assert_history_matches(at_once) == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6}
    for version in range(latest(source) + 1):
        refresh(stepwise, up_to=version)
    for version in range(6):  # the same files, version by version
        a = commit_actions(at_once.target, version)
        b = commit_actions(stepwise.target, version)
        assert [x.path for x in a.adds] == [x.path for x in b.adds]
        assert [x.path for x in a.removes] == [x.path for x in b.removes]


def test_changes_of_granted_rows_are_copied_with_updates_crossing_the_filter(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    write_story(tables, source)
    refresh(spec, up_to=latest(source))

    assert commit_actions(spec.target, 1).cdc == ()  # an append: its adds are the inserts
    assert cdc_rows(spec.target, 2) == sorted(
        [
            (1, "EU", 10.0, "update_preimage"),
            (1, "EU", 11.0, "update_postimage"),
            (2, "EU", 21.0, "insert"),  # US -> EU: enters the granted rows
            (3, "EU", 30.0, "delete"),  # EU -> US: leaves them
            (8, "EU", 80.0, "insert"),
        ],
        key=repr,
    )
    assert cdc_rows(spec.target, 3) == [(5, "EU", 50.0, "delete")]  # not the US delete
    assert cdc_rows(spec.target, 4) == sorted(
        [(8, "EU", 80.0, "update_preimage"), (8, "EU", 81.0, "update_postimage")], key=repr
    )
    change = commit_actions(spec.target, 2)
    assert all(f.path.startswith("_lakehold_cdc/") and f.size for f in change.cdc)
    assert all(a.data_change for a in change.adds)


def test_a_change_of_ungranted_rows_only_rewrites_files_without_data_change(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    tables.write(source, rows((2, "US", 22)), mode="merge", keys=["id"], committer="ann")
    result = refresh(spec, up_to=1)
    assert (result.commits, result.files_added, result.files_removed) == (1, 1, 1)
    change = commit_actions(spec.target, 1)
    assert change.cdc == ()
    assert not any(a.data_change for a in change.adds)
    assert not any(r.data_change for r in change.removes)
    assert_history_matches(spec)


def test_rows_that_are_not_granted_make_no_commit(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    for n in range(3):
        tables.write(source, rows((100 + n, "US", 1)), mode="append", committer="ann")
    result = refresh(spec, up_to=3)
    assert (result.commits, result.version, result.source_version) == (0, 0, 3)
    assert source_version(spec.target) == 3
    again = refresh(spec, up_to=3)  # remembered: nothing read again
    assert (again.commits, again.source_version) == (0, 3)
    tables.write(source, rows((200, "EU", 1)), mode="append", committer="ann")
    result = refresh(spec, up_to=4)
    assert (result.commits, result.version) == (1, 1)
    assert source_versions(spec.target) == {0: 0, 1: 4}
    assert_history_matches(spec)


# -- schema changes, overwrites, spec changes ---------------------------------------------------


def test_every_column_granted_rebuilds_on_a_schema_change(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "all", None, EU)
    refresh(spec, up_to=0)
    write_story(tables, source)
    refresh(spec, up_to=latest(source))
    versions = assert_history_matches(spec)
    assert versions == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6}
    rebuilt = commit_actions(spec.target, 4)
    assert rebuilt.metadata_changed and rebuilt.info["lakehold.operation"] == "SNAPSHOT REBUILD"
    assert "note" in DeltaTable(str(spec.target)).schema().to_arrow().names
    before = set(
        pa.table(DeltaTable(str(spec.target), version=3).get_add_actions())["path"].to_pylist()
    )
    assert {r.path for r in rebuilt.removes} == before  # every copy replaced
    columns = ("id", "region", "amount", "secret", "note")
    files = list(spec.target.rglob("*.parquet"))
    for file in files:  # rows only: every column is granted
        assert set(pq.read_schema(file).names) <= {*columns, "_change_type"}


def test_a_type_change_rebuilds(tables: DeltaTables, source: Path, tmp_path: Path) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    wider = pa.table(
        {"id": pa.array([1, 2], pa.int64()), "region": ["EU", "US"], "amount": ["1.5", "x"]}
    )
    tables.write(source, wider, mode="overwrite", replace_schema=True, committer="ann")
    result = refresh(spec, up_to=1)
    assert result.commits == 1
    assert DeltaTable(str(spec.target)).schema().to_arrow().field("amount").type == pa.string()
    assert_history_matches(spec)


def test_an_overwrite_replaces_every_copy(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    tables.write(source, rows((1, "EU", 5)), mode="append", committer="ann")
    refresh(spec, up_to=1)
    tables.write(source, rows((9, "EU", 9), (10, "US", 10)), mode="overwrite", committer="ann")
    result = refresh(spec, up_to=2)
    assert (result.commits, result.files_removed, result.files_added) == (1, 2, 1)
    assert_history_matches(spec)


def test_a_new_spec_rebuilds_the_snapshot(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    target = tmp_path / "shares" / "r1"
    refresh(SnapshotSpec(source, target, GRANTED, EU), up_to=0)
    narrower = SnapshotSpec(source, target, ("id", "amount"), "amount >= 20")
    result = refresh(narrower, up_to=0)
    assert (result.commits, result.version, result.source_version) == (1, 1, 0)
    current = DeltaTable(str(target)).to_pyarrow_table()
    assert ordered(current) == ordered(granted(source, 0, ("id", "amount"), "amount >= 20"))
    assert len(list(target.glob("*.parquet"))) == 2  # the old copy stays for version 0


def test_listed_columns_never_gain_new_source_columns(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", ("id", "amount"), EU)
    refresh(spec, up_to=0)
    tables.write(
        source, rows((8, "EU", 81, "n8"), note=True), mode="merge", keys=["id"], committer="a"
    )
    result = refresh(spec, up_to=1)
    assert result.commits == 1 and not commit_actions(spec.target, 1).metadata_changed
    assert DeltaTable(str(spec.target)).schema().to_arrow().names == ["id", "amount"]
    assert_history_matches(spec)
    ids = duckdb.sql(  # the filter's column is not granted: check by id (ids 1, 3, 8 are EU)
        f"SELECT DISTINCT id FROM read_parquet({[str(f) for f in spec.target.rglob('*.parquet')]})"
    ).fetchall()
    assert {i for (i,) in ids} <= {1, 3, 8}


# -- partitioned sources --------------------------------------------------------------------------


def test_a_partitioned_source(tmp_path: Path) -> None:
    source = tmp_path / "parts"
    data = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "region": ["E U", "US", "E U", None],
            "day": pa.array([1, 1, 2, 2], pa.int32()),
            "secret": ["SECRET-a", "SECRET-b", "SECRET-c", "SECRET-d"],
        }
    )
    write_deltalake(str(source), data, partition_by=["region", "day"])
    spec = SnapshotSpec(
        source, tmp_path / "shares" / "r1", ("id", "region", "day"), "region = 'E U'"
    )
    refresh(spec, up_to=0)
    more = pa.table(
        {
            "id": pa.array([5], pa.int64()),
            "region": ["E U"],
            "day": pa.array([3], pa.int32()),
            "secret": ["SECRET-e"],
        }
    )
    write_deltalake(str(source), more, mode="append", partition_by=["region", "day"])
    DeltaTable(str(source)).delete("day = 1")
    refresh(spec, up_to=2)
    assert assert_history_matches(spec) == {0: 0, 1: 1, 2: 2}
    assert ordered(DeltaTable(str(spec.target)).to_pyarrow_table()) == [
        (3, "E U", 2),
        (5, "E U", 3),
    ]
    assert_nothing_ungranted(spec.target, ("id", "region", "day"), "region = 'E U'")
    # the partition column need not be granted to filter on it
    hidden = SnapshotSpec(source, tmp_path / "shares" / "r2", ("id",), "region = 'E U' AND day > 2")
    refresh(hidden, up_to=2)
    assert DeltaTable(str(hidden.target)).to_pyarrow_table().to_pylist() == [{"id": 5}]


def test_commits_gone_from_the_source_log_are_caught_up_in_one_commit(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    write_story(tables, source)
    DeltaTable(str(source)).create_checkpoint()
    for version in range(1, latest(source)):  # as a log clean-up does
        (source / "_delta_log" / f"{version:020d}.json").unlink()
    result = refresh(spec, up_to=latest(source))
    assert (result.commits, result.version, result.source_version) == (1, 1, 6)
    assert commit_actions(spec.target, 1).info["lakehold.operation"] == "SNAPSHOT SYNC"
    assert assert_history_matches(spec) == {0: 0, 1: 6}


# -- statistics, refusals --------------------------------------------------------------------------


def test_copies_carry_their_statistics(source: Path, tmp_path: Path) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    (add,) = commit_actions(spec.target, 0).adds
    stats = json.loads(add.stats or "{}")
    assert stats == {
        "numRecords": 2,
        "minValues": {"id": 1, "region": "EU", "amount": 10.0},
        "maxValues": {"id": 3, "region": "EU", "amount": 30.0},
        "nullCount": {"id": 0, "region": 0, "amount": 0},
    }
    footer = pq.ParquetFile(spec.target / add.path).metadata.row_group(0).column(0).statistics
    assert footer is not None and (footer.min, footer.max) == (1, 3)


def test_refusals(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "shares" / "r1"
    with pytest.raises(Invalid) as refused:
        refresh(SnapshotSpec(source, target, GRANTED, EU), up_to=1)
    assert refused.value.details["field"] == "up_to"
    with pytest.raises(Invalid) as refused:
        refresh(SnapshotSpec(source, target, ("id", "nope"), EU), up_to=0)
    assert refused.value.details["field"] == "columns"
    with pytest.raises(Invalid) as refused:
        refresh(SnapshotSpec(source, target, GRANTED, "nope = 1"), up_to=0)
    assert refused.value.details["field"] == "row_filter"
    reading = "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0"
    with pytest.raises(Invalid) as refused:
        refresh(SnapshotSpec(source, target, GRANTED, reading), up_to=0)
    assert refused.value.details["field"] == "row_filter"
    converting = "CAST(region AS INTEGER) > 0"
    with pytest.raises(Invalid) as refused:
        refresh(SnapshotSpec(source, target, GRANTED, converting), up_to=0)
    assert refused.value.details["field"] == "row_filter"
    assert "SECRET" not in refused.value.message and "EU" not in refused.value.message
    assert not DeltaTable.is_deltatable(str(target))
    assert not [f for f in target.rglob("*") if f.is_file()]  # no copy left behind
    with pytest.raises(Invalid) as refused:
        refresh(SnapshotSpec(source, source, GRANTED, EU), up_to=0)  # not a snapshot
    assert refused.value.details["field"] == "target"


# -- crashes, repeats, concurrency, removal --------------------------------------------------------

_CHILD = """
import os, signal, sys
from pathlib import Path
from lakehold.lakehouse import filtered_snapshots as fs

source, target, up_to, crash_at, when = sys.argv[1:]
original, calls = fs._Refresh._write, [0]

def dying(self, *args, **kwargs):
    calls[0] += 1
    if calls[0] == int(crash_at) and when == "before":  # copies written, no commit
        os.kill(os.getpid(), signal.SIGKILL)
    original(self, *args, **kwargs)
    if calls[0] == int(crash_at) and when == "after":  # committed, progress not saved
        os.kill(os.getpid(), signal.SIGKILL)

fs._Refresh._write = dying
spec = fs.SnapshotSpec(Path(source), Path(target), ("id", "region", "amount"), "region = 'EU'")
fs.refresh(spec, up_to=int(up_to))
"""


def _refresh_in_child(spec: SnapshotSpec, up_to: int, crash_at: int, when: str) -> int:
    arguments = [str(spec.source), str(spec.target), str(up_to), str(crash_at), when]
    done = subprocess.run([sys.executable, "-c", _CHILD, *arguments], timeout=120, check=False)
    return done.returncode


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_killed_refresh_resumes_exactly(
    tables: DeltaTables, source: Path, tmp_path: Path, when: str
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    write_story(tables, source)
    assert _refresh_in_child(spec, latest(source), 3, when) == -signal.SIGKILL
    committed = source_versions(spec.target)
    assert committed == ({0: 0, 1: 1, 2: 2} if when == "before" else {0: 0, 1: 1, 2: 2, 3: 3})
    result = refresh(spec, up_to=latest(source))
    assert result.source_version == 6
    assert assert_history_matches(spec) == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6}
    clean = SnapshotSpec(source, tmp_path / "shares" / "clean", GRANTED, EU)
    refresh(clean, up_to=0)
    refresh(clean, up_to=latest(source))
    for version in range(6):  # the same files as a refresh that never stopped
        a, b = commit_actions(spec.target, version), commit_actions(clean.target, version)
        assert sorted(x.path for x in a.adds) == sorted(x.path for x in b.adds)
        assert sorted(x.path for x in a.removes) == sorted(x.path for x in b.removes)
        assert [x.path for x in a.cdc] == [x.path for x in b.cdc]
    assert assert_nothing_ungranted(spec.target, GRANTED, EU)


def test_a_killed_first_refresh_is_created_again(source: Path, tmp_path: Path) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    child = _CHILD.replace(
        "fs._Refresh._write = dying",
        "fs.create_table_with_add_actions = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)",
    )
    arguments = [str(spec.source), str(spec.target), "0", "1", "before"]
    done = subprocess.run([sys.executable, "-c", child, *arguments], timeout=120, check=False)
    assert done.returncode == -signal.SIGKILL
    assert list(spec.target.glob("*.parquet")) and not DeltaTable.is_deltatable(str(spec.target))
    assert refresh(spec, up_to=0).commits == 1
    assert_history_matches(spec)


def test_a_repeated_refresh_changes_nothing(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    write_story(tables, source)
    refresh(spec, up_to=4)
    for up_to in (4, 2, 0):
        result = refresh(spec, up_to=up_to)
        assert (result.commits, result.version, result.source_version) == (0, 4, 4)
    assert assert_history_matches(spec) == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4}


def test_concurrent_refreshes_make_one_history(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    write_story(tables, source)
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    script = (
        "import sys; from pathlib import Path; from lakehold.lakehouse import filtered_snapshots "
        "as fs; fs.refresh(fs.SnapshotSpec(Path(sys.argv[1]), Path(sys.argv[2]), "
        "('id', 'region', 'amount'), \"region = 'EU'\"), up_to=int(sys.argv[3]))"
    )
    children = [
        subprocess.Popen([sys.executable, "-c", script, str(source), str(spec.target), str(v)])
        for v in (6, 3, 6)
    ]
    errors: list[BaseException] = []

    def run(up_to: int) -> None:
        try:
            refresh(spec, up_to=up_to)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(v,)) for v in (2, 6, 4, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [child.wait(timeout=120) for child in children] == [0, 0, 0]
    assert not errors
    assert assert_history_matches(spec) == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6}


def test_remove_deletes_the_snapshot(source: Path, tmp_path: Path) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    remove(spec.target)
    assert not spec.target.exists()
    assert not list((tmp_path / "shares").iterdir())  # the lock file went too
    remove(spec.target)  # nothing left: nothing to do
    assert source_version(spec.target) is None
    assert refresh(spec, up_to=0).commits == 1


def test_an_empty_source_and_changes_without_keys(tmp_path: Path) -> None:
    source = tmp_path / "plain"
    empty = pa.table({"id": pa.array([], pa.int64()), "region": pa.array([], pa.string())})
    write_deltalake(str(source), empty, configuration={"delta.enableChangeDataFeed": "true"})
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", None, EU)
    assert refresh(spec, up_to=0).files_added == 0
    data = pa.table({"id": pa.array([1, 2], pa.int64()), "region": ["EU", "EU"]})
    write_deltalake(str(source), data, mode="append")
    DeltaTable(str(source)).update({"region": "'US'"}, predicate="id = 1")  # no keys recorded
    refresh(spec, up_to=2)
    assert assert_history_matches(spec) == {0: 0, 1: 1, 2: 2}
    # without keys, each image stands alone: the row that left shows its pre-image only
    assert cdc_rows(spec.target, 2) == [(1, "EU", "update_preimage")]


def test_a_snapshot_whose_source_version_left_the_log_catches_up(
    tables: DeltaTables, source: Path, tmp_path: Path
) -> None:
    spec = SnapshotSpec(source, tmp_path / "shares" / "r1", GRANTED, EU)
    refresh(spec, up_to=0)
    for n in range(3):
        tables.write(source, rows((20 + n, "EU", n)), mode="append", committer="ann")
    DeltaTable(str(source)).create_checkpoint()
    for version in range(3):
        (source / "_delta_log" / f"{version:020d}.json").unlink()
    result = refresh(spec, up_to=3)
    assert (result.commits, result.files_added, result.files_removed) == (1, 3, 0)
    assert source_versions(spec.target) == {0: 0, 1: 3}
    snapshot = DeltaTable(str(spec.target)).to_pyarrow_table()
    assert ordered(snapshot) == ordered(granted(source, 3, GRANTED, EU))
