"""Sync jobs end to end against a real PostgreSQL (and MariaDB) source: the Salesforce →
Snowflake story (full load, then incremental by LastModifiedDate with upserts and deletes),
with exact target contents after each run, error rows, idempotence and failed runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lakehold.errors import Conflict, Forbidden, Invalid, NotFound, SourceUnavailable
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.sync import SyncJob
from tests.sharing import add_member, new_user
from tests.sources.conftest import SourceDb, Team

COLUMNS = ("id", "name", "industry", "annual_revenue", "is_deleted", "last_modified")


def at(day: int) -> datetime:
    """The source's LastModifiedDate of change ``day``."""
    return datetime(2024, 1, day, 10, 0, tzinfo=UTC)


def ts(day: int) -> str:
    return f"'{at(day).isoformat()}'"


def insert(source: SourceDb, *rows: str) -> None:
    source.execute("INSERT INTO {schema}.account VALUES " + ", ".join(rows))


def account(id_, name, industry, revenue, day, deleted=False) -> dict:
    return dict(
        zip(COLUMNS, (id_, name, industry, Decimal(revenue), deleted, at(day)), strict=True)
    )


def table_rows(runtime: Runtime, table: str, order: str = "id") -> list[dict]:
    rows = runtime.tables.read(runtime.tables.path_for("sales", table)).to_pylist()
    return sorted(rows, key=lambda r: (r[order] is None, r[order]))


def create_job(runtime: Runtime, principal: Principal, **fields) -> None:
    defaults = dict(
        connection="crm",
        target_table="account",
        source_table=None,
        mode="incremental",
        watermark_column="last_modified",
        key_columns=["id"],
        delete_column="is_deleted",
        not_null_columns=["name"],
    )
    if "source_query" not in fields:
        defaults["source_table"] = "{schema}.account"
    values = {**defaults, **fields}
    if values.get("source_table"):
        values["source_table"] = values["source_table"].replace("{schema}", fields.pop("_schema"))
    values.pop("_schema", None)
    runtime.sync_jobs.create(principal, "sales", "accounts", **values)


@pytest.fixture
def job(runtime: Runtime, team: Team, crm: SourceDb) -> SourceDb:
    """Job ``sales.accounts``: account → account, incremental on last_modified, key id,
    is_deleted marks deletes, name NOT NULL; the source holds three accounts."""
    insert(
        crm,
        f"(1, 'Acme', 'Manufacturing', 1000, false, {ts(1)})",
        f"(2, 'Globex', 'Energy', 2000, false, {ts(2)})",
        f"(3, 'Initech', 'Software', 300.50, false, {ts(3)})",
    )
    create_job(runtime, team.owner, _schema=crm.schema)
    return crm


def counts(run) -> tuple:
    return (
        run.status,
        run.rows_read,
        run.rows_inserted,
        run.rows_updated,
        run.rows_deleted,
        run.rows_rejected,
    )


INITIAL = [
    account(1, "Acme", "Manufacturing", "1000.00", 1),
    account(2, "Globex", "Energy", "2000.00", 2),
    account(3, "Initech", "Software", "300.50", 3),
]
AFTER_CHANGES = [
    account(1, "Acme Inc", "Manufacturing", "1100.00", 9),
    account(2, "Globex", "Utilities", "2000.00", 5),
    account(4, "Umbrella", "Pharma", "4000.00", 4),
]


def make_changes(source: SourceDb) -> None:
    """An insert, an update, a soft delete, a row without key, two edits of account 1 (the
    later one stored first)."""
    insert(source, f"(4, 'Umbrella', 'Pharma', 4000, false, {ts(4)})")
    source.execute(
        f"UPDATE {{schema}}.account SET industry = 'Utilities', last_modified = {ts(5)} "
        "WHERE id = 2"
    )
    source.execute(
        f"UPDATE {{schema}}.account SET is_deleted = true, last_modified = {ts(6)} WHERE id = 3"
    )
    insert(
        source,
        f"(NULL, 'Ghost', 'None', 0, false, {ts(7)})",
        f"(1, 'Acme Inc', 'Manufacturing', 1100, false, {ts(9)})",
        f"(1, 'Acme Corp', 'Manufacturing', 1050, false, {ts(8)})",
    )


