"""A synchronous statement is recorded with the audit of its admission -- once at its end when
it is short, ahead of its end (then updated) when it runs long -- on both databases."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from lakehold.errors import LakeholdError
from lakehold.governance import statement_record
from lakehold.governance.statement_record import DeferredRecord
from lakehold.store.models import AuditEvent, Statement
from tests.governance.conftest import World


def _statements(world: World) -> list[Statement]:
    with world.runtime.store.session() as session:
        return list(session.scalars(select(Statement)))


def _admissions(world: World) -> list[AuditEvent]:
    with world.runtime.store.session() as session:
        query = select(AuditEvent).where(AuditEvent.action == "statement")
        return list(session.scalars(query.where(AuditEvent.allowed.is_(True))))


def test_a_short_statement_is_recorded_once_with_its_admission(world: World) -> None:
    executed = world.runtime.statements.execute(
        world.owner, "SELECT count(*) AS n FROM retail.customer", project="retail"
    )
    (row,) = _statements(world)
    assert (row.id, row.status, row.result_rows) == (executed.statement.id, "FINISHED", 1)
    assert row.started_at is not None and row.ended_at is not None
    (event,) = _admissions(world)
    assert event.details["statement"] == row.id
    assert event.assets == ["retail.customer"]
    assert executed.statement.project == "retail"
    assert world.runtime.statements.describe(world.owner, row.id).status == "FINISHED"


def test_a_failed_statement_keeps_the_audit_of_its_admission(world: World) -> None:
    with pytest.raises(LakeholdError):
        world.runtime.statements.execute(
            world.owner, "SELECT error('boom') FROM retail.customer", project="retail"
        )
    (row,) = _statements(world)
    assert row.status == "FAILED" and "boom" in (row.error or "")
    (event,) = _admissions(world)
    assert event.details["statement"] == row.id


def test_a_long_statement_is_recorded_while_it_runs() -> None:
    written = threading.Event()
    record = DeferredRecord(written.set, after_s=0)
    assert written.wait(10)
    assert record.finish()  # the caller updates the record written ahead


def test_a_short_statement_is_not_recorded_ahead() -> None:
    calls: list[int] = []
    record = DeferredRecord(lambda: calls.append(1), after_s=60)
    assert not record.finish()  # the caller writes the whole record
    assert calls == []


def test_a_failing_early_write_leaves_the_record_to_the_end() -> None:
    attempted = threading.Event()

    def fail() -> None:
        attempted.set()
        raise RuntimeError("metadata database unavailable")

    record = DeferredRecord(fail, after_s=0)
    assert attempted.wait(10)
    assert not record.finish()


def test_an_early_record_is_written_on_time_behind_a_later_one() -> None:
    later_calls: list[int] = []
    later = DeferredRecord(lambda: later_calls.append(1), after_s=60)
    written = threading.Event()
    earlier = DeferredRecord(written.set, after_s=0)
    assert written.wait(10)  # the timer thread slept towards the later one: it was woken
    assert earlier.finish()
    assert not later.finish()
    assert later_calls == []


def test_finished_statements_leave_no_timers_behind() -> None:
    """A statement's timer goes when it ends: the thread sleeps until one still pending, not
    once more per statement."""
    pending = len(statement_record._timers._due)
    records = [DeferredRecord(lambda: None, after_s=60) for _ in range(100)]
    assert len(statement_record._timers._due) == pending + 100
    for record in records:
        assert not record.finish()
    assert len(statement_record._timers._due) == pending
