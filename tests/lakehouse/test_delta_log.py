"""Reading one commit of a Delta table's log: its files, change files, time and metadata;
the version at a time; whether the table records its changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehold.errors import Invalid, NotFound
from lakehold.lakehouse import DeltaTables
from lakehold.lakehouse.delta_log import (
    change_data_feed,
    commit_actions,
    log_versions,
    version_at,
)

ROWS = pa.table(
    {"id": pa.array([1, 2, 3], pa.int64()), "region": ["EU", "US", "EU"], "amount": [1.0, 2, 3]}
)


def _table(tables: DeltaTables, *, cdf: bool = True) -> Path:
    path = tables.path_for("p", "orders")
    tables.create(path, ROWS, keys=["id"], committer="ann", change_data_feed=cdf)
    return path


def test_a_commit_lists_its_adds_removes_and_change_files(tables: DeltaTables) -> None:
    path = _table(tables)
    tables.write(
        path,
        pa.table({"id": pa.array([4], pa.int64()), "region": ["US"], "amount": [4.0]}),
        mode="append",
        committer="ann",
    )
    changes = pa.table(
        {"id": pa.array([2, 5], pa.int64()), "region": ["EU", "EU"], "amount": [2.5, 5]}
    )
    tables.write(path, changes, mode="merge", keys=["id"], committer="bob")

    created = commit_actions(path, 0)
    assert created.version == 0 and created.metadata_changed
    assert len(created.adds) == 1 and not created.removes and not created.cdc
    assert json.loads(created.adds[0].stats or "{}")["numRecords"] == 3
    assert created.info["lakehold.committer"] == "ann"

    appended = commit_actions(path, 1)
    assert not appended.metadata_changed and len(appended.adds) == 1 and not appended.removes
    assert appended.adds[0].data_change and appended.adds[0].size

    merged = commit_actions(path, 2)
    assert merged.info["operation"] == "MERGE" and merged.info["lakehold.keys"] == '["id"]'
    assert merged.removes[0].path == created.adds[0].path
    assert len(merged.cdc) == 1 and merged.cdc[0].path.startswith("_change_data/")
    assert not merged.cdc[0].data_change
    assert (path / merged.cdc[0].path).is_file()
    history = {entry.version: entry.timestamp for entry in tables.history(path)}
    assert merged.timestamp_ms == int(history[2].timestamp() * 1000)


def test_paths_are_url_decoded_and_partition_values_kept(tmp_path: Path) -> None:
    path = tmp_path / "parts"
    data = pa.table({"id": [1, 2], "region": ["E U", "U=S"]})
    write_deltalake(str(path), data, partition_by=["region"])

    adds = commit_actions(path, 0).adds
    assert {a.partition_values["region"] for a in adds} == {"E U", "U=S"}
    for add in adds:
        assert (path / add.path).is_file()  # decoded: the file's relative path on disk
    assert {str(path / a.path) for a in adds} == set(DeltaTable(str(path)).file_uris())


def test_a_commit_gone_from_the_log_is_not_found(tables: DeltaTables) -> None:
    path = _table(tables)
    with pytest.raises(NotFound):
        commit_actions(path, 1)
    tables.write(path, ROWS.slice(0, 1), mode="overwrite", committer="ann")
    DeltaTable(str(path)).create_checkpoint()
    (path / "_delta_log" / f"{0:020d}.json").unlink()  # as a log clean-up does
    with pytest.raises(NotFound):
        commit_actions(path, 0)
    assert log_versions(path) == [1]
    assert commit_actions(path, 1).removes


def test_the_time_of_a_commit_without_commit_info_is_its_files(tables: DeltaTables) -> None:
    path = _table(tables)
    entry = path / "_delta_log" / f"{0:020d}.json"
    lines = [line for line in entry.read_text().splitlines() if "commitInfo" not in line]
    entry.write_text("\n".join(lines) + "\n")
    os.utime(entry, (1_700_000_000, 1_700_000_000))
    assert commit_actions(path, 0).timestamp_ms == 1_700_000_000_000
    assert commit_actions(path, 0).info == {}


def test_version_at_a_time(tables: DeltaTables) -> None:
    path = _table(tables)
    for _ in range(3):
        tables.write(path, ROWS, mode="overwrite", committer="ann")
    times = [commit_actions(path, v).timestamp_ms for v in range(4)]
    for version, moment in enumerate(times):
        assert version_at(path, moment) == version
    assert version_at(path, times[3] + 60_000) == 3
    if times[2] > times[1] + 1:
        assert version_at(path, times[2] - 1) == 1
    with pytest.raises(Invalid) as refused:
        version_at(path, times[0] - 1)
    assert refused.value.details["field"] == "timestamp"


def test_change_data_feed_is_a_table_property(tables: DeltaTables) -> None:
    with_changes = _table(tables)
    without = tables.path_for("p", "plain")
    tables.create(without, ROWS, keys=["id"], committer="ann")
    assert change_data_feed(with_changes) and not change_data_feed(without)
    # the property survives a schema change that rewrites the table
    wider = ROWS.append_column("note", pa.array(["a", "b", "c"]))
    tables.write(with_changes, wider, mode="overwrite", replace_schema=True, committer="ann")
    assert change_data_feed(with_changes)


def test_change_data_feed_writes_change_files_for_merge_delete_and_update(
    tables: DeltaTables,
) -> None:
    path = _table(tables)
    cdc = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "region": ["EU", "EU"],
            "amount": [0.0, 9],
            "op": ["D", "U"],
        }
    )
    tables.write(path, cdc, mode="cdc", keys=["id"], committer="ann")
    DeltaTable(str(path)).delete("id = 3")
    DeltaTable(str(path)).update({"amount": "10.0"}, predicate="id = 2")
    for version in (1, 2, 3):
        assert commit_actions(path, version).cdc, f"version {version} has no change files"
    plain = _table_without_cdf(tables)
    tables.write(plain, cdc, mode="cdc", keys=["id"], committer="ann")
    assert not commit_actions(plain, 1).cdc


def _table_without_cdf(tables: DeltaTables) -> Path:
    path = tables.path_for("p", "plain")
    tables.create(path, ROWS, keys=["id"], committer="ann")
    return path


def test_a_deletion_vector_is_refused(tables: DeltaTables) -> None:
    path = _table(tables)
    entry = path / "_delta_log" / f"{0:020d}.json"
    lines = []
    for line in entry.read_text().splitlines():
        action = json.loads(line)
        if "add" in action:
            action["add"]["deletionVector"] = {"storageType": "i", "pathOrInlineDv": "x"}
        lines.append(json.dumps(action))
    entry.write_text("\n".join(lines) + "\n")
    with pytest.raises(Invalid, match="deletion vectors"):
        commit_actions(path, 0)


def test_not_a_table(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        commit_actions(tmp_path, 0)
    with pytest.raises(NotFound):
        version_at(tmp_path, 0)
    with pytest.raises(NotFound):
        change_data_feed(tmp_path)
