"""Running statements on real Delta tables: binding, views, limits, stop, error messages."""

from __future__ import annotations

import decimal
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehold.errors import Forbidden, Invalid, LakeholdError, NotFound, Timeout
from lakehold.query import (
    BoundTable,
    CancelHandle,
    Cancelled,
    Plan,
    TableRef,
    execute,
    plan,
    prepare,
    run,
    sandboxes,
)

CUSTOMER = TableRef("retail", "customer")
ORDERS = TableRef("retail", "orders")
LONG_QUERY = "SELECT count(*) FROM range(100000000) a, range(1000) b"


def rows(sql: str, resolved: dict, **kwargs) -> list[dict]:
    result = run(prepare(sql, default_project="retail"), resolved, max_rows=1000, **kwargs)
    return result.table.to_pylist()


def test_select_from_a_delta_table(customers, bind):
    got = rows("SELECT id, name FROM retail.customer ORDER BY id", {CUSTOMER: bind(customers)})
    assert got == [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bob"}, {"id": 3, "name": "Cy"}]


def test_table_name_is_the_alias_when_none_is_given(customers, bind):
    sql = "SELECT customer.name, retail.customer.region FROM retail.customer WHERE customer.id = 1"
    assert rows(sql, {CUSTOMER: bind(customers)}) == [{"name": "Ada", "region": "EU"}]


def test_user_alias_and_self_join(customers, bind):
    sql = """
        SELECT a.name AS left_name, b.name AS right_name
        FROM retail.customer a JOIN customer b ON a.region = b.region AND a.id < b.id
    """
    assert rows(sql, {CUSTOMER: bind(customers)}) == [{"left_name": "Ada", "right_name": "Cy"}]


def test_schema_types_are_kept(customers, bind):
    result = run(prepare("SELECT * FROM retail.customer"), {CUSTOMER: bind(customers)}, max_rows=10)
    assert result.table.schema.field("balance").type == pa.decimal128(12, 2)
    assert result.table.schema.field("since").type == pa.date32()
    assert [c["type"] for c in result.columns] == [
        "BIGINT",
        "VARCHAR",
        "VARCHAR",
        "DECIMAL(12,2)",
        "DATE",
    ]


def test_schema_column_missing_from_files_is_null(customers, bind):
    # A column added after the files were written: in the Delta schema, in no data file.
    old = bind(customers)
    schema = old.schema.append(pa.field("email", pa.string()))
    table = BoundTable(files=old.files, schema=schema)
    got = rows("SELECT id, email FROM retail.customer ORDER BY id", {CUSTOMER: table})
    assert got == [{"id": 1, "email": None}, {"id": 2, "email": None}, {"id": 3, "email": None}]


def test_schema_evolution_across_files(customers, bind):
    write_deltalake(
        str(customers),
        pa.table(
            {
                "id": pa.array([4], pa.int64()),
                "name": ["Di"],
                "region": ["US"],
                "balance": pa.array([decimal.Decimal("1.00")], pa.decimal128(12, 2)),
                "since": pa.array([None], pa.date32()),
                "email": ["di@example.com"],
            }
        ),
        mode="append",
        schema_mode="merge",
    )
    got = rows("SELECT id, email FROM retail.customer ORDER BY id", {CUSTOMER: bind(customers)})
    assert got[-1] == {"id": 4, "email": "di@example.com"}
    assert [r["email"] for r in got[:3]] == [None, None, None]


def test_table_without_files_is_an_empty_typed_relation(customers, bind):
    empty = BoundTable(files=[], schema=bind(customers).schema)
    result = run(prepare("SELECT * FROM retail.customer"), {CUSTOMER: empty}, max_rows=10)
    assert result.table.num_rows == 0
    assert result.table.schema.field("balance").type == pa.decimal128(12, 2)


def test_partition_columns_come_from_partition_values(orders, bind):
    sql = "SELECT status, count(*) AS n FROM retail.orders GROUP BY status ORDER BY status"
    got = rows(sql, {ORDERS: bind(orders)})
    assert got == [
        {"status": "open", "n": 2},
        {"status": "shipped", "n": 1},
        {"status": None, "n": 1},
    ]


def test_timestamps_are_utc(orders, bind):
    got = rows("SELECT min(ordered_at)::VARCHAR AS t FROM retail.orders", {ORDERS: bind(orders)})
    assert got == [{"t": "2024-01-01 00:00:00+00"}]


def test_time_travel_reads_the_bound_version(customers, bind):
    write_deltalake(
        str(customers),
        pa.table({"id": pa.array([9], pa.int64()), "name": ["Zed"], "region": ["EU"]}),
        mode="append",
        schema_mode="merge",
    )
    sql = """
        SELECT (SELECT count(*) FROM retail.customer VERSION AS OF 0) AS then,
               (SELECT count(*) FROM retail.customer) AS now
    """
    prepared = prepare(sql)
    resolved = {
        TableRef("retail", "customer", version=0): bind(customers, version=0),
        CUSTOMER: bind(customers),
    }
    result = run(prepared, resolved, max_rows=10)
    assert result.table.to_pylist() == [{"then": 3, "now": 4}]


def test_unbound_reference_is_not_found(customers, bind):
    with pytest.raises(NotFound, match=r"retail\.orders"):
        rows("SELECT * FROM retail.customer, retail.orders", {CUSTOMER: bind(customers)})


def test_granted_columns_only(customers, bind):
    table = bind(customers, columns=["ID", "name"])
    got = rows("SELECT * FROM retail.customer ORDER BY id", {CUSTOMER: table})
    assert got[0] == {"id": 1, "name": "Ada"}
    with pytest.raises(Invalid) as caught:
        rows("SELECT region FROM retail.customer", {CUSTOMER: table})
    assert "region" in caught.value.message


def test_row_filter_may_use_columns_that_are_not_granted(customers, bind):
    table = bind(customers, columns=["id", "name"], row_filter="region = 'EU' AND id > 0")
    got = rows("SELECT * FROM retail.customer ORDER BY id", {CUSTOMER: table})
    assert got == [{"id": 1, "name": "Ada"}, {"id": 3, "name": "Cy"}]


def test_row_filter_on_partition_column(orders, bind):
    table = bind(orders, row_filter="status IS NOT NULL AND status <> 'shipped'")
    got = rows("SELECT order_id FROM retail.orders ORDER BY 1", {ORDERS: table})
    assert got == [{"order_id": 10}, {"order_id": 12}]


def test_user_predicates_never_run_on_rows_the_row_filter_hides(customers, bind):
    table = bind(customers, row_filter="region = 'EU'")
    plan_sql = plan(prepare("SELECT 1 FROM retail.customer"), {CUSTOMER: table}).views[0].sql
    assert plan_sql.endswith(f"LIMIT {(1 << 63) - 1}")  # the barrier against pushdown
    got = rows(
        "SELECT name FROM retail.customer WHERE CASE WHEN region <> 'EU' THEN error(name) "
        "ELSE true END ORDER BY 1",
        {CUSTOMER: table},
    )
    assert got == [{"name": "Ada"}, {"name": "Cy"}]
    with pytest.raises(Invalid) as caught:
        rows("SELECT * FROM retail.customer WHERE CAST(name AS INT) = 1", {CUSTOMER: table})
    assert "Bob" not in caught.value.message


@pytest.mark.parametrize(
    "row_filter",
    ["id IN (SELECT 1)", "getenv('HOME') IS NULL", "id = 1; DROP TABLE x", "id = ("],
)
def test_bad_row_filters_are_refused(customers, bind, row_filter):
    with pytest.raises((Invalid, Forbidden)):
        rows("SELECT * FROM retail.customer", {CUSTOMER: bind(customers, row_filter=row_filter)})


def test_unknown_granted_column_is_invalid(customers, bind):
    with pytest.raises(Invalid):
        rows("SELECT 1 FROM retail.customer", {CUSTOMER: bind(customers, columns=["nope"])})


def test_max_rows_truncates_and_says_so():
    prepared = prepare("SELECT * FROM range(10000) t(x) ORDER BY x")
    result = run(prepared, {}, max_rows=25)
    assert result.truncated
    assert result.table.column("x").to_pylist() == list(range(25))
    exact = run(prepare("SELECT * FROM range(25) t(x)"), {}, max_rows=25)
    assert not exact.truncated and exact.table.num_rows == 25
    none = run(prepared, {}, max_rows=0)
    assert none.truncated and none.table.num_rows == 0 and none.table.column_names == ["x"]


def test_timeout_interrupts_a_long_query():
    started = time.monotonic()
    with pytest.raises(Timeout, match="timeout"):
        run(prepare(LONG_QUERY), {}, max_rows=10, timeout_s=0.3)
    assert time.monotonic() - started < 10


def test_cancel_interrupts_a_running_query():
    handle = CancelHandle()
    timer = threading.Timer(0.3, handle.cancel)
    timer.start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        run(prepare(LONG_QUERY), {}, max_rows=10, cancel=handle)
    assert time.monotonic() - started < 10
    assert handle.cancelled
    assert not handle.cancel()  # already stopped


def test_cancel_before_start_never_runs():
    handle = CancelHandle()
    assert handle.cancel()
    with pytest.raises(Cancelled):
        run(prepare("SELECT 1"), {}, max_rows=10, cancel=handle)


def test_threads_and_memory_limit(customers, bind):
    got = rows(
        "SELECT count(*) AS n FROM retail.customer",
        {CUSTOMER: bind(customers)},
        threads=1,
        memory_limit="256MB",
    )
    assert got == [{"n": 3}]


def test_binder_error_names_the_users_table_not_the_view(customers, bind):
    with pytest.raises(Invalid) as caught:
        rows("SELECT nope FROM retail.customer", {CUSTOMER: bind(customers)})
    message = caught.value.message
    assert "nope" in message
    assert "_lh_" not in message
    assert str(customers) not in message and "parquet" not in message


def test_conversion_error_is_clean(customers, bind):
    with pytest.raises(Invalid) as caught:
        rows("SELECT CAST(name AS INTEGER) FROM retail.customer", {CUSTOMER: bind(customers)})
    message = caught.value.message
    assert "Conversion Error" in message
    assert "_lh_" not in message and str(customers) not in message and "LINE" not in message


def test_missing_data_file_error_has_no_path(customers, bind):
    prepared = prepare("SELECT * FROM retail.customer")
    the_plan = plan(prepared, {CUSTOMER: bind(customers)})
    for file in the_plan.files:
        Path(file).unlink()
    with pytest.raises(LakeholdError) as caught:
        execute(the_plan, max_rows=10)
    message = caught.value.message
    assert str(customers) not in message and "/tmp" not in message and "_lh_" not in message


def test_plan_lists_exactly_the_files_of_the_bound_tables(customers, orders, bind):
    resolved = {CUSTOMER: bind(customers), ORDERS: bind(orders)}
    the_plan = plan(prepare("SELECT * FROM retail.orders"), resolved)
    assert sorted(the_plan.files) == sorted(resolved[ORDERS].files)
    assert set(the_plan.names.values()) == {"retail.orders"}


# Defence in depth: plans whose SQL never went through the checks.


def unchecked(sql: str, base: Plan | None = None) -> Plan:
    base = base or Plan(sql="SELECT 1")
    return Plan(sql=sql, views=base.views, files=base.files, names=base.names)


def test_unchecked_read_csv_is_refused_by_duckdb():
    with pytest.raises(Forbidden) as caught:
        execute(unchecked("SELECT * FROM read_csv('/etc/passwd')"), max_rows=10)
    assert "/etc/passwd" not in caught.value.message


def test_unchecked_read_of_a_file_outside_the_plan_is_refused(customers, orders, bind):
    base = plan(prepare("SELECT * FROM retail.customer"), {CUSTOMER: bind(customers)})
    other = bind(orders).files[0]
    with pytest.raises(Forbidden):
        execute(unchecked(f"SELECT * FROM read_parquet('{other}')", base), max_rows=10)
    with pytest.raises(Forbidden):
        execute(unchecked(f"SELECT * FROM '{other}'", base), max_rows=10)
    view = base.views[0].name
    assert execute(unchecked(f"SELECT count(*) AS n FROM {view}", base), max_rows=1)[0].num_rows


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH '{tmp}/attached.db' AS x",
        "COPY (SELECT 42) TO '{tmp}/copied.csv'",
        "EXPORT DATABASE '{tmp}/exported'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "LOAD '{tmp}/x.duckdb_extension'",
        "SET enable_external_access = true",
        "SET allowed_paths = ['/']",
        "SET threads = 1",
        "RESET lock_configuration",
        "SET lock_configuration = false",
        "SELECT * FROM glob('{tmp}/*')",
    ],
)
def test_unchecked_statements_are_refused_by_duckdb(tmp_path, statement):
    with pytest.raises(LakeholdError):
        execute(unchecked(statement.format(tmp=tmp_path)), max_rows=10)
    assert list(tmp_path.iterdir()) == []