def test_salesforce_story_full_then_incremental(runtime: Runtime, team: Team, job: SourceDb):
    first = runtime.sync_jobs.run(team.owner, "sales", "accounts")
    assert counts(first) == ("succeeded", 3, 3, 0, 0, 0)
    assert table_rows(runtime, "account") == INITIAL
    assert runtime.sync_jobs.get(team.owner, "sales", "accounts").last_watermark == str(at(3))

    make_changes(job)
    second = runtime.sync_jobs.run(team.owner, "sales", "accounts")
    assert counts(second) == ("succeeded", 6, 1, 2, 1, 1)
    assert (second.watermark_before, second.watermark_after) == (str(at(3)), str(at(9)))
    assert table_rows(runtime, "account") == AFTER_CHANGES
    errors = table_rows(runtime, "account_errors", order="name")
    assert len(errors) == 1
    rejected_at = errors[0].pop("_rejected_at")
    assert errors[0] == {
        "id": None,
        "name": "Ghost",
        "industry": "None",
        "annual_revenue": "0.00",
        "is_deleted": "false",
        "last_modified": "2024-01-07 10:00:00.000000Z",
        "_error_reason": "key column 'id' is NULL",
        "_sync_run_id": second.id,
    }
    assert rejected_at.tzinfo is not None

    asset = runtime.catalog.get_asset(team.owner, "sales", "account")
    assert (asset.row_count, [c.name for c in asset.columns]) == (3, list(COLUMNS))
    version = asset.current_version

    again = runtime.sync_jobs.run(team.owner, "sales", "accounts")
    assert counts(again) == ("succeeded", 0, 0, 0, 0, 0)
    assert again.watermark_after == str(at(9))
    assert table_rows(runtime, "account") == AFTER_CHANGES
    assert runtime.catalog.get_asset(team.owner, "sales", "account").current_version == version

    history = runtime.sync_jobs.runs(team.owner, "sales", "accounts")
    assert [r.id for r in history] == [again.id, second.id, first.id]
    assert all(r.duration_seconds is not None and r.finished_at for r in history)


def test_reapplying_a_batch_changes_nothing(runtime: Runtime, team: Team, job: SourceDb):
    """A crash after the Delta commit and before the metadata update: the watermark stays,
    the next run merges the same changes again, and the target is the same."""
    runtime.sync_jobs.run(team.owner, "sales", "accounts")
    make_changes(job)
    service = runtime.sync_jobs
    original = service._succeed

    def crash(*args, **kwargs):
        raise RuntimeError("metadata store went away")

    service._succeed = crash
    with pytest.raises(Exception, match="metadata store went away"):
        service.run(team.owner, "sales", "accounts")
    service._succeed = original
    assert table_rows(runtime, "account") == AFTER_CHANGES  # committed before the crash
    failed = service.runs(team.owner, "sales", "accounts")[0]
    assert failed.status == "failed" and "metadata store went away" in failed.error
    assert service.get(team.owner, "sales", "accounts").last_watermark == str(at(3))

    retry = service.run(team.owner, "sales", "accounts")
    assert counts(retry) == ("succeeded", 6, 0, 0, 0, 1)
    assert table_rows(runtime, "account") == AFTER_CHANGES
    assert retry.watermark_after == str(at(9))


def test_failed_commit_keeps_watermark_and_target(
    runtime: Runtime, team: Team, job: SourceDb, monkeypatch: pytest.MonkeyPatch
):
    runtime.sync_jobs.run(team.owner, "sales", "accounts")
    make_changes(job)

    def refuse(*args, **kwargs):
        raise Conflict("another write changed the table; try again")

    monkeypatch.setattr(runtime.table_service, "write", refuse)
    with pytest.raises(Conflict):
        runtime.sync_jobs.run(team.owner, "sales", "accounts")
    monkeypatch.undo()
    assert table_rows(runtime, "account") == INITIAL
    assert runtime.sync_jobs.get(team.owner, "sales", "accounts").last_watermark == str(at(3))
    last = runtime.sync_jobs.runs(team.owner, "sales", "accounts")[0]
    assert (last.status, last.error, last.watermark_after) == (
        "failed",
        "another write changed the table; try again",
        None,
    )
    assert counts(runtime.sync_jobs.run(team.owner, "sales", "accounts"))[:5] == (
        "succeeded",
        6,
        1,
        2,
        1,
    )
    assert table_rows(runtime, "account") == AFTER_CHANGES


