"""Run one Ray task per slice and gather their results, or stop them all.

The wait polls: every ``_POLL_S`` it collects the finished tasks and checks the statement's
:class:`CancelHandle` (cancelled, or past its timeout). Whenever the wait ends early -- a
cancel, a timeout, a failed task, a scan whose first slices already have more rows than it
may return, or partial aggregates past their byte budget -- the tasks still pending are
cancelled with ``force=True`` (their worker processes are killed: a running DuckDB query does
not see Ray's interrupt).

A task's DuckDB error becomes the error the single-process engine raises for it
(:func:`lakehold.query.messages.translate`, with the names the user wrote and no file path);
any other failure of a task is an internal error, and a failure of the cluster itself is told
as table jobs tell it (:func:`lakehold.cluster.ray_errors.cluster_error`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import duckdb
import pyarrow as pa

from lakehold.cluster.ray_client import remote
from lakehold.cluster.ray_errors import cluster_error
from lakehold.cluster.slices import Slice
from lakehold.cluster.task import CUT, partial
from lakehold.errors import Invalid, LakeholdError
from lakehold.query.cancel import CancelHandle
from lakehold.query.messages import INTERNAL_MESSAGE, is_interrupt, translate

log = logging.getLogger(__name__)

_POLL_S = 0.05
MAX_PARTIAL_BYTES = 1 << 30
"""At most this many bytes of partial aggregates per statement reach the coordinator."""


def gather(
    ray: ModuleType,
    work: Sequence[Slice],
    handle: CancelHandle,
    *,
    address: str,
    limit: int | None = None,
    max_bytes: int = MAX_PARTIAL_BYTES,
) -> list[pa.Table]:
    """The results of ``work``'s tasks, in slice order. With ``limit`` (a scan), each task
    returns at most ``limit`` + 1 rows, the wait stops as soon as the first slices returned
    more than ``limit`` rows, and only theirs are returned (the rows the single-process
    engine reads first). Without (partial aggregates), results holding more than
    ``max_bytes`` in all are refused (the coordinator holds and merges them)."""
    task = remote(partial, num_cpus=1)
    budget = None if limit is not None else max_bytes
    refs = {task.remote(s.setup, s.statement, limit, budget): i for i, s in enumerate(work)}
    pending = list(refs)
    results: dict[int, pa.Table] = {}
    size, cut = 0, False
    try:
        while pending:
            handle.check()
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=_POLL_S)
            for ref in ready:
                index = refs[ref]
                result = results[index] = _result(ray, ref, work[index], handle, address)
                size += result.nbytes
                cut = cut or CUT in (result.schema.metadata or {})
            if budget is not None and (cut or size > budget):
                raise Invalid(
                    f"the partial results of the statement exceed {budget} bytes, more than "
                    "the Ray engine merges (group by fewer keys, or use engine duckdb)",
                    field="engine",
                )
            if limit is not None and sum(t.num_rows for t in _first(results)) > limit:
                break
    finally:
        for ref in pending:
            with contextlib.suppress(Exception):  # finished meanwhile, or the cluster is gone
                ray.cancel(ref, force=True)
    return _first(results) if limit is not None else [results[i] for i in sorted(results)]


def _first(results: dict[int, pa.Table]) -> list[pa.Table]:
    """The results of slices 0, 1, ... up to the first one not finished."""
    first: list[pa.Table] = []
    while len(first) in results:
        first.append(results[len(first)])
    return first


def _result(ray: ModuleType, ref: Any, work: Slice, handle: CancelHandle, address: str) -> pa.Table:
    try:
        stream = ray.get(ref)
        return pa.ipc.open_stream(stream).read_all()
    except ray.exceptions.RayTaskError as e:
        cause = e.cause
        if isinstance(cause, duckdb.Error | pa.ArrowException | OSError):
            if handle.reason is not None or is_interrupt(cause):
                raise handle.error() from None
            raise translate(cause, work.names, work.files) from None
        log.error("a task failed on the Ray cluster at %s: %r", address, cause)
        raise LakeholdError(INTERNAL_MESSAGE) from None
    except ray.exceptions.RayError as e:
        if isinstance(e, ray.exceptions.TaskCancelledError):
            handle.check()  # the statement's own cancel or timeout
        raise cluster_error(ray, e, address=address, running="the statement") from None
