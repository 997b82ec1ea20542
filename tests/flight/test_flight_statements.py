"""Statements over Arrow Flight SQL with the real ADBC driver: scenario 3's governed query, the
same refusals, records and audit as over HTTP, results streamed in batches, writes refused,
cancellation. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from lakehold.flight import protocol
from lakehold.flight.statements import MAX_BATCH_BYTES
from lakehold.runtime import Runtime
from tests.flight.conftest import SCENARIO, Retail, connect, uri
from tests.scenarios.helpers import ok
from tests.sharing import client_for


def _total(table: pa.Table) -> Decimal:
    return sum((v for v in table.column("sale_amount").to_pylist()), Decimal("0"))


def test_scenario_3_as_the_analyst_and_as_the_owner(server, retail: Retail) -> None:
    with connect(server, retail.analyst_token, project="analysts") as connection:
        cursor = connection.cursor()
        cursor.execute(SCENARIO)  # DBAPI: a prepared statement, executed
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
        amount = names.index("sale_amount")
        assert len(rows) == 7
        assert sum(row[amount] for row in rows) == Decimal("1500.00")
        assert "cust_email" not in names  # the column filter of customer
        assert {row[names.index("prod_id")] for row in rows} == {1}  # the row filter

        cursor.execute(SCENARIO)
        table = cursor.fetch_arrow_table()
        assert table.num_rows == 7 and _total(table) == Decimal("1500.00")
        assert table.schema.field("sale_amount").type == pa.decimal128(18, 2)

        statement = cursor.adbc_statement  # a plain CommandStatementQuery, not prepared
        statement.set_sql_query("select sum(sale_amount) as total from retail.store_sales")
        handle, _ = statement.execute_query()
        total = pa.RecordBatchReader._import_from_c(handle.address).read_all()
        assert total.column("total").to_pylist() == [Decimal("1500.00")]

    with connect(server, retail.owner_token) as connection:  # retail's owner: no filter
        cursor = connection.cursor()
        cursor.execute(SCENARIO)
        table = cursor.fetch_arrow_table()
        assert table.num_rows == 13 and _total(table) == Decimal("2410.00")
        assert "cust_email" in table.column_names


def _adbc_error(server, token: str, sql: str, project: str | None = None):
    with (
        connect(server, token, project=project) as connection,
        pytest.raises(adbc_driver_manager.Error) as refused,
    ):
        connection.cursor().execute(sql)
    return refused.value


def _http_error(runtime: Runtime, token: str, sql: str, project: str | None = None) -> dict:
    with client_for(runtime, token) as http:
        answer = http.post("/api/v1/query", json={"sql": sql, "project": project})
    return {"status": answer.status_code, **answer.json()}


REFUSALS = (  # sql, project, HTTP status, gRPC status as ADBC names it
    ("select * from retail.store_sales", None, 404, "NOT_FOUND"),  # not acting in analysts
    ("select * from retail.no_such_table", "analysts", 404, "NOT_FOUND"),
    ("select cust_email from retail.customer", "analysts", 400, "INVALID_ARGUMENT"),
    ("insert into retail.customer values (1, 'x', 'y', 'z')", "analysts", 403, "UNAUTHORIZED"),
    ("select * from read_csv('/etc/passwd')", "analysts", 403, "UNAUTHORIZED"),
    ("select 1 +", "analysts", 400, "INVALID_ARGUMENT"),
)


def test_refusals_read_exactly_as_over_http(server, retail: Retail, runtime: Runtime) -> None:
    for sql, project, status, grpc in REFUSALS:
        over_http = _http_error(runtime, retail.analyst_token, sql, project)
        assert over_http["status"] == status
        message = str(_adbc_error(server, retail.analyst_token, sql, project))
        # "<STATUS>: [FlightSQL] <the HTTP API's message>. Detail: ..." (ADR 0038)
        assert message.startswith(f"{grpc}: [FlightSQL] {over_http['message']}"), message
        assert 'File "/' not in message and '.py"' not in message  # no server path, no source
        assert "example.com" not in message  # no value of the hidden column


def test_writes_are_refused(server, retail: Retail) -> None:
    create = "create table analysts.copy as select * from retail.store_sales"
    error = _adbc_error(server, retail.analyst_token, create, "analysts")
    assert str(error).startswith("UNAUTHORIZED: [FlightSQL] CREATE is not accepted")
    with connect(server, retail.analyst_token, project="analysts") as connection:
        cursor = connection.cursor()
        statement = cursor.adbc_statement
        statement.set_sql_query("delete from retail.customer")
        with pytest.raises(adbc_driver_manager.Error, match="only reads: CommandStatementUpdate"):
            statement.execute_update()  # DoPut CommandStatementUpdate
        with pytest.raises(adbc_driver_manager.Error, match="only reads: CommandStatementIngest"):
            cursor.adbc_ingest("copy", pa.table({"a": [1]}), mode="create")
        with pytest.raises(adbc_driver_manager.Error, match="query parameters are not supported"):
            cursor.execute("select * from retail.customer where cust_id = ?", (1,))


def test_a_statement_is_recorded_and_audited_as_over_http(
    server, retail: Retail, runtime: Runtime, client
) -> None:
    with connect(server, retail.analyst_token, project="analysts") as connection:
        cursor = connection.cursor()
        cursor.execute("select count(*) as n from retail.store_sales")
        assert cursor.fetchall() == [(7,)]
        with pytest.raises(adbc_driver_manager.Error):
            cursor.execute("select * from retail.secret_table")
    with client_for(runtime, retail.analyst_token) as http:
        mine = ok(http.get("/api/v1/statements"))
    done = next(s for s in mine if s["sql"] == "select count(*) as n from retail.store_sales")
    assert done["status"] == "FINISHED" and done["result_rows"] == 1
    assert done["project"] == "analysts" and done["assets"] == ["retail.store_sales"]

    events = ok(client.get("/api/v1/audit", params={"limit": 1000}))
    admitted = next(e for e in events if e["action"] == "statement" and e["sql"] == done["sql"])
    assert admitted["allowed"] and admitted["username"] == "analyst"
    assert admitted["project"] == "analysts"
    assert admitted["details"]["statement"] == done["id"]
    assert admitted["details"]["grants"]["retail.store_sales"]["row_filter"] == "widget_a"
    assert admitted["request_id"]  # the Flight call's request id
    refused = next(e for e in events if e["action"] == "statement" and not e["allowed"])
    assert refused["sql"] == "select * from retail.secret_table"
    assert refused["reason"] == "no such table" and refused["username"] == "analyst"


def _raw(
    server, token: str, *, timeout: float | None = None
) -> tuple[flight.FlightClient, flight.FlightCallOptions]:
    """The bare pyarrow Flight client, and call options with the bearer token."""
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return flight.connect(uri(server)), flight.FlightCallOptions(headers=headers, timeout=timeout)


def _query(sql: str) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(
        protocol.pack(protocol.CommandStatementQuery(query=sql))
    )


def test_results_stream_in_bounded_batches_up_to_the_row_limit(
    server, retail: Retail, runtime: Runtime
) -> None:
    limit = runtime.settings.max_rows  # LAKEHOLD_MAX_ROWS: 1,000,000 by default
    raw, options = _raw(server, retail.analyst_token)
    sql = f"select range as i, range * 2 as j from range({limit + 10})"
    info = raw.get_flight_info(_query(sql), options)
    assert info.total_records == limit
    statement = json.loads(info.app_metadata)
    assert statement["truncated"] is True
    reader = raw.do_get(info.endpoints[0].ticket, options)
    sizes = [chunk.data.nbytes for chunk in reader]
    assert sum(1 for _ in sizes) > 1 and max(sizes) <= MAX_BATCH_BYTES
    again = raw.do_get(info.endpoints[0].ticket, options).read_all()
    assert again.num_rows == limit and again.column("j")[limit - 1].as_py() == 2 * (limit - 1)

    # CancelFlightInfo of an ended statement: not cancellable, its result stays readable
    request = protocol.CancelFlightInfoRequest(info=info.serialize())
    action = flight.Action("CancelFlightInfo", request.SerializeToString())
    [answer] = list(raw.do_action(action, options))
    status = protocol.parse(protocol.CancelFlightInfoResult, answer.body.to_pybytes()).status
    assert status == protocol.CANCEL_STATUS_NOT_CANCELLABLE

    # the ticket is a statement id: another user's DoGet of it finds nothing
    owner, owner_options = _raw(server, retail.owner_token)
    with pytest.raises(pa.ArrowKeyError) as refused:  # NOT_FOUND
        owner.do_get(info.endpoints[0].ticket, owner_options).read_all()
    assert f"statement '{statement['statement_id']}' not found" in str(refused.value)


def test_a_cancelled_call_cancels_its_statement(server, retail: Retail, runtime: Runtime) -> None:
    raw, hurried = _raw(server, retail.analyst_token, timeout=1.0)
    slow = "select count(*) from range(100000000000) a where a.range % 7 = 3"
    with pytest.raises(flight.FlightTimedOutError):
        raw.get_flight_info(_query(slow), hurried)
    analyst = runtime.security.authenticate(retail.analyst_token)
    deadline = time.monotonic() + 10
    while True:
        found = [s for s in runtime.statements.list_statements(analyst) if s.sql == slow]
        if found and found[0].status == "ABORTED":
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    assert found[0].error == "the statement was cancelled"