def test_the_connection_is_locked_down():
    settings = [
        "enable_external_access",
        "lock_configuration",
        "autoload_known_extensions",
        "autoinstall_known_extensions",
        "python_enable_replacements",
    ]
    sql = "SELECT " + ", ".join(f"current_setting('{s}') AS {s}" for s in settings)
    table, _ = execute(unchecked(sql), max_rows=1)
    assert table.to_pylist() == [
        {
            "enable_external_access": False,
            "lock_configuration": True,
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
            "python_enable_replacements": False,
        }
    ]


def test_every_statement_gets_a_fresh_database():
    # Even an unchecked statement that managed to create something leaves nothing behind.
    execute(unchecked("CREATE TABLE leftover AS SELECT 1 AS x"), max_rows=1)
    with pytest.raises(Invalid):
        execute(unchecked("SELECT * FROM leftover"), max_rows=1)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("WITH eu AS (SELECT * FROM customer WHERE region = 'EU') SELECT count(*) AS n FROM eu", 2),
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
            "SELECT sum(n * id) AS n FROM r, customer",
            36,
        ),
        ("(SELECT count(*) AS n FROM customer)", 3),
        ("(WITH c AS (SELECT * FROM customer) SELECT count(*) AS n FROM c)", 3),
        ("VALUES ((SELECT count(*) FROM customer))", 3),
        ("SELECT count(*) AS n FROM customer UNION ALL SELECT 0 ORDER BY 1 DESC LIMIT 1", 3),
        ("FROM customer SELECT count(*) AS n", 3),
    ],
)
def test_statement_shapes_read_the_views(customers, bind, sql, expected):
    (row,) = rows(sql, {CUSTOMER: bind(customers)})
    assert list(row.values()) == [expected]


