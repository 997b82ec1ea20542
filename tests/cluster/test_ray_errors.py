"""Ray's exceptions as Lakehold errors: statements and table jobs are told alike, each message
naming what ran (the real failures on a cluster: tests/cluster/test_table_jobs.py and
test_attacks.py; Ray's memory monitor is not triggered in tests)."""

from __future__ import annotations

import duckdb
import pytest
import ray

from lakehold.cluster.ray_errors import cluster_error
from lakehold.errors import Invalid, SourceUnavailable

ADDRESS = "10.0.0.5:6379"
RUNS = [("the statement", ""), ("the table job", "; nothing was committed")]


def _task_error(cause: Exception) -> Exception:
    """What ``ray.get`` raises for a task that raised ``cause`` on a worker."""
    error: Exception = ray.exceptions.RayTaskError("task", "Traceback ...", cause)
    return error.as_instanceof_cause()


@pytest.mark.parametrize(("running", "ending"), RUNS)
def test_too_little_memory_is_invalid_for_the_engine(running: str, ending: str) -> None:
    for error, limit in (
        (ray.exceptions.OutOfMemoryError("the memory monitor killed the worker"), "a worker"),
        (_task_error(duckdb.OutOfMemoryException("Out of Memory Error: 1MB")), "a task"),
    ):
        told = cluster_error(ray, error, address=ADDRESS, running=running, ending=ending)
        assert isinstance(told, Invalid) and told.details == {"field": "engine"}
        assert told.message.startswith(f"{running} needs more memory than {limit}")
        assert told.message.endswith(ending)


@pytest.mark.parametrize(("running", "ending"), RUNS)
def test_other_failures_name_the_cluster_and_no_path(running: str, ending: str) -> None:
    cancelled = cluster_error(
        ray, ray.exceptions.TaskCancelledError(), address=ADDRESS, running=running, ending=ending
    )
    assert isinstance(cancelled, SourceUnavailable)
    assert (
        cancelled.message
        == f"a task of {running} was cancelled on the Ray cluster at {ADDRESS}{ending}"
    )
    failed = cluster_error(
        ray,
        _task_error(OSError(2, "No such file", "/warehouse/p/t/part-0.parquet")),
        address=ADDRESS,
        running=running,
        ending=ending,
    )
    assert isinstance(failed, SourceUnavailable)
    kind = "RayTaskError(FileNotFoundError)"  # the type's name, never the file's
    assert failed.message == f"{running} failed on the Ray cluster at {ADDRESS} ({kind}){ending}"
