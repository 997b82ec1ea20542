"""Table jobs on a Ray cluster (ADR 40): what they cannot run, their staging, the tasks'
submission, and the one commit that makes their files part of the table.

A job's tasks (:mod:`lakehold.cluster.write_task`, shipped by value: workers import no
Lakehold) write Parquet files with fresh names under the table's folder and return their add
action facts; the coordinator commits them, with the removes of the files they replace, in
one ``create_write_transaction`` against the version the job read (no retry: any commit in
between is a Conflict), with Lakehold's commit metadata. A job that fails deletes the files
its tasks wrote; a crash leaves only files no version references, which vacuum removes.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable
from deltalake.transaction import AddAction, RemoveAction

from lakehold.cluster import ray_client
from lakehold.cluster.ray_errors import cluster_error
from lakehold.cluster.routing import ClusterOptions
from lakehold.lakehouse import file_stats
from lakehold.lakehouse.delta_log import CHANGE_DATA_FEED
from lakehold.lakehouse.file_stats import FileStats

STAGING = ".staging"
"""The warehouse folder holding the staged sources of table jobs (one folder per job)."""
TARGET_FILE_SIZE = 100 << 20
"""Bytes per written file unless the table sets ``delta.targetFileSize`` (delta-rs's default)."""


def unsupported(table: DeltaTable, *, compaction: bool = False) -> str | None:
    """Why a job on ``table`` cannot run on the cluster (it then runs in process), or None.
    A compaction changes no row, so it writes no change data."""
    configuration = table.metadata().configuration
    if table.metadata().partition_columns:
        return "the table is partitioned"
    if not compaction and (configuration.get(CHANGE_DATA_FEED) or "").lower() == "true":
        return "the table records its change data feed (delta-rs writes its change files)"
    if not compaction and (configuration.get("delta.appendOnly") or "").lower() == "true":
        return "the table is append-only"
    if "deletionVectors" in (table.protocol().reader_features or []):
        return "the table has deletion vectors"
    if (configuration.get("delta.columnMapping.mode") or "none") != "none":
        return "the table maps column names"
    return None


@dataclass(frozen=True)
class DataFile:
    """An active data file of the table: its log path, absolute path, size and rows."""

    log_path: str
    path: str
    size: int
    rows: int | None


def data_files(table: DeltaTable, columns: Sequence[str] = ()) -> tuple[list[DataFile], pa.Table]:
    """The table's active files in log order, and their statistics flattened (``min.<c>`` and
    ``max.<c>`` of each of ``columns`` present in the log)."""
    adds = pa.table(table.get_add_actions(flatten=True))
    root = table_folder(table)
    files = [
        DataFile(path, str(root / unquote(path)), size, rows)
        for path, size, rows in zip(
            adds.column("path").to_pylist(),
            adds.column("size_bytes").to_pylist(),
            adds.column("num_records").to_pylist(),
            strict=True,
        )
    ]
    wanted = [f"{side}.{c}" for c in columns for side in ("min", "max")]
    return files, adds.select([name for name in wanted if name in adds.column_names])


def table_folder(table: DeltaTable) -> Path:
    return Path(unquote(urlparse(table.table_uri).path))


def target_file_size(table: DeltaTable) -> int:
    value = table.metadata().configuration.get("delta.targetFileSize")
    return int(value) if value and value.isdigit() else TARGET_FILE_SIZE


def rows_per_file(files: Sequence[DataFile], target_size: int) -> int:
    """How many rows make a file of about ``target_size`` bytes, from the table's files."""
    size = sum(f.size for f in files if f.rows)
    rows = sum(f.rows or 0 for f in files)
    if not rows or not size:
        return 1_000_000
    return max(1, int(target_size / (size / rows)))


@contextmanager
def staging(root: Path) -> Iterator[Path]:
    """A private folder under the warehouse's ``.staging`` (deleted afterwards)."""
    folder = Path(root) / STAGING
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(dir=folder))
    try:
        yield private
    finally:
        shutil.rmtree(private, ignore_errors=True)


def new_prefix() -> str:
    """A fresh file name prefix (``part-<uuid>``) for one task's files."""
    return f"part-{uuid.uuid4()}"


Task = Callable[..., dict[str, Any]]
"""A function of :mod:`lakehold.cluster.write_task`: ``task(job, stats_class) -> result``."""


def run_tasks(
    work: Sequence[tuple[Task, dict[str, Any]]], cluster: ClusterOptions
) -> list[dict[str, Any]]:
    """Run each ``task(job, FileStats)`` on the cluster, all at once; their results in order.
    If one fails, the others are cancelled and every file a job (``folder``, ``prefix``)
    wrote is deleted before the error is raised."""
    if not work:
        return []
    ray = ray_client.connect(cluster.address, cluster.token)
    # the statistics class travels with the tasks, by value as they do
    ray.cloudpickle.register_pickle_by_value(file_stats)
    refs = [ray_client.remote(task, num_cpus=1).remote(job, FileStats) for task, job in work]
    try:
        return list(ray.get(refs))
    except BaseException as error:
        for ref in refs:
            with contextlib.suppress(Exception):  # finished meanwhile, or the cluster is gone
                ray.cancel(ref, force=True)
        with contextlib.suppress(Exception):
            ray.wait(refs, num_returns=len(refs), timeout=30)
        delete_outputs([job for _, job in work])
        if isinstance(error, ray.exceptions.RayError):
            raise cluster_error(
                ray,
                error,
                address=cluster.address,
                running="the table job",
                ending="; nothing was committed",
            ) from None
        raise


def delete_outputs(jobs: Sequence[dict[str, Any]]) -> None:
    """Delete every file the ``jobs`` may have written (their ``prefix`` in ``folder``)."""
    for job in jobs:
        for path in Path(job["folder"]).glob(f"{job['prefix']}-c*.parquet"):
            path.unlink(missing_ok=True)


def add_actions(results: Sequence[dict[str, Any]], *, data_change: bool) -> list[AddAction]:
    now = int(time.time() * 1000)
    return [
        AddAction(f["path"], f["size"], {}, now, data_change, f["stats"])
        for result in results
        for f in result["files"]
    ]


def remove_actions(files: Sequence[DataFile], *, data_change: bool) -> list[RemoveAction]:
    now = int(time.time() * 1000)
    return [RemoveAction(f.log_path, data_change, now, f.size, {}) for f in files]


def commit(
    table: DeltaTable,
    actions: Sequence[AddAction | RemoveAction],
    properties: CommitProperties,
    metrics: dict[str, Any],
) -> None:
    """Commit ``actions`` at the version ``table`` was read at, with Lakehold's commit
    metadata (``properties``) and ``metrics`` (with ``engine: ray``) as the commit's operation
    metrics; a commit made by anyone in between fails it (``CommitFailedError``: no retry).
    ``table`` is then at the version committed."""
    read = table.version()
    metrics = {**metrics, "engine": "ray"}  # the history says where the job ran
    metadata = {**(properties.custom_metadata or {}), "operationMetrics": metrics}
    table.create_write_transaction(
        list(actions),
        mode="append",
        schema=table.schema(),
        commit_properties=CommitProperties(custom_metadata=metadata, max_commit_retries=0),
    )
    table.load_as_version(read + 1)
