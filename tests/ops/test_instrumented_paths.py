"""Each instrumented path moves its metrics by exactly what happened: statements, kernel
decisions, table commits, lineage ingest, webhook deliveries, secret decryptions and the
metadata pool. Read from this process's registry; SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import timedelta

import pyarrow as pa
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text

from lakehold.catalog.tables import DataSource
from lakehold.config import Settings
from lakehold.errors import Forbidden, LakeholdError
from lakehold.governance.events import SUBSCRIPTION_REQUESTED, emit
from lakehold.kernel import Action, allowed, authorize
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.security.secrets import Secrets, key_id
from lakehold.store.models import utcnow
from tests.lineage.events import dataset, run_event
from tests.ops.samples import project, sample
from tests.sharing import new_user
from tests.webhook_receiver import receiver


@pytest.fixture
def sales(runtime: Runtime, admin: Principal) -> Principal:
    """Project ``sales`` of user ``owner``, with table ``orders`` (3 rows, key id)."""
    owner, _ = new_user(runtime, admin, "owner")
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(owner, "sales", "Sales")
    rows = pa.table({"id": [1, 2, 3], "amount": [10.0, 20.0, 30.0]})
    runtime.table_service.create_table(owner, "sales", "orders", DataSource(rows), keys=["id"])
    return owner


def counts(*names_and_labels: tuple[str, dict[str, str]]) -> list[float]:
    return [sample(name, **labels) for name, labels in names_and_labels]


# -- statements ------------------------------------------------------------------------------


def test_a_synchronous_statement_counts_its_state_rows_and_bound_bytes(
    runtime: Runtime, sales: Principal
) -> None:
    label = project("sales")
    size = runtime.tables.snapshot(runtime.tables.path_for("sales", "orders")).size_bytes
    assert size > 0
    before = counts(
        ("lakehold_statements_total", {"project": label, "state": "FINISHED", "engine": "duckdb"}),
        ("lakehold_statement_rows_total", {"project": label}),
        ("lakehold_statement_scanned_bytes_total", {"project": label}),
        ("lakehold_statement_run_seconds_count", {"state": "FINISHED", "engine": "duckdb"}),
        ("lakehold_statement_queue_seconds_count", {}),
    )
    done = runtime.statements.execute(sales, "select * from orders where id > 1", project="sales")
    assert done.table.num_rows == 2
    after = counts(
        ("lakehold_statements_total", {"project": label, "state": "FINISHED", "engine": "duckdb"}),
        ("lakehold_statement_rows_total", {"project": label}),
        ("lakehold_statement_scanned_bytes_total", {"project": label}),
        ("lakehold_statement_run_seconds_count", {"state": "FINISHED", "engine": "duckdb"}),
        ("lakehold_statement_queue_seconds_count", {}),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 2, size, 1, 1]


def test_a_statement_without_an_acting_project_counts_for_its_tables_project(
    runtime: Runtime, sales: Principal
) -> None:
    label = project("sales")
    before = sample("lakehold_statements_total", project=label, state="FINISHED", engine="duckdb")
    none = sample("lakehold_statements_total", project="_none", state="FINISHED", engine="duckdb")
    runtime.statements.execute(sales, "select count(*) from sales.orders")
    assert (
        sample("lakehold_statements_total", project=label, state="FINISHED", engine="duckdb")
        == before + 1
    )
    assert (
        sample("lakehold_statements_total", project="_none", state="FINISHED", engine="duckdb")
        == none
    )
    runtime.statements.execute(sales, "select 1")  # no table, no project
    assert (
        sample("lakehold_statements_total", project="_none", state="FINISHED", engine="duckdb")
        == none + 1
    )


def test_a_failed_statement_counts_failed_and_a_refused_one_counts_nothing(
    runtime: Runtime, sales: Principal
) -> None:
    label = project("sales")
    failed = sample("lakehold_statements_total", project=label, state="FAILED", engine="duckdb")
    finished = sample("lakehold_statements_total", project=label, state="FINISHED", engine="duckdb")
    with pytest.raises(LakeholdError):
        runtime.statements.execute(
            sales, "select cast('x' || id as integer) from orders", project="sales"
        )
    assert (
        sample("lakehold_statements_total", project=label, state="FAILED", engine="duckdb")
        == failed + 1
    )
    with pytest.raises(LakeholdError):  # not found: refused before it ran, no statement
        runtime.statements.execute(sales, "select * from nowhere", project="sales")
    assert (
        sample("lakehold_statements_total", project=label, state="FAILED", engine="duckdb")
        == failed + 1
    )
    assert (
        sample("lakehold_statements_total", project=label, state="FINISHED", engine="duckdb")
        == finished
    )


def test_an_asynchronous_statement_counts_when_it_ends(runtime: Runtime, sales: Principal) -> None:
    label = project("sales")
    size = runtime.tables.snapshot(runtime.tables.path_for("sales", "orders")).size_bytes
    before = counts(
        ("lakehold_statements_total", {"project": label, "state": "FINISHED", "engine": "duckdb"}),
        ("lakehold_statement_rows_total", {"project": label}),
        ("lakehold_statement_scanned_bytes_total", {"project": label}),
        ("lakehold_statement_queue_seconds_count", {}),
    )
    submitted = runtime.statements.submit(sales, "select id from orders", project="sales")
    deadline = time.monotonic() + 60
    while runtime.statements.describe(sales, submitted.id).status != "FINISHED":
        assert time.monotonic() < deadline, "the statement did not finish"
        time.sleep(0.02)
    after = counts(
        ("lakehold_statements_total", {"project": label, "state": "FINISHED", "engine": "duckdb"}),
        ("lakehold_statement_rows_total", {"project": label}),
        ("lakehold_statement_scanned_bytes_total", {"project": label}),
        ("lakehold_statement_queue_seconds_count", {}),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 3, size, 1]


# -- kernel decisions ------------------------------------------------------------------------


def test_each_decision_is_counted_once_by_action_and_outcome(
    runtime: Runtime, admin: Principal
) -> None:
    ana, _ = new_user(runtime, admin, "ana")
    allowed_before = sample("lakehold_decisions_total", action="user.list", outcome="allowed")
    denied_before = sample("lakehold_decisions_total", action="user.list", outcome="denied")
    authorize(admin, Action.USER_LIST)
    with pytest.raises(Forbidden):
        authorize(ana, Action.USER_LIST)
    assert allowed(ana, Action.USER_LIST) is False  # a question for a list: not a decision
    assert sample("lakehold_decisions_total", action="user.list", outcome="allowed") == (
        allowed_before + 1
    )
    assert sample("lakehold_decisions_total", action="user.list", outcome="denied") == (
        denied_before + 1
    )


def test_a_statement_access_decision_is_counted_as_statement(
    runtime: Runtime, sales: Principal
) -> None:
    allowed_before = sample("lakehold_decisions_total", action="statement", outcome="allowed")
    denied_before = sample("lakehold_decisions_total", action="statement", outcome="denied")
    runtime.statements.execute(sales, "select count(*) from sales.orders")
    with pytest.raises(LakeholdError):  # no such table: refused by the access decision
        runtime.statements.execute(sales, "select * from sales.nowhere")
    with pytest.raises(LakeholdError):  # a syntax error is no decision
        runtime.statements.execute(sales, "select from where")
    assert sample("lakehold_decisions_total", action="statement", outcome="allowed") == (
        allowed_before + 1
    )
    assert sample("lakehold_decisions_total", action="statement", outcome="denied") == (
        denied_before + 1
    )


# -- tables ----------------------------------------------------------------------------------


def writes(operation: str) -> float:
    return sample("lakehold_table_writes_total", project=project("sales"), operation=operation)


def commits(operation: str) -> float:
    return sample("lakehold_table_commit_seconds_count", operation=operation)


def test_table_commits_by_operation_merge_sizes_and_vacuum(
    runtime: Runtime, admin: Principal, sales: Principal
) -> None:
    service = runtime.table_service
    before = {op: (writes(op), commits(op)) for op in ("append", "merge", "optimize", "restore")}
    merges = sample("lakehold_table_merge_rows_count"), sample("lakehold_table_merge_rows_sum")

    service.write(sales, "sales", "orders", DataSource(pa.table({"id": [4]})), mode="append")
    empty = pa.table({"id": pa.array([], pa.int64())})
    nothing = service.write(sales, "sales", "orders", DataSource(empty), mode="append")
    assert nothing.result.no_op  # no commit: not counted
    batch = pa.table({"id": [1, 5, 5], "amount": [11.0, 50.0, 55.0]})  # key 5 twice
    merged = service.write(sales, "sales", "orders", DataSource(batch), mode="merge")
    assert merged.result.duplicates_collapsed == 1
    service.optimize(sales, "sales", "orders")
    service.restore(sales, "sales", "orders", 0)

    for op, delta in (("append", 1), ("merge", 1), ("optimize", 1), ("restore", 1)):
        assert (writes(op), commits(op)) == (before[op][0] + delta, before[op][1] + delta), op
    assert sample("lakehold_table_merge_rows_count") == merges[0] + 1
    assert sample("lakehold_table_merge_rows_sum") == merges[1] + 2  # rows 1 and 5 merged

    vacuums = writes("vacuum")
    removed = sample("lakehold_table_vacuum_files_removed_total", project=project("sales"))
    plan = service.vacuum(admin, "sales", "orders", retention_hours=0, force=True, dry_run=True)
    assert plan.files and writes("vacuum") == vacuums  # a dry run deletes nothing
    done = service.vacuum(admin, "sales", "orders", retention_hours=0, force=True)
    assert writes("vacuum") == vacuums + 1
    assert sample("lakehold_table_vacuum_files_removed_total", project=project("sales")) == (
        removed + len(done.files)
    )


def test_a_refused_write_counts_no_commit(runtime: Runtime, admin: Principal, sales) -> None:
    ana, _ = new_user(runtime, admin, "ana")
    before = writes("append")
    with pytest.raises(LakeholdError):
        runtime.table_service.write(
            ana, "sales", "orders", DataSource(pa.table({"id": [9]})), mode="append"
        )
    assert writes("append") == before


# -- lineage ---------------------------------------------------------------------------------


def test_lineage_events_accepted_and_refused(runtime: Runtime, admin: Principal) -> None:
    ana, _ = new_user(runtime, admin, "ana")
    accepted = sample("lakehold_lineage_events_total", outcome="accepted")
    refused = sample("lakehold_lineage_events_total", outcome="refused")
    events = [
        run_event("START", "etl", outputs=[dataset("postgres://db", "public.orders")]),
        run_event("COMPLETE", "etl", outputs=[dataset("postgres://db", "public.orders")]),
    ]
    assert runtime.lineage.ingest(admin, events) == 2
    with pytest.raises(Forbidden):  # no lineage:write scope
        runtime.lineage.ingest(ana, events[:1])
    with pytest.raises(LakeholdError):  # not an event
        runtime.lineage.ingest(admin, [{"eventType": "START"}, {}, {}])
    assert sample("lakehold_lineage_events_total", outcome="accepted") == accepted + 2
    assert sample("lakehold_lineage_events_total", outcome="refused") == refused + 4


# -- webhooks --------------------------------------------------------------------------------


def test_webhook_attempts_by_outcome(runtime: Runtime, admin: Principal) -> None:
    runtime.network.allow(admin, "127.0.0.1:*", description="test webhook receivers")
    outcomes = ("delivered", "retry", "failed")
    before = {o: sample("lakehold_webhook_deliveries_total", outcome=o) for o in outcomes}

    def moved() -> dict[str, float]:
        now = {o: sample("lakehold_webhook_deliveries_total", outcome=o) for o in outcomes}
        return {o: now[o] - before[o] for o in outcomes}

    with receiver() as endpoint:
        runtime.webhooks.create(admin, endpoint.url, "a-secret-for-signing-0123")
        with runtime.store.session() as session:
            emit(session, SUBSCRIPTION_REQUESTED, {"request_id": "r1", "project": None})
        later = utcnow() + timedelta(seconds=1)
        assert runtime.webhooks.deliver_due(later) == 1
        assert moved() == {"delivered": 1, "retry": 0, "failed": 0}

        endpoint.fail(10)
        runtime.webhooks.dispatcher.max_attempts = 2
        with runtime.store.session() as session:
            emit(session, SUBSCRIPTION_REQUESTED, {"request_id": "r2", "project": None})
        later = utcnow() + timedelta(seconds=1)  # due now, however long the first one took
        assert runtime.webhooks.deliver_due(later) == 1
        assert moved() == {"delivered": 1, "retry": 1, "failed": 0}
        assert runtime.webhooks.deliver_due(later + timedelta(days=1)) == 1
        assert moved() == {"delivered": 1, "retry": 1, "failed": 1}


# -- secrets ---------------------------------------------------------------------------------


def fingerprint(key: bytes) -> str:
    return hashlib.sha256(base64.urlsafe_b64decode(key)).hexdigest()[:8]


def test_secret_decryptions_by_the_fingerprint_of_the_key(tmp_path, runtime: Runtime) -> None:
    secrets = runtime.secrets
    current = secrets.key_file.read_text().split()[0].encode()
    assert key_id(current) == fingerprint(current) and len(key_id(current)) == 8
    before = sample("lakehold_secret_decryptions_total", key_id=fingerprint(current))
    sealed = secrets.encrypt("hunter2")
    assert secrets.decrypt(sealed) == "hunter2"
    assert secrets.decrypt(sealed) == "hunter2"
    assert sample("lakehold_secret_decryptions_total", key_id=fingerprint(current)) == before + 2

    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed_old = Secrets(Settings(home=tmp_path / "a", secret_key=SecretStr(old.decode())))
    token = sealed_old.encrypt("pw")
    rotating = Secrets(
        Settings(
            home=tmp_path / "b",
            secret_key=SecretStr(new.decode()),
            secret_key_previous=SecretStr(old.decode()),
        )
    )
    old_count = sample("lakehold_secret_decryptions_total", key_id=fingerprint(old))
    new_count = sample("lakehold_secret_decryptions_total", key_id=fingerprint(new))
    assert rotating.decrypt(token) == "pw"  # opened by the previous key
    assert rotating.decrypt(rotating.encrypt("pw2")) == "pw2"  # by the current one
    assert sample("lakehold_secret_decryptions_total", key_id=fingerprint(old)) == old_count + 1
    assert sample("lakehold_secret_decryptions_total", key_id=fingerprint(new)) == new_count + 1
    with pytest.raises(LakeholdError):
        secrets.decrypt(token)  # no key fits: nothing counted
    assert sample("lakehold_secret_decryptions_total", key_id=fingerprint(current)) == before + 2


# -- metadata pool ---------------------------------------------------------------------------


def test_pool_checked_out_and_idle(runtime: Runtime) -> None:
    with runtime.store.engine.connect() as warm:  # at least one pooled connection
        warm.execute(text("select 1"))
    out = sample("lakehold_metadata_pool_connections", state="checked_out")
    idle = sample("lakehold_metadata_pool_connections", state="idle")
    with runtime.store.engine.connect() as connection:
        connection.execute(text("select 1"))
        assert sample("lakehold_metadata_pool_connections", state="checked_out") == out + 1
        assert sample("lakehold_metadata_pool_connections", state="idle") == idle - 1
    assert sample("lakehold_metadata_pool_connections", state="checked_out") == out
    assert sample("lakehold_metadata_pool_connections", state="idle") == idle
