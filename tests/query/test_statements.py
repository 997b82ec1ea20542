"""Asynchronous statements: states, stored results, paging, cancel, failures."""

from __future__ import annotations

import csv
import io
import threading
import time

import pyarrow as pa
import pytest

from lakehold.errors import Conflict, Invalid
from lakehold.query import (
    CancelHandle,
    StatementRunner,
    StatementState,
    StatementUpdate,
    TableRef,
    prepare,
    read_page,
    row_count,
    run,
    to_arrow_ipc_stream,
    to_csv_bytes,
    to_json_rows,
)

LONG_QUERY = "SELECT count(*) FROM range(100000000) a, range(1000) b"


class Recorder:
    """Collects updates and lets a test wait for a final state."""

    def __init__(self) -> None:
        self.updates: dict[str, list[StatementUpdate]] = {}
        self._done = threading.Condition()

    def __call__(self, statement_id: str, update: StatementUpdate) -> None:
        with self._done:
            self.updates.setdefault(statement_id, []).append(update)
            self._done.notify_all()

    def states(self, statement_id: str) -> list[StatementState]:
        return [u.state for u in self.updates.get(statement_id, [])]

    def wait(self, statement_id: str, timeout: float = 30) -> StatementUpdate:
        final = {StatementState.FINISHED, StatementState.FAILED, StatementState.ABORTED}
        with self._done:
            ok = self._done.wait_for(
                lambda: bool(set(self.states(statement_id)) & final), timeout=timeout
            )
        assert ok, f"{statement_id} did not end: {self.states(statement_id)}"
        return self.updates[statement_id][-1]

    def wait_for_start(self, statement_id: str, timeout: float = 30) -> None:
        with self._done:
            assert self._done.wait_for(
                lambda: StatementState.STARTED in self.states(statement_id), timeout=timeout
            )


@pytest.fixture
def runner(tmp_path):
    with StatementRunner(tmp_path / "results", max_workers=2) as runner:
        yield runner


def query(sql: str, resolved: dict | None = None, **kwargs):
    prepared = prepare(sql, default_project="retail")
    max_rows = kwargs.pop("max_rows", 1000)

    def work(handle: CancelHandle):
        return run(prepared, resolved or {}, max_rows=max_rows, cancel=handle, **kwargs)

    return work


def test_finished_statement_reports_states_and_stores_its_result(runner, customers, bind):
    recorder = Recorder()
    resolved = {TableRef("retail", "customer"): bind(customers)}
    runner.submit("st-1", query("SELECT id, name FROM customer ORDER BY id", resolved), recorder)
    final = recorder.wait("st-1")
    assert recorder.states("st-1") == [
        StatementState.SUBMITTED,
        StatementState.STARTED,
        StatementState.FINISHED,
    ]
    assert final.result_rows == 3
    assert final.result_path == runner.result_path("st-1")
    assert final.result_size_bytes == final.result_path.stat().st_size > 0
    assert final.started_at is not None and final.ended_at is not None
    assert final.submitted_at <= final.started_at <= final.ended_at
    assert final.duration_ms is not None and final.duration_ms >= 0
    assert final.error is None
    assert row_count(final.result_path) == 3
    assert runner.running() == []


def test_truncated_result_is_reported(runner):
    recorder = Recorder()
    runner.submit("big", query("SELECT * FROM range(100) t(x)", max_rows=10), recorder)
    final = recorder.wait("big")
    assert final.state is StatementState.FINISHED
    assert final.result_rows == 10 and final.truncated