def test_source_down_fails_the_run(runtime: Runtime, team: Team, job: SourceDb):
    runtime.sync_jobs.run(team.owner, "sales", "accounts")
    make_changes(job)
    runtime.connections.update(team.owner, "sales", "crm", params={"port": 1})
    with pytest.raises(SourceUnavailable, match="'crm'"):
        runtime.sync_jobs.run(team.owner, "sales", "accounts")
    last = runtime.sync_jobs.runs(team.owner, "sales", "accounts")[0]
    assert last.status == "failed" and "unavailable" in last.error
    assert runtime.sync_jobs.get(team.owner, "sales", "accounts").last_watermark == str(at(3))
    assert table_rows(runtime, "account") == INITIAL

    runtime.connections.update(team.owner, "sales", "crm", params={"port": 5432})
    runtime.sync_jobs.run(team.owner, "sales", "accounts")
    assert table_rows(runtime, "account") == AFTER_CHANGES


def test_full_mode_replaces_and_removes_vanished_rows(runtime: Runtime, team: Team, job: SourceDb):
    runtime.sync_jobs.update(team.owner, "sales", "accounts", {"mode": "full"})
    assert counts(runtime.sync_jobs.run(team.owner, "sales", "accounts")) == (
        "succeeded",
        3,
        3,
        0,
        0,
        0,
    )
    job.execute("DELETE FROM {schema}.account WHERE id = 2")
    make_changes(job)  # the update of 2 finds nothing
    run = runtime.sync_jobs.run(team.owner, "sales", "accounts")
    # read: 1, 1, 1, 3 (deleted), 4, NULL key; kept: 1 (latest), 4; previous rows replaced
    assert counts(run) == ("succeeded", 6, 2, 0, 3, 1)
    assert table_rows(runtime, "account") == [AFTER_CHANGES[0], AFTER_CHANGES[2]]

    # switching to incremental continues from the full run's watermark
    runtime.sync_jobs.update(team.owner, "sales", "accounts", {"mode": "incremental"})
    job_view = runtime.sync_jobs.get(team.owner, "sales", "accounts")
    assert job_view.last_watermark == str(at(9))
    assert runtime.sync_jobs.run(team.owner, "sales", "accounts").rows_read == 0


def test_operation_column(runtime: Runtime, team: Team, crm: SourceDb):
    crm.execute("CREATE TABLE {schema}.changes (op text, id int, name text, seq bigint, note text)")
    crm.execute(
        "INSERT INTO {schema}.changes VALUES ('I', 1, 'a', 1, NULL), ('I', 2, 'b', 2, NULL), "
        "('i', 3, 'c', 3, NULL)"
    )
    runtime.sync_jobs.create(
        team.owner,
        "sales",
        "changes",
        connection="crm",
        source_table=f"{crm.schema}.changes",
        target_table="items",
        watermark_column="seq",
        key_columns=["id"],
        operation_column="op",
    )
    assert counts(runtime.sync_jobs.run(team.owner, "sales", "changes")) == (
        "succeeded",
        3,
        3,
        0,
        0,
        0,
    )
    crm.execute(
        "INSERT INTO {schema}.changes VALUES ('U', 1, 'a2', 5, 'x'), (' d ', 2, 'b', 4, NULL), "
        "('D', 1, 'a', 6, NULL), ('I', 1, 'a3', 7, NULL), ('X', 3, 'bad', 8, NULL), "
        "('D', 9, 'never', 9, NULL)"
    )
    run = runtime.sync_jobs.run(team.owner, "sales", "changes")
    assert counts(run) == ("succeeded", 6, 0, 1, 1, 1)
    assert table_rows(runtime, "items") == [
        {"id": 1, "name": "a3", "seq": 7, "note": None},
        {"id": 3, "name": "c", "seq": 3, "note": None},
    ]
    errors = table_rows(runtime, "items_errors")
    assert errors[0]["_error_reason"] == "column 'op' holds 'X'; expected I, U or D"
    assert errors[0]["op"] == "X" and errors[0]["id"] == "3"


