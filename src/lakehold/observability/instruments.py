"""The one call each instrumented place makes: a fact in, the metrics it moves.

Callers pass plain values (no Lakehold types); label values are fixed vocabularies, or project
names through :func:`~lakehold.observability.metrics.project_label`. Hot paths (decisions) keep
their label children: ``labels()`` costs more than the ``inc()`` after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Any

from lakehold.errors import LakeholdError
from lakehold.observability.metrics import (
    DECISIONS,
    FLIGHT_CALL_SECONDS,
    FLIGHT_CALLS,
    LINEAGE_EVENTS,
    SECRET_DECRYPTIONS,
    SHARE_FILE_FETCHES,
    SHARE_READS,
    STATEMENT_QUEUE_SECONDS,
    STATEMENT_ROWS,
    STATEMENT_RUN_SECONDS,
    STATEMENT_SCANNED_BYTES,
    STATEMENTS,
    SYNC_ROWS,
    SYNC_RUNS,
    TABLE_COMMIT_SECONDS,
    TABLE_MERGE_ROWS,
    TABLE_VACUUM_FILES,
    TABLE_WRITES,
    WEBHOOK_DELIVERIES,
    project_label,
)

# -- statements ------------------------------------------------------------------------------

_statement_children: dict[tuple[str, str, str], tuple[Any, Any, Any, Any]] = {}


def statement_ended(
    project: str | None,
    state: str,
    *,
    queued_s: float,
    run_s: float | None,
    rows: int | None,
    scanned_bytes: int,
    engine: str = "duckdb",
) -> None:
    """A governed statement ended in ``state`` (FINISHED, FAILED, ABORTED) on ``engine``
    (``duckdb`` or ``ray``) after waiting ``queued_s`` and running ``run_s`` (None: it never
    started)."""
    key = (project_label(project), state, engine)
    children = _statement_children.get(key)
    if children is None:
        label = key[0]
        children = (
            STATEMENTS.labels(label, state, engine),
            STATEMENT_RUN_SECONDS.labels(state, engine),
            STATEMENT_ROWS.labels(label),
            STATEMENT_SCANNED_BYTES.labels(label),
        )
        _statement_children[key] = children
    ended, run, returned, scanned = children
    ended.inc()
    STATEMENT_QUEUE_SECONDS.observe(max(queued_s, 0.0))
    if run_s is not None:
        run.observe(max(run_s, 0.0))
    returned.inc(rows or 0)
    scanned.inc(scanned_bytes)


# -- Arrow Flight SQL ------------------------------------------------------------------------

FLIGHT_METHODS = frozenset(
    {
        "handshake",
        "list_flights",
        "get_flight_info",
        "get_schema",
        "do_get",
        "do_put",
        "do_exchange",
        "do_action",
        "list_actions",
    }
)
GRPC_STATUSES = frozenset(
    {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "UNAUTHENTICATED",
    }
)


def flight_call(method: str, status: str, seconds: float) -> None:
    """A Flight SQL RPC ``method`` (a :data:`FLIGHT_METHODS` name, else ``other``) ended with
    gRPC ``status`` (a :data:`GRPC_STATUSES` name, else ``UNKNOWN``) after ``seconds``."""
    method = method if method in FLIGHT_METHODS else "other"
    FLIGHT_CALLS.labels(method, status if status in GRPC_STATUSES else "UNKNOWN").inc()
    FLIGHT_CALL_SECONDS.labels(method).observe(max(seconds, 0.0))


# -- governance ------------------------------------------------------------------------------

_decisions: dict[tuple[str, bool], Any] = {}


def decision(action: str, allowed: bool) -> None:
    """The kernel decided ``action`` (an ``Action`` value: a fixed vocabulary)."""
    child = _decisions.get((action, allowed))
    if child is None:
        child = DECISIONS.labels(action, "allowed" if allowed else "denied")
        _decisions[(action, allowed)] = child
    child.inc()


# -- tables ----------------------------------------------------------------------------------


class Commit:
    """What a table write tells :func:`table_commit` once it is done."""

    __slots__ = ("ended", "files_removed", "merge_rows", "written")

    def __init__(self) -> None:
        self.written = True
        self.merge_rows: int | None = None
        self.files_removed = 0
        self.ended: float | None = None

    def report(
        self, *, written: bool = True, merge_rows: int | None = None, files_removed: int = 0
    ) -> None:
        """Right after the commit (the time stops here): ``written`` False when nothing was
        committed (an empty batch, a dry run)."""
        self.ended = perf_counter()
        self.written, self.merge_rows, self.files_removed = written, merge_rows, files_removed


@contextmanager
def table_commit(project: str, operation: str) -> Iterator[Commit]:
    """Time the Delta commit the block writes (``operation``: create, append, overwrite, merge,
    cdc, restore, optimize, vacuum); a block that raises counts nothing."""
    commit = Commit()
    started = perf_counter()
    yield commit
    if not commit.written:
        return
    label = project_label(project)
    TABLE_WRITES.labels(label, operation).inc()
    TABLE_COMMIT_SECONDS.labels(operation).observe((commit.ended or perf_counter()) - started)
    if commit.merge_rows is not None:
        TABLE_MERGE_ROWS.observe(commit.merge_rows)
    if operation == "vacuum":
        TABLE_VACUUM_FILES.labels(label).inc(commit.files_removed)


# -- lineage, sync, webhooks, secrets --------------------------------------------------------


@contextmanager
def lineage_batch(events: object) -> Iterator[None]:
    """The events of one ingest request: accepted when the block returns, refused when it
    raises a Lakehold error (a batch is stored whole or not at all)."""
    count = len(events) if isinstance(events, list) else 1
    try:
        yield
    except LakeholdError:  # a 4xx: bad, too large or not the writer's namespace
        LINEAGE_EVENTS.labels("refused").inc(count)
        raise
    LINEAGE_EVENTS.labels("accepted").inc(count)


def sync_run(project: str, succeeded: bool, rows: int = 0) -> None:
    """A sync job run ended; ``rows``: the source rows it applied to its table."""
    label = project_label(project)
    SYNC_RUNS.labels(label, "succeeded" if succeeded else "failed").inc()
    SYNC_ROWS.labels(label).inc(rows)


WEBHOOK_OUTCOMES = {"delivered": "delivered", "pending": "retry", "failed": "failed"}
"""A delivery's status after an attempt -> the outcome label of that attempt."""