def test_paging_through_a_result(runner, tmp_path):
    recorder = Recorder()
    sql = "SELECT x, x * 2 AS y FROM range(2500) t(x) ORDER BY x"
    runner.submit("pages", query(sql, max_rows=10_000), recorder)
    path = recorder.wait("pages").result_path
    assert read_page(path, 0, 3).to_pylist() == [
        {"x": 0, "y": 0},
        {"x": 1, "y": 2},
        {"x": 2, "y": 4},
    ]
    page = read_page(path, 2040, 20)  # crosses a 2048-row batch boundary
    assert page.column("x").to_pylist() == list(range(2040, 2060))
    assert read_page(path, 2490, 100).num_rows == 10
    empty = read_page(path, 5000, 10)
    assert empty.num_rows == 0 and empty.column_names == ["x", "y"]


def test_failed_statement_reports_the_error(runner):
    recorder = Recorder()
    runner.submit("bad", query("SELECT CAST('x' AS INTEGER) AS n"), recorder)
    final = recorder.wait("bad")
    assert recorder.states("bad") == [
        StatementState.SUBMITTED,
        StatementState.STARTED,
        StatementState.FAILED,
    ]
    assert final.error_code == "invalid"
    assert "Conversion Error" in (final.error or "")
    assert final.result_path is None
    assert not runner.result_path("bad").exists()


def test_unexpected_error_is_not_leaked(runner):
    recorder = Recorder()

    def work(handle):
        raise RuntimeError("secret internals /etc/shadow")

    runner.submit("boom", work, recorder)
    final = recorder.wait("boom")
    assert final.state is StatementState.FAILED
    assert final.error == "internal error"


def test_timeout_fails_the_statement(runner):
    recorder = Recorder()
    runner.submit("slow", query(LONG_QUERY, timeout_s=0.3), recorder)
    final = recorder.wait("slow")
    assert final.state is StatementState.FAILED
    assert final.error_code == "timeout"


def test_cancel_a_running_statement(runner):
    recorder = Recorder()
    runner.submit("long", query(LONG_QUERY), recorder)
    recorder.wait_for_start("long")
    time.sleep(0.2)
    assert runner.cancel("long")
    final = recorder.wait("long")
    assert recorder.states("long")[-1] is StatementState.ABORTED
    assert final.started_at is not None and final.ended_at is not None
    assert not runner.cancel("long")


def test_cancel_a_statement_before_it_starts(tmp_path):
    recorder = Recorder()
    with StatementRunner(tmp_path / "results", max_workers=1) as runner:
        runner.submit("first", query(LONG_QUERY), recorder)
        runner.submit("queued", query("SELECT 1 AS x"), recorder)
        assert runner.cancel("queued")
        final = recorder.wait("queued")
        assert recorder.states("queued") == [StatementState.SUBMITTED, StatementState.ABORTED]
        assert final.started_at is None
        runner.cancel("first")
        recorder.wait("first")


def test_ids_are_checked(runner):
    with pytest.raises(Invalid):
        runner.submit("../escape", query("SELECT 1"), Recorder())
    runner.submit("dup", query(LONG_QUERY), Recorder())
    with pytest.raises(Conflict):
        runner.submit("dup", query("SELECT 1"), Recorder())
    runner.cancel("dup")


def test_a_failing_listener_does_not_break_the_runner(runner):
    calls = []

    def listener(statement_id, update):
        calls.append(update.state)
        raise ValueError("listener bug")

    runner.submit("noisy", query("SELECT 1 AS x"), listener)
    deadline = time.monotonic() + 30
    while StatementState.FINISHED not in calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls[-1] is StatementState.FINISHED


def test_result_formats(runner):
    recorder = Recorder()
    runner.submit("fmt", query("SELECT x, 'v' || x AS s FROM range(3) t(x)"), recorder)
    page = read_page(recorder.wait("fmt").result_path, 1, 2)
    assert to_json_rows(page) == [{"x": 1, "s": "v1"}, {"x": 2, "s": "v2"}]
    assert list(csv.reader(io.StringIO(to_csv_bytes(page).decode()))) == [
        ["x", "s"],
        ["1", "v1"],
        ["2", "v2"],
    ]
    assert pa.ipc.open_stream(to_arrow_ipc_stream(page)).read_all().equals(page)