def test_sql_query_source(runtime: Runtime, team: Team, crm: SourceDb):
    insert(
        crm,
        f"(1, 'Acme', 'Manufacturing', 1000, false, {ts(1)})",
        f"(2, 'Globex', 'Energy', 2000, false, {ts(2)})",
    )
    runtime.sync_jobs.create(
        team.owner,
        "sales",
        "energy",
        connection="crm",
        source_query=(
            "SELECT id, upper(name) AS name, last_modified FROM "
            f"{crm.schema}.account WHERE industry = 'Energy';"
        ),
        target_table="energy",
        watermark_column="last_modified",
        key_columns=["id"],
    )
    runtime.sync_jobs.run(team.owner, "sales", "energy")
    insert(crm, f"(3, 'Initech', 'Energy', 5, false, {ts(3)})")
    crm.execute(f"UPDATE {{schema}}.account SET last_modified = {ts(4)} WHERE id = 1")
    run = runtime.sync_jobs.run(team.owner, "sales", "energy")
    assert counts(run) == ("succeeded", 1, 1, 0, 0, 0)
    assert table_rows(runtime, "energy") == [
        {"id": 2, "name": "GLOBEX", "last_modified": at(2)},
        {"id": 3, "name": "INITECH", "last_modified": at(3)},
    ]


def test_mariadb_source(runtime: Runtime, team: Team, mysql_source: SourceDb):
    mysql_source.execute(
        "CREATE TABLE {schema}.contact (id INT, email VARCHAR(100), deleted BOOLEAN, "
        "modified DATETIME(6))"
    )
    mysql_source.execute(
        "INSERT INTO {schema}.contact VALUES (1, 'a@x.io', 0, '2024-01-01 10:00:00.5'), "
        "(2, 'b@x.io', 0, '2024-01-02 10:00:00')"
    )
    runtime.connections.create(
        team.owner, "sales", "mdb", "mysql", dict(mysql_source.params), password=None
    )
    runtime.sync_jobs.create(
        team.owner,
        "sales",
        "contacts",
        connection="mdb",
        source_table=f"{mysql_source.schema}.contact",
        target_table="contact",
        watermark_column="modified",
        key_columns=["id"],
        delete_column="deleted",
    )
    assert runtime.sync_jobs.run(team.owner, "sales", "contacts").rows_inserted == 2
    mysql_source.execute(
        "UPDATE {schema}.contact SET deleted = 1, modified = '2024-01-03 00:00:00' WHERE id = 1"
    )
    mysql_source.execute("INSERT INTO {schema}.contact VALUES (3, 'c@x.io', 0, '2024-01-04')")
    run = runtime.sync_jobs.run(team.owner, "sales", "contacts")
    assert counts(run) == ("succeeded", 2, 1, 0, 1, 0)
    assert run.watermark_after == "2024-01-04 00:00:00"
    assert table_rows(runtime, "contact") == [
        {"id": 2, "email": "b@x.io", "deleted": False, "modified": datetime(2024, 1, 2, 10)},
        {"id": 3, "email": "c@x.io", "deleted": False, "modified": datetime(2024, 1, 4)},
    ]
    assert runtime.sync_jobs.run(team.owner, "sales", "contacts").rows_read == 0


def test_permissions(runtime: Runtime, admin: Principal, team: Team, job: SourceDb):
    contributor, _ = new_user(runtime, admin, "contrib")
    add_member(runtime, "sales", contributor, "contributor")
    assert runtime.sync_jobs.run(contributor, "sales", "accounts").status == "succeeded"
    assert [j.name for j in runtime.sync_jobs.list(team.viewer, "sales")] == ["accounts"]
    with pytest.raises(Forbidden):
        runtime.sync_jobs.run(team.viewer, "sales", "accounts")
    with pytest.raises(Forbidden):
        runtime.sync_jobs.delete(team.viewer, "sales", "accounts")
    with pytest.raises(NotFound):
        runtime.sync_jobs.run(team.outsider, "sales", "accounts")
    with pytest.raises(NotFound):
        runtime.sync_jobs.get(team.outsider, "sales", "accounts")
    denied = runtime.audit.events(admin, action="sync_job.run", allowed=False)
    assert {e.username for e in denied} == {"viewer", "outsider"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"watermark_column": "modified_at"}, "watermark_column"),
        ({"key_columns": []}, "key_columns"),
        ({"key_columns": ["nope"]}, "key_columns"),
        ({"not_null_columns": ["nope"]}, "not_null_columns"),
        ({"mode": "sometimes"}, "mode"),
        ({"target_table": "Bad Name"}, "target_table"),
        ({"source_table": "a.b.c"}, "source_table"),
        ({"source_table": "public.no_such_table"}, "source_table"),
        ({"source_query": "SELEC 1"}, "source_query"),
        ({"schedule": "every day"}, "schedule"),
        ({"delete_column": "name"}, "delete_column"),
    ],
)
def test_bad_input(runtime: Runtime, team: Team, crm: SourceDb, fields: dict, field: str):
    with pytest.raises(Invalid) as raised:
        create_job(runtime, team.owner, _schema=crm.schema, **fields)
    assert raised.value.details["field"] == field
    assert runtime.sync_jobs.list(team.owner, "sales") == []


