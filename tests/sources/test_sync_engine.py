"""The sync engine on its own (no store): reads, checks, resolution, pushdown, watermarks."""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa
import pytest

from lakehold.connectors.attach import ConnectionSpec
from lakehold.connectors.sync_engine import (
    SyncDefinition,
    describe,
    read_changes,
    source_select,
    sql_literal,
)
from lakehold.errors import Invalid, SourceUnavailable
from tests.sources.conftest import SourceDb
from tests.sources.test_sync_jobs import at, insert, ts


def spec_of(source: SourceDb) -> ConnectionSpec:
    return ConnectionSpec("crm", source.kind, dict(source.params))


@pytest.fixture
def source(accounts: SourceDb) -> SourceDb:
    insert(
        accounts,
        f"(1, 'Acme', 'A', 10, false, {ts(1)})",
        f"(NULL, 'Ghost', 'B', 0, false, {ts(2)})",
        f"(2, NULL, 'C', 20, false, {ts(3)})",
        f"(3, 'Initech', 'D', 30, true, {ts(4)})",
        f"(2, 'Globex', 'E', 21, false, {ts(6)})",
        f"(2, 'Globex old', 'E', 20, false, {ts(5)})",
    )
    return accounts


def definition(source: SourceDb, **fields) -> SyncDefinition:
    return SyncDefinition(
        source_table=f"{source.schema}.account",
        mode=fields.pop("mode", "incremental"),
        watermark_column="last_modified",
        key_columns=("id",),
        delete_column="is_deleted",
        not_null_columns=("name",),
        **fields,
    )


def test_incremental_first_read_checks_and_resolves(source: SourceDb):
    seen = []
    batch = read_changes(
        spec_of(source),
        definition(source),
        None,
        progress=lambda done, total: seen.append((done, total)),
        batch_rows=2,
    )
    assert batch.rows_read == 6 and batch.watermark == str(at(6))
    assert [(r["id"], r["name"]) for r in batch.rows.to_pylist()] == [
        (1, "Acme"),
        (3, "Initech"),
        (2, "Globex"),
    ]
    assert batch.operations.to_pylist() == ["U", "D", "U"]
    assert [(r["name"], r["_error_reason"]) for r in batch.rejected.to_pylist()] == [
        ("Ghost", "key column 'id' is NULL"),
        (None, "column 'name' is NULL"),
    ]
    assert set(batch.rejected.schema.types) == {pa.string()}
    assert seen[0] == (0, 6) and seen[-1] == (6, 6) and len(seen) >= 3


def test_incremental_reads_only_newer_rows(source: SourceDb):
    batch = read_changes(spec_of(source), definition(source), str(at(4)))
    assert batch.rows_read == 2
    assert batch.rows.column("name").to_pylist() == ["Globex"]
    nothing = read_changes(spec_of(source), definition(source), str(at(6)))
    assert (nothing.rows_read, nothing.rows.num_rows, nothing.watermark) == (0, 0, str(at(6)))


def test_full_read_drops_deleted_rows(source: SourceDb):
    batch = read_changes(spec_of(source), definition(source, mode="full"), str(at(6)))
    assert batch.rows_read == 6  # the watermark is not applied in full mode
    assert batch.rows.column("id").to_pylist() == [1, 2]
    assert batch.operations.to_pylist() == ["U", "U"]


def test_pushdown_sql():
    table = SyncDefinition(source_table="crm.account", watermark_column="m")
    assert source_select(table, "postgresql", after="'x'") == (
        'SELECT * FROM "crm"."account" WHERE "m" > \'x\''
    )
    query = SyncDefinition(source_query="SELECT 1 AS m;", watermark_column="m")
    assert source_select(query, "mysql", after="5") == (
        "SELECT * FROM (SELECT 1 AS m) AS lakehold_query WHERE `m` > 5"
    )
    moment = pa.timestamp("us", tz="UTC")
    assert sql_literal("2024-01-01 10:00:00+02:00", moment, "mysql") == "'2024-01-01 08:00:00'"
    assert sql_literal("o'k\\", pa.string(), "mysql") == "'o''k\\\\'"
    assert sql_literal("12.5", pa.decimal128(5, 1), "postgresql") == "12.5"
    with pytest.raises(Invalid):
        sql_literal("1; drop table x", pa.int64(), "postgresql")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mode": "incremental", "key_columns": ()}, "key_columns"),
        ({"mode": "incremental", "watermark_column": None}, "watermark_column"),
        ({"source_table": None}, "source"),
        ({"source_table": "x; drop"}, "source_table"),
        ({"delete_column": "d", "operation_column": "o"}, "operation_column"),
    ],
)
def test_definition_checks(fields: dict, field: str):
    base = SyncDefinition(source_table="s.t", mode="full", watermark_column="m", key_columns=("k",))
    with pytest.raises(Invalid) as raised:
        replace(base, **fields).check()
    assert raised.value.details["field"] == field


def test_unknown_columns_name_the_field(source: SourceDb):
    schema = describe(spec_of(source), definition(source))
    assert schema.names[:2] == ["id", "name"]
    with pytest.raises(Invalid) as raised:
        definition(source, operation_column="op").validate(schema)
    assert raised.value.details["field"] == "operation_column"


def test_source_down(source: SourceDb):
    down = ConnectionSpec("crm", "postgresql", {**source.params, "port": 1}, secret="s3cret")
    with pytest.raises(SourceUnavailable) as raised:
        read_changes(down, definition(source), None)
    assert "'crm'" in raised.value.message and "s3cret" not in raised.value.message


def test_mariadb_query_source(mysql_source: SourceDb):
    mysql_source.execute("CREATE TABLE {schema}.event (id INT, kind VARCHAR(10), at DATETIME(6))")
    mysql_source.execute(
        "INSERT INTO {schema}.event VALUES (1, 'a', '2024-01-01'), (1, 'b', '2024-01-03'), "
        "(2, 'c', '2024-01-02')"
    )
    query = SyncDefinition(
        source_query=f"SELECT id, kind, at FROM {mysql_source.schema}.event WHERE kind <> 'c'",
        mode="incremental",
        watermark_column="at",
        key_columns=("id",),
    )
    batch = read_changes(spec_of(mysql_source), query, "2024-01-01 00:00:00")
    assert batch.rows.to_pylist()[0]["kind"] == "b" and batch.rows_read == 1
    assert batch.watermark == "2024-01-03 00:00:00"
