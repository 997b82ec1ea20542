"""Asynchronous statements, in the style of the Redshift Data API.

A statement is submitted with an id and a unit of work (typically ``lambda handle:
run(prepared, resolved, ..., cancel=handle)``); it runs in a thread pool and moves through

    SUBMITTED -> STARTED -> FINISHED | FAILED | ABORTED

reporting each state to ``on_update``. A finished statement's rows are stored as an Arrow
IPC file ``results_dir/<id>.arrow`` for paging (:mod:`lakehold.query.results`). A cancelled
statement ends ABORTED (before it started, or while running); a timeout ends FAILED with
``error_code="timeout"``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from lakehold import process
from lakehold.errors import Cancelled, Conflict, Invalid, LakeholdError
from lakehold.query.cancel import CancelHandle
from lakehold.query.results import write_result

log = logging.getLogger(__name__)

_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class StatementState(StrEnum):
    SUBMITTED = "SUBMITTED"
    STARTED = "STARTED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


@dataclass(frozen=True)
class StatementUpdate:
    """The state of a statement when it changed."""

    state: StatementState
    submitted_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: int | None = None
    result_rows: int | None = None
    result_size_bytes: int | None = None
    result_path: Path | None = None
    truncated: bool = False
    error: str | None = None
    error_code: str | None = None


class _HasTable(Protocol):
    table: pa.Table
    truncated: bool


Work = Callable[[CancelHandle], "pa.Table | _HasTable"]
OnUpdate = Callable[[str, StatementUpdate], None]


@dataclass
class _Statement:
    id: str
    work: Work
    on_update: OnUpdate
    handle: CancelHandle
    update: StatementUpdate
    future: Future[None] | None = None


class StatementRunner:
    """Runs statements in a thread pool and stores their results under ``results_dir``.

    ``runner_id`` names this process (:mod:`lakehold.process`); statement records carry it so
    that another process can tell a statement whose runner is gone from a running one."""

    def __init__(self, results_dir: Path, max_workers: int = 4) -> None:
        self.runner_id = str(process.current())
        self.results_dir = Path(results_dir)
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="lakehold-statement")
        self._lock = threading.Lock()
        self._statements: dict[str, _Statement] = {}

    def result_path(self, statement_id: str) -> Path:
        """Where the rows of a finished statement are stored."""
        if not _ID.fullmatch(statement_id):
            raise Invalid("a statement id is 1-128 letters, digits, '-' or '_'", field="id")
        return self.results_dir / f"{statement_id}.arrow"

    def submit(self, statement_id: str, work: Work, on_update: OnUpdate) -> None:
        """Queue ``work``; ``on_update`` hears SUBMITTED now and every later state."""
        self.result_path(statement_id)
        statement = _Statement(
            id=statement_id,
            work=work,
            on_update=on_update,
            handle=CancelHandle(),
            update=StatementUpdate(StatementState.SUBMITTED, submitted_at=_now()),
        )
        with self._lock:
            if statement_id in self._statements:
                raise Conflict(f"statement {statement_id!r} is already running", field="id")
            self._statements[statement_id] = statement
        self._report(statement, statement.update)
        # in the submitter's context: its log lines carry the request's id and principal
        statement.future = self._pool.submit(contextvars.copy_context().run, self._run, statement)

    def cancel(self, statement_id: str) -> bool:
        """Stop a submitted or running statement; False if it is not (or no longer) running."""
        with self._lock:
            statement = self._statements.get(statement_id)
        if statement is None or not statement.handle.cancel():
            return False
        if statement.future is not None and statement.future.cancel():
            self._end(statement, StatementState.ABORTED, error="the statement was cancelled")
        return True

    def running(self) -> list[str]:
        """Ids of statements submitted or running."""
        with self._lock:
            return list(self._statements)

    def shutdown(self, wait: bool = True) -> None:
        """Cancel every statement and stop the pool."""
        for statement_id in self.running():
            self.cancel(statement_id)
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> StatementRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _run(self, statement: _Statement) -> None:
        if statement.handle.reason is not None:
            self._end(statement, StatementState.ABORTED, error="the statement was cancelled")
            return
        started = replace(statement.update, state=StatementState.STARTED, started_at=_now())
        statement.update = started
        self._report(statement, started)
        try:
            out = statement.work(statement.handle)
            table = out if isinstance(out, pa.Table) else out.table
            truncated = False if isinstance(out, pa.Table) else bool(out.truncated)
            path = self.result_path(statement.id)
            size = write_result(table, path)
        except Cancelled as e:
            self._end(statement, StatementState.ABORTED, error=e.message)
        except LakeholdError as e:
            state = StatementState.ABORTED if statement.handle.cancelled else StatementState.FAILED
            self._end(statement, state, error=e.message, error_code=e.code)
        except Exception:
            log.exception("statement %s failed", statement.id)
            self._end(statement, StatementState.FAILED, error="internal error", error_code="error")
        else:
            self._end(
                statement,
                StatementState.FINISHED,
                result_rows=table.num_rows,
                result_size_bytes=size,
                result_path=path,
                truncated=truncated,
            )

    def _end(self, statement: _Statement, state: StatementState, **fields: Any) -> None:
        with self._lock:
            if self._statements.get(statement.id) is not statement:
                return  # already ended (cancelled before it started)
            del self._statements[statement.id]
        ended = _now()
        started = statement.update.started_at
        duration = int((ended - started).total_seconds() * 1000) if started else None
        update = replace(
            statement.update, state=state, ended_at=ended, duration_ms=duration, **fields
        )
        statement.update = update
        self._report(statement, update)

    def _report(self, statement: _Statement, update: StatementUpdate) -> None:
        try:
            statement.on_update(statement.id, update)
        except Exception:
            log.exception("on_update failed for statement %s", statement.id)


def _now() -> datetime:
    return datetime.now(UTC)