def test_update_and_delete(runtime: Runtime, admin: Principal, team: Team, job: SourceDb):
    runtime.sync_jobs.run(team.owner, "sales", "accounts")
    service = runtime.sync_jobs
    updated = service.update(team.owner, "sales", "accounts", {"description": "CRM accounts"})
    assert updated.last_watermark == str(at(3))  # unrelated change keeps the watermark
    service.update(team.owner, "sales", "accounts", {"description": "CRM accounts"})  # no change
    audited = runtime.audit.events(admin, action="sync_job.update", allowed=True)
    assert [(e.details, e.resource) for e in audited] == [
        ({"sync_job": "accounts", "fields": ["description"]}, "project:sales")
    ] * 2
    moved = service.update(team.owner, "sales", "accounts", {"watermark_column": "last_modified"})
    assert moved.last_watermark == str(at(3))
    query = f"SELECT * FROM {job.schema}.account"
    changed = service.update(team.owner, "sales", "accounts", {"source_query": query})
    assert (changed.source_table, changed.source_query, changed.last_watermark) == (
        None,
        query,
        None,
    )
    with pytest.raises(Invalid) as raised:
        service.update(team.owner, "sales", "accounts", {"key_columns": ["missing"]})
    assert raised.value.details["field"] == "key_columns"
    with pytest.raises(Invalid):
        service.update(team.owner, "sales", "accounts", {"owner": "me"})
    with pytest.raises(Conflict):
        create_job(runtime, team.owner, _schema=job.schema)
    service.delete(team.owner, "sales", "accounts")
    assert service.list(team.owner, "sales") == []
    (deleted,) = runtime.audit.events(admin, action="sync_job.delete", allowed=True)
    assert (deleted.project, deleted.details) == ("sales", {"sync_job": "accounts"})
    assert table_rows(runtime, "account") == INITIAL  # the target stays
    create_job(runtime, team.owner, _schema=job.schema)
    with pytest.raises(Conflict):  # a connection with sync jobs cannot be deleted
        runtime.connections.delete(team.owner, "sales", "crm")


def test_run_due_runs_scheduled_jobs(runtime: Runtime, team: Team, job: SourceDb):
    service = runtime.sync_jobs
    service.update(team.owner, "sales", "accounts", {"schedule": "*/15 * * * *"})
    planned = service.get(team.owner, "sales", "accounts").next_run_at
    assert planned is not None and planned.minute % 15 == 0
    assert service.run_due(planned - timedelta(seconds=1)) == []
    runs = service.run_due(planned)
    assert [(r.trigger, r.status, r.rows_read) for r in runs] == [("schedule", "succeeded", 3)]
    after = service.get(team.owner, "sales", "accounts").next_run_at
    assert after > planned
    assert service.run_due(planned) == []  # claimed: not run twice
    with runtime.store.session() as session:
        assert session.query(SyncJob).one().schedule == "*/15 * * * *"


def test_sync_runs_are_recorded_as_lineage(runtime: Runtime, team: Team, job: SourceDb):
    """A sync run is one OpenLineage run of job ``sales.sync.account`` that reads the source
    table (named the OpenLineage way) and writes the target."""
    runtime.sync_jobs.run(team.owner, "sales", "accounts")
    graph = runtime.lineage.lineage(team.owner, "dataset:lakehold:sales.account", depth=2)
    nodes = {node["id"] for node in graph["graph"]}
    source = f"dataset:postgres://127.0.0.1:5432:{job.params['database']}.{job.schema}.account"
    assert {"job:lakehold:sales.sync.account", source} <= nodes
    runs = runtime.lineage.runs(team.owner, "lakehold", "sales.sync.account")
    assert [r["state"] for r in runs["runs"]] == ["COMPLETED"]