def test_column_names_that_need_quoting(tmp_path, bind):
    path = tmp_path / "odd"
    write_deltalake(str(path), pa.table({"Full Name": ["Ada"], 'say "hi"': [1], "select": [2]}))
    table = bind(path, row_filter='"select" = 2')
    got = rows(
        'SELECT "full name", "say ""hi""", "select" FROM retail.odd',
        {TableRef("retail", "odd"): table},
    )
    assert got == [{"Full Name": "Ada", 'say "hi"': 1, "select": 2}]


def test_spilling_to_disk_works_in_the_sandbox():
    sql = "SELECT count(*) AS n FROM (SELECT DISTINCT md5(x::VARCHAR) FROM range(1500000) t(x))"
    result = run(prepare(sql), {}, max_rows=1, memory_limit="40MB", threads=1)
    assert result.table.to_pylist() == [{"n": 1_500_000}]


def test_a_linked_plan_cannot_read_its_own_files_by_their_paths(customers, bind, tmp_path):
    """The governed path reads data through private links: the data files' own paths (which an
    attacker may know) are not readable, even by a statement that reads the same table."""
    from lakehold.query.footers import local_path
    from lakehold.query.scan_files import ScanFiles

    table = bind(customers, row_filter="region = 'EU'")
    originals = [local_path(f) for f in table.files]
    with ScanFiles(tmp_path / "scans") as scan:
        base = plan(prepare("SELECT * FROM retail.customer"), {CUSTOMER: table}, scan)
        assert set(base.files) == set(scan.links)
        assert not set(originals) & set(base.files)
        assert not any(original in view.sql for view in base.views for original in originals)
        for original in originals:
            for sql in (f"SELECT * FROM '{original}'", f"SELECT * FROM read_parquet('{original}')"):
                with pytest.raises(Forbidden):
                    execute(unchecked(sql, base), max_rows=10)
        view = base.views[0].name
        got, _ = execute(unchecked(f"SELECT count(*) AS n FROM {view}", base), max_rows=1)
        assert got.to_pylist() == [{"n": 2}]
    assert not scan.directory.exists()


def test_run_removes_the_statement_links(customers, bind, tmp_path):
    scans = tmp_path / "scans"
    result = run(
        prepare("SELECT count(*) AS n FROM retail.customer"),
        {CUSTOMER: bind(customers)},
        max_rows=1,
        scan_root=scans,
    )
    assert result.table.to_pylist() == [{"n": 3}]
    sandboxes.drain()  # links are removed in the background, before the sandbox serves again
    assert [link for link in scans.rglob("*") if link.is_file() and link.suffix != ".duckdb"] == []
