"""Ray's exceptions as the Lakehold errors the coordinator's caller is told, for statements
(:mod:`lakehold.cluster.gather`) and table jobs (:mod:`lakehold.cluster.table_jobs`) alike;
the messages name what was running.

A task's own error that its caller words better is handled there first: a statement's DuckDB
error becomes the single-process engine's error, in the names the user wrote.
"""

from __future__ import annotations

import logging
from types import ModuleType

import duckdb

from lakehold.errors import Invalid, LakeholdError, SourceUnavailable

log = logging.getLogger(__name__)


def cluster_error(
    ray: ModuleType, error: Exception, *, address: str, running: str, ending: str = ""
) -> LakeholdError:
    """``error``, raised by Ray while ``running`` (``"the statement"``, ``"the table job"``)
    ran on the cluster at ``address``: too little memory is Invalid (field ``engine``), any
    other failure SourceUnavailable; ``ending`` closes the message (``"; nothing was
    committed"``). Logged in full here: no path or worker detail reaches the caller."""
    log.error("%s failed on the Ray cluster at %s: %r", running, address, error)
    if isinstance(error, ray.exceptions.OutOfMemoryError):  # Ray's monitor killed a worker
        return Invalid(
            f"{running} needs more memory than a worker of the Ray cluster has{ending}",
            field="engine",
        )
    if isinstance(getattr(error, "cause", None), duckdb.OutOfMemoryException):  # in a task
        return Invalid(
            f"{running} needs more memory than a task on the Ray cluster may use "
            f"(LAKEHOLD_RAY_TASK_MEMORY_LIMIT){ending}",
            field="engine",
        )
    if isinstance(error, ray.exceptions.TaskCancelledError):
        return SourceUnavailable(
            f"a task of {running} was cancelled on the Ray cluster at {address}{ending}"
        )
    return SourceUnavailable(
        f"{running} failed on the Ray cluster at {address} ({type(error).__name__}){ending}"
    )