def webhook_attempt(status: str) -> None:
    """One delivery attempt, by the status it left its delivery in (delivered; pending: a
    retry is planned; failed: no attempt left)."""
    WEBHOOK_DELIVERIES.labels(WEBHOOK_OUTCOMES.get(status, "failed")).inc()


def secret_decrypted(key_id: str) -> None:
    """A stored secret was decrypted with the key of fingerprint ``key_id``."""
    SECRET_DECRYPTIONS.labels(key_id).inc()


SHARE_READ_KINDS = frozenset({"query", "changes"})


def share_read(kind: str, project: str) -> None:
    """A recipient's read of a table of ``project`` was answered: ``query`` or ``changes``."""
    SHARE_READS.labels(project_label(project), kind if kind in SHARE_READ_KINDS else "other").inc()


def share_file_fetched() -> None:
    """A recipient's request for a data file (or a byte range of it) through a signed URL
    was answered."""
    SHARE_FILE_FETCHES.inc()


def _zero_fixed_outcomes() -> None:
    """Export the outcomes of a fixed vocabulary at 0 from the start, so that ``increase()``
    sees the first failure (a series that appears at 1 has no increase)."""
    for outcome in ("accepted", "refused"):
        LINEAGE_EVENTS.labels(outcome)
    for outcome in WEBHOOK_OUTCOMES.values():
        WEBHOOK_DELIVERIES.labels(outcome)


_zero_fixed_outcomes()
