"""Attacks on the Flight SQL endpoint, by class (ADR 0038): credentials, tickets and handles,
the RPCs and commands it does not serve, SQL that the HTTP API refuses, row-filtered answers,
the catalog, and robustness. The rule: nobody sees data, names or results they were not
granted, by any route; bad input gets a clear error with the right gRPC status and nothing of
the server (no traceback, file name or line number); the server keeps serving. Real ADBC
driver where it can send the attack, bare ``pyarrow.flight`` calls with hand-built Flight SQL
messages where it cannot. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from google.protobuf import any_pb2

from lakehold.flight import protocol
from lakehold.flight.auth import BASIC_ON_HANDSHAKE, ONE_AUTHORIZATION
from lakehold.flight.catalog import MAX_PATTERN_CHARS, matcher
from lakehold.flight.errors import MAX_MESSAGE_BYTES
from lakehold.flight.server import FlightSqlServer
from lakehold.governance.statement_wait import wait_until_ended
from lakehold.query.parse import NUL_IN_QUERY
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.security.service import METRICS_ONLY, SCIM_ONLY
from lakehold.security.sessions import WRONG_CREDENTIALS
from tests.flight.conftest import Retail, connect, uri
from tests.scenarios.helpers import ok
from tests.sharing import client_for, new_user

PASSWORD = "correct horse battery staple"
NOT_VALID = "a valid API token is required (Authorization: Bearer <token>)"
BAD_TOKEN = (NOT_VALID, "the API token is not valid")
TOO_MANY = "too many failed sign-ins"
SQL_TYPE = "type.googleapis.com/arrow.flight.protocol.sql."
INTERNALS = re.compile(r'Traceback|File "|\.pyx?\b|, line \d+|site-packages|/src/lakehold')
"""What no error may carry: a traceback, a source file, a line of it, a server path."""


# -- helpers -------------------------------------------------------------------------------------


def _clean(message: str) -> str:
    assert not INTERNALS.search(message), message
    return message


def _options(
    token: str | None = None,
    project: str | None = None,
    *,
    timeout: float | None = None,
    headers: Sequence[tuple[str, str | bytes]] = (),
) -> flight.FlightCallOptions:
    sent = [(name.encode(), v if isinstance(v, bytes) else v.encode()) for name, v in headers]
    if token is not None:
        sent.append((b"authorization", f"Bearer {token}".encode()))
    if project is not None:
        sent.append((b"x-lakehold-project", project.encode()))
    return flight.FlightCallOptions(headers=sent, timeout=timeout)


def _refused(
    kind: type[BaseException], call: Callable[[], Any], starts: str | tuple[str, ...] = ""
) -> str:
    """The message of the error ``call`` fails with, of ``kind``, beginning with ``starts``,
    free of server internals."""
    with pytest.raises(kind) as refused:
        call()
    message = _clean(str(refused.value))
    assert message.startswith(starts), message
    return message


def _command(message: Any) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(protocol.pack(message))


def _query(sql: str) -> flight.FlightDescriptor:
    return _command(protocol.CommandStatementQuery(query=sql))


def _any(type_url: str, value: bytes = b"") -> bytes:
    return any_pb2.Any(type_url=type_url, value=value).SerializeToString()


def _ticket(statement_handle: bytes) -> flight.Ticket:
    return flight.Ticket(
        protocol.pack(protocol.TicketStatementQuery(statement_handle=statement_handle))
    )


def _read(raw: flight.FlightClient, descriptor, options) -> pa.Table:
    info = raw.get_flight_info(descriptor, options)
    return raw.do_get(info.endpoints[0].ticket, options).read_all()


def _statement_id(info: flight.FlightInfo) -> str:
    return json.loads(info.app_metadata)["statement_id"]


def _jsonish(value: Any) -> Any:
    """A Flight value as the HTTP API's JSON rows give it."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonish(v) for k, v in value.items()}
    return value


def _rows(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(_jsonish(row), sort_keys=True) for row in rows)


def _private_table(runtime: Runtime, retail: Retail) -> None:
    """retail.secret: a table of retail's, granted to nobody."""
    with client_for(runtime, retail.owner_token) as owner:
        files = {"file": ("secret.csv", b"code,value\nalpha,42\n")}
        ok(owner.post("/api/v1/projects/retail/tables", data={"name": "secret"}, files=files), 201)


def _put(raw: flight.FlightClient, descriptor: flight.FlightDescriptor, options) -> None:
    writer, _ = raw.do_put(descriptor, pa.schema([("a", pa.int64())]), options)
    writer.write_table(pa.table({"a": [1]}))
    writer.close()


class _Handshake(flight.ClientAuthHandler):
    """A handshake that sends nothing of its own (the call's headers carry the credentials)."""

    def authenticate(self, outgoing: Any, incoming: Any) -> None:
        return None

    def get_token(self) -> bytes:
        return b""


# -- credentials ---------------------------------------------------------------------------------


def test_bad_credentials_are_refused_before_any_call(
    server, retail: Retail, runtime: Runtime, admin: Principal
) -> None:
    raw = flight.connect(uri(server))
    token = retail.analyst_token
    owner = runtime.security.authenticate(retail.owner_token)
    recipient = runtime.share_recipients.create(owner, "retail", "acme", "ACME Corp")
    assert recipient.value.startswith("lhr_")
    calls: list[Callable[[flight.FlightCallOptions], Any]] = [
        lambda o: list(raw.list_actions(o)),
        lambda o: raw.get_flight_info(_query("select 1"), o),
        lambda o: raw.do_get(_ticket(b"x"), o).read_all(),
        lambda o: list(raw.list_flights(b"", o)),
        lambda o: list(raw.do_action(flight.Action("CreatePreparedStatement", b""), o)),
        lambda o: _put(raw, _query("select 1"), o),
    ]
    refused: list[tuple[list[tuple[str, str | bytes]], str | tuple[str, ...]]] = [
        ([], NOT_VALID),
        ([("authorization", "")], NOT_VALID),
        ([("authorization", "Bearer ")], NOT_VALID),
        ([("authorization", "Bearer    ")], NOT_VALID),
        ([("authorization", token)], NOT_VALID),  # no scheme
        ([("authorization", f"Token {token}")], NOT_VALID),
        ([("authorization", "Digest username=analyst")], NOT_VALID),
        ([("authorization", f"Bearer {token}x")], BAD_TOKEN),
        ([("authorization", "Bearer lh_nope_nope")], BAD_TOKEN),
        ([("authorization", f"Bearer {recipient.value}")], NOT_VALID),  # Delta Sharing's
        ([("authorization-bin", token.encode())], NOT_VALID),
        ([("authorization", "Basic " + base64.b64encode(b"analyst:x").decode())], ""),
        ([("authorization", f"Bearer {token}"), ("authorization", "Bearer lh_x_y")], ""),
        ([("authorization", "Bearer lh_x_y"), ("authorization", f"Bearer {token}")], ""),
    ]
    for headers, message in refused:
        for call in calls:
            options = _options(headers=headers)
            said = _refused(
                flight.FlightUnauthenticatedError, lambda c=call, o=options: c(o), message
            )
            if headers and str(headers[0][1]).startswith("Basic"):
                assert said.startswith(BASIC_ON_HANDSHAKE)
            elif len(headers) == 2:  # two credentials: which is meant is anyone's guess
                assert said.startswith(ONE_AUTHORIZATION)

    # GetSchema too (pyarrow's client reads its refusal as an OSError of the same message)
    catalogs = _command(protocol.CommandGetCatalogs())
    _refused(OSError, lambda: raw.get_schema(catalogs, _options()), NOT_VALID)

    same_twice = [("authorization", f"Bearer {token}")] * 2
    assert len(list(raw.list_actions(_options(headers=same_twice)))) == 3
    lower = _options(headers=[("authorization", f"bearer {token}")])
    assert _read(raw, _query("select 1 as one"), lower).to_pylist() == [{"one": 1}]

    for scopes, message in ((["metrics"], METRICS_ONLY), (["scim"], SCIM_ONLY)):
        confined = runtime.security.create_token(
            admin, scopes[0], scopes=scopes, identity_provider="okta" if "scim" in scopes else None
        )
        assert confined.value is not None
        options = _options(confined.value)
        for call in calls:
            _refused(flight.FlightUnauthorizedError, lambda: call(options), message)  # noqa: B023

    # a lineage:write token carries its user's rights, over Flight as over HTTP
    lineage = runtime.security.create_token(
        admin, "lineage", scopes=["lineage:write"], namespaces=["retail.*"], username="analyst"
    )
    assert lineage.value is not None
    sql = "select count(*) as n from retail.store_sales"
    with client_for(runtime, lineage.value) as http:
        over_http = ok(http.post("/api/v1/query", json={"sql": sql, "project": "analysts"}))
    found = _read(raw, _query(sql), _options(lineage.value, "analysts")).to_pylist()
    assert found == over_http["rows"] == [{"n": 7}]


def test_password_sign_in_attacks(
    server, retail: Retail, runtime: Runtime, admin: Principal, client
) -> None:
    raw = flight.connect(uri(server))
    handshake = raw.authenticate_basic_token

    # a service principal signs in with its token, never with Basic credentials
    with client_for(runtime, retail.analyst_token) as http:
        principal = ok(
            http.post(
                "/api/v1/projects/analysts/service-principals",
                json={"name": "dashboards", "role": "viewer"},
            ),
            201,
        )
    secret = (principal["client_id"], principal["client_secret"])
    _refused(flight.FlightUnauthenticatedError, lambda: handshake(*secret), WRONG_CREDENTIALS)

    # malformed Basic credentials in the handshake
    for value, message in (
        ("Basic !!!!", "the Basic credentials are not base64 of UTF-8 text"),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "the Basic credentials are not"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "the Basic credentials are not"),
        ("Basic " + base64.b64encode(b":").decode(), WRONG_CREDENTIALS),
        ("Basic " + base64.b64encode(b"x" * 3000 + b":y").decode(), WRONG_CREDENTIALS),
    ):
        options = _options(headers=[("authorization", value)])
        _refused(
            flight.FlightUnauthenticatedError,
            lambda: raw.authenticate(_Handshake(), options),  # noqa: B023
            message,
        )
    # two Basic credentials in one handshake
    _refused(
        flight.FlightUnauthenticatedError,
        lambda: handshake("rev", PASSWORD, _options(headers=[("authorization", "Basic eDp5")])),
        ONE_AUTHORIZATION,
    )

    # a revoked user's tokens end; the password still signs in, with a new token
    runtime.security.create_user(admin, "rev", password=PASSWORD)
    _, first = handshake("rev", PASSWORD)
    first_token = first.decode().removeprefix("Bearer ")
    runtime.revocation.revoke_user(admin, "rev")
    revoked = _options(first_token)
    _refused(
        flight.FlightUnauthenticatedError,
        lambda: raw.get_flight_info(_query("select 1"), revoked),
        "the API token has been revoked",
    )
    _, second = handshake("rev", PASSWORD)
    again = _options(second.decode().removeprefix("Bearer "))
    assert _read(raw, _query("select 2 as two"), again).to_pylist() == [{"two": 2}]

    # a deactivated user: the token of its handshake, then the password itself, refused
    runtime.security.create_user(admin, "dee", password=PASSWORD)
    _, issued = handshake("dee", PASSWORD)
    dee = _options(issued.decode().removeprefix("Bearer "))
    info = raw.get_flight_info(_query("select 3 as three"), dee)
    runtime.revocation.deactivate(admin, "dee")
    for call in (
        lambda: raw.do_get(info.endpoints[0].ticket, dee).read_all(),
        lambda: raw.get_flight_info(_query("select 3"), dee),
        lambda: handshake("dee", PASSWORD),
    ):
        _refused(flight.FlightUnauthenticatedError, call)
    with (
        pytest.raises(adbc_driver_manager.Error, match="UNAUTHENTICATED"),  # the ADBC driver
        connect(server, username="dee", password=PASSWORD) as connection,
    ):
        connection.cursor().execute("select 1")

    # brute force, 30 guesses at once: the limit holds, then even the password is refused
    runtime.security.create_user(admin, "pat", password=PASSWORD)
    limit = runtime.settings.login_max_failures_per_user
    answers: list[str] = []
    start = threading.Barrier(30)

    def guess(number: int) -> None:
        own = flight.connect(uri(server))
        start.wait()
        try:
            own.authenticate_basic_token("pat", f"guess {number}")
        except flight.FlightUnauthenticatedError as error:
            answers.append(_clean(str(error)).partition(";")[0].partition(".")[0])
        finally:
            own.close()

    guesses = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for thread in guesses:
        thread.start()
    for thread in guesses:
        thread.join()
    assert Counter(answers) == {WRONG_CREDENTIALS: limit, TOO_MANY: 30 - limit}
    _refused(flight.FlightUnauthenticatedError, lambda: handshake("pat", PASSWORD), TOO_MANY)
    events = ok(client.get("/api/v1/audit", params={"action": "token.password", "limit": 1000}))
    assert sum(1 for e in events if e["reason"] == "bad password") >= limit
    assert PASSWORD not in json.dumps(events)


def test_a_token_revoked_between_get_flight_info_and_do_get(
    server, retail: Retail, runtime: Runtime, admin: Principal
) -> None:
    analyst = retail.analyst
    token = runtime.security.create_token(admin, "short", username="analyst")
    assert token.value is not None
    raw, options = flight.connect(uri(server)), _options(token.value, "analysts")
    info = raw.get_flight_info(_query("select * from retail.store_sales"), options)
    assert info.total_records == 7
    runtime.security.revoke_token(analyst, token.id)
    _refused(
        flight.FlightUnauthenticatedError,
        lambda: raw.do_get(info.endpoints[0].ticket, options).read_all(),
        "the API token has been revoked",
    )


# -- tickets, handles, commands ------------------------------------------------------------------


def test_tickets_are_the_callers_own_and_forged_ones_fail_cleanly(
    server, retail: Retail, runtime: Runtime
) -> None:
    raw = flight.connect(uri(server))
    analyst = _options(retail.analyst_token, "analysts")
    owner = _options(retail.owner_token)
    info = raw.get_flight_info(_query("select * from retail.customer"), owner)  # cust_email too
    owners = _statement_id(info)

    def read(ticket: flight.Ticket, options=analyst) -> pa.Table:
        return raw.do_get(ticket, options).read_all()

    # another user's statement: exactly as a statement that does not exist
    theirs = _refused(pa.ArrowKeyError, lambda: read(info.endpoints[0].ticket))
    assert theirs.startswith(f"statement '{owners}' not found")
    for handle in (owners.upper(), owners + " ", "x", "", "../../etc/passwd", "' or 1=1 --"):
        forged = _ticket(handle.encode())
        _refused(pa.ArrowKeyError, lambda: read(forged), f"statement '{handle}' not found")  # noqa: B023
    # transactions: none
    in_transaction = protocol.CommandStatementQuery(query="select 1", transaction_id=b"t")
    _refused(
        pa.ArrowInvalid,
        lambda: raw.get_flight_info(_command(in_transaction), analyst),
        "transactions are not supported",
    )
    prepare = protocol.ActionCreatePreparedStatementRequest(query="select 1", transaction_id=b"t")
    _refused(
        pa.ArrowInvalid,
        lambda: list(
            raw.do_action(flight.Action("CreatePreparedStatement", protocol.pack(prepare)), analyst)
        ),
        "transactions are not supported",
    )
    cancel = protocol.CancelFlightInfoRequest(info=info.serialize()).SerializeToString()
    _refused(
        pa.ArrowKeyError,
        lambda: list(raw.do_action(flight.Action("CancelFlightInfo", cancel), analyst)),
        f"statement '{owners}' not found",
    )
    assert read(info.endpoints[0].ticket, owner).num_rows == 6  # still the owner's

    # a statement id of 100,000 characters: NOT_FOUND, its echo cut short
    huge = _refused(pa.ArrowKeyError, lambda: read(_ticket(b"a" * 100_000)), "statement 'aaa")
    assert len(huge.encode()) < 3 * MAX_MESSAGE_BYTES
    # bytes that are no statement id, no Flight SQL ticket
    not_ours = "not a statement ticket of this server"
    _refused(pa.ArrowInvalid, lambda: read(_ticket(b"\xff\xfe")), not_ours)
    _refused(pa.ArrowInvalid, lambda: read(flight.Ticket(b"\xff\x00garbage")), "not a Flight SQL")
    _refused(pa.ArrowInvalid, lambda: read(flight.Ticket(b"\x0a" + b"\xff" * 3_000_000)))
    _refused(pa.ArrowNotImplementedError, lambda: read(flight.Ticket(b"")), "Lakehold's Flight")
    _refused(
        pa.ArrowNotImplementedError,
        lambda: read(flight.Ticket(_any(SQL_TYPE + "CommandGetPrimaryKeys"))),
        "Lakehold's Flight SQL endpoint does not implement CommandGetPrimaryKeys",
    )

    # the tickets of a statement that failed, and of one cancelled
    analyst_principal = retail.analyst
    failed = runtime.statements.submit(
        analyst_principal, "select cast(range::varchar || 'x' as integer) from range(3)"
    )
    cancelled = runtime.statements.submit(
        analyst_principal, "select count(*) from range(100000000000) a where a.range % 7 = 3"
    )
    runtime.statements.cancel(analyst_principal, cancelled.id)
    for statement, status in ((failed, "FAILED"), (cancelled, "ABORTED")):
        ended = wait_until_ended(
            runtime.statements, analyst_principal, statement.id, abandoned=lambda: False
        )
        assert ended.status == status
        ticket = _ticket(statement.id.encode())
        _refused(
            pa.ArrowInvalid,
            lambda: read(ticket),  # noqa: B023
            f"statement '{statement.id}' is {status}; results exist once FINISHED",
        )
    assert raw.get_flight_info(_query("select 1"), analyst).total_records == 1  # still serving


def test_prepared_handles_and_everything_the_endpoint_does_not_serve(
    server, retail: Retail, runtime: Runtime
) -> None:
    raw = flight.connect(uri(server))
    analyst = _options(retail.analyst_token, "analysts")

    def prepared(handle: bytes) -> flight.FlightDescriptor:
        return _command(protocol.CommandPreparedStatementQuery(prepared_statement_handle=handle))

    # a handle is SQL, governed like any statement
    handle = b"lakehold.sql.v1:"
    with client_for(runtime, retail.analyst_token) as http:
        hidden = http.post(
            "/api/v1/query",
            json={"sql": "select cust_email from retail.customer", "project": "analysts"},
        ).json()["message"]
    for sql, kind, message in (
        (b"select cust_email from retail.customer", pa.ArrowInvalid, hidden),
        (b"select * from read_csv('/etc/passwd')", flight.FlightUnauthorizedError, "table func"),
        (b"create table analysts.c as select 1", flight.FlightUnauthorizedError, "CREATE is not"),
        (b"select * from retail.secret", pa.ArrowKeyError, "table 'retail.secret' not found"),
        (b"x" * 1_000_001, pa.ArrowInvalid, "sql is longer than 1000000 characters"),
    ):
        descriptor = prepared(handle + sql)
        _refused(kind, lambda: raw.get_flight_info(descriptor, analyst), message)  # noqa: B023
    count = prepared(handle + b"select count(*) as n from retail.store_sales")
    assert _read(raw, count, analyst).to_pylist() == [{"n": 7}]  # the row filter applies
    not_ours = "not a prepared statement handle of this server"
    for foreign in (b"", b"other-server:select 1", handle + b"\xff\xfe", b"\x00" * 64):
        descriptor = prepared(foreign)
        _refused(pa.ArrowInvalid, lambda: raw.get_flight_info(descriptor, analyst), not_ours)  # noqa: B023

    # DoPut: parameters, writes, anything else
    with_parameter = prepared(handle + b"select * from retail.customer where cust_id = ?")
    params = "query parameters are not supported"
    _refused(pa.ArrowInvalid, lambda: _put(raw, with_parameter, analyst), params)
    for write in (
        "CommandStatementUpdate",
        "CommandPreparedStatementUpdate",
        "CommandStatementIngest",
    ):
        descriptor = flight.FlightDescriptor.for_command(_any(SQL_TYPE + write))
        _refused(
            flight.FlightUnauthorizedError,
            lambda: _put(raw, descriptor, analyst),  # noqa: B023
            f"Lakehold's Flight SQL endpoint only reads: {write} is not accepted",
        )
    _refused(
        pa.ArrowNotImplementedError,
        lambda: _put(raw, flight.FlightDescriptor.for_path("x"), analyst),
    )
    garbage = flight.FlightDescriptor.for_command(b"\xff\xff")
    _refused(pa.ArrowInvalid, lambda: _put(raw, garbage, analyst), "not a Flight SQL command")

    # commands of other types, in the right or a wrong type URL
    statement = protocol.CommandStatementQuery(query="select 1").SerializeToString()
    for type_url, message in (
        (SQL_TYPE + "CommandGetPrimaryKeys", "does not implement CommandGetPrimaryKeys"),
        (SQL_TYPE + "CommandGetExportedKeys", "does not implement CommandGetExportedKeys"),
        (SQL_TYPE + "CommandGetImportedKeys", "does not implement CommandGetImportedKeys"),
        (SQL_TYPE + "CommandGetCrossReference", "does not implement CommandGetCrossReference"),
        (SQL_TYPE + "CommandGetXdbcTypeInfo", "does not implement CommandGetXdbcTypeInfo"),
        (SQL_TYPE + "CommandStatementSubstraitPlan", "does not implement CommandStatementSub"),
        ("type.googleapis.com/google.protobuf.Empty", "does not implement Empty"),
        ("", "does not implement an empty command"),
        ("type.googleapis.com/" + "A" * 30_000, "does not implement AAAA"),
    ):
        descriptor = flight.FlightDescriptor.for_command(_any(type_url, statement))
        for call in (raw.get_flight_info, raw.get_schema):
            said = _refused(
                pa.ArrowNotImplementedError,
                lambda: call(descriptor, analyst),  # noqa: B023
                f"Lakehold's Flight SQL endpoint {message}",
            )
            assert len(said.encode()) < 3 * MAX_MESSAGE_BYTES
    not_a_query = flight.FlightDescriptor.for_command(
        _any(SQL_TYPE + "CommandStatementQuery", b"\xff\xff\xff")
    )
    _refused(
        pa.ArrowInvalid,
        lambda: raw.get_flight_info(not_a_query, analyst),
        "not a valid CommandStatementQuery",
    )
    path = flight.FlightDescriptor.for_path("retail", "customer")
    _refused(pa.ArrowNotImplementedError, lambda: raw.get_flight_info(path, analyst))
    _refused(
        pa.ArrowNotImplementedError,
        lambda: raw.get_schema(_query("select * from retail.customer"), analyst),
        "the schema of a statement is known once it has run",
    )

    # actions, ListFlights, DoExchange
    for action, kind, message in (
        (flight.Action("BeginTransaction", b""), pa.ArrowNotImplementedError, "Lakehold's"),
        (flight.Action("CancelQuery", b""), pa.ArrowNotImplementedError, "Lakehold's"),
        (flight.Action("x" * 30_000, b""), pa.ArrowNotImplementedError, "Lakehold's"),
        (flight.Action("CreatePreparedStatement", b"\xff\xff"), pa.ArrowInvalid, "not a Flight"),
        (flight.Action("CreatePreparedStatement", b""), pa.ArrowInvalid, "CreatePrepared"),
        (flight.Action("CancelFlightInfo", b"\xff\xff"), pa.ArrowInvalid, "not a valid Cancel"),
        (
            flight.Action(
                "CancelFlightInfo",
                protocol.CancelFlightInfoRequest(info=b"\xff\x00").SerializeToString(),
            ),
            pa.ArrowInvalid,
            "not a valid FlightInfo",
        ),
    ):
        _refused(kind, lambda: list(raw.do_action(action, analyst)), message)  # noqa: B023
    assert list(raw.list_flights(b"retail", analyst)) == []
    assert list(raw.do_action(flight.Action("ClosePreparedStatement", b"\xff"), analyst)) == []

    def exchange() -> None:
        writer, reader = raw.do_exchange(flight.FlightDescriptor.for_command(b"x"), analyst)
        writer.begin(pa.schema([("a", pa.int64())]))
        writer.done_writing()
        reader.read_all()

    _refused(pa.ArrowNotImplementedError, exchange, "Lakehold's Flight SQL endpoint does not")
    assert raw.get_flight_info(_query("select 1"), analyst).total_records == 1  # still serving


# -- SQL -----------------------------------------------------------------------------------------

REFUSED_SQL = (
    "select * from read_parquet('/etc/x.parquet')",
    "select * from read_csv('/etc/passwd')",
    "select * from read_csv_auto('/etc/passwd')",
    "select * from read_text('/etc/passwd')",
    "select * from '/etc/passwd'",
    "select * from glob('/etc/*')",
    "select * from query_table('retail.customer')",
    "select * from query('select 1')",
    "select * from sniff_csv('/etc/passwd')",
    "attach '/tmp/lakehold-attack.db' as stolen",
    "detach retail",
    "use retail",
    "copy (select 1) to '/tmp/lakehold-attack.csv'",
    "copy retail.customer to '/tmp/lakehold-attack.csv'",
    "export database '/tmp/lakehold-attack'",
    "pragma database_list",
    "pragma table_info('retail.customer')",
    "set threads = 1",
    "set enable_external_access = true",
    "reset enable_external_access",
    "install httpfs",
    "load httpfs",
    "call duckdb_tables()",
    "select * from duckdb_tables()",
    "select * from duckdb_columns()",
    "select * from duckdb_settings()",
    "select * from information_schema.tables",
    "select * from information_schema.columns",
    "select * from pg_catalog.pg_class",
    "select * from sqlite_master",
    "select current_setting('home_directory')",
    "select getenv('HOME')",
    "select version()",
    'select * from "RETAIL"."Customer" where cust_email is not null',
    "select * from retail.secret",
    'select * from "retail"."secret"',
    'select * from "RETAIL"."SECRET"',
    "select * from Retail.Secret",
    "select count(*) from retail.secret",
    "select exists(select 1 from retail.secret) as e",
    "select * from retail.customer where exists (select 1 from retail.secret)",
    "with secret as (select 1 as value) select * from retail.secret",
    "select * from retail.secret at (version => 0)",
    'select cust_email from "retail"."CUSTOMER"',
    "select * from retail.store_sales_hidden",
    "select * from retail.customer c, retail.nope n",
    "select * from analysts.nothing",
    'select * from "retail.customer"',
    'select * from "retail"."customer"""',
    "with store_sales as (select 2 as prod_id) select * from store_sales, retail.secret",
    "insert into retail.customer values (1, 'x', 'y', 'z')",
    "update retail.store_sales set prod_id = 1",
    "delete from retail.store_sales",
    "drop table retail.customer",
    "alter table retail.customer add column x int",
    "select 1; select 2",
    "select 1; drop table retail.customer",
    "select 1 /* */; select * from retail.customer",
    "select 1 -- \n; select 2",
    "summarize retail.customer",
    "describe retail.customer",
    "show tables",
    "explain select * from retail.customer",
    "select * from retail.customer where cust_id = ?",
    "select * from retail.customer where cust_id = $1",
    "select 1 +",
    "   ",
    ";",
    "-- nothing",
)
GRPC = {400: "INVALID_ARGUMENT", 403: "UNAUTHORIZED", 404: "NOT_FOUND", 408: "TIMEOUT"}


def test_sql_the_http_api_refuses_is_refused_with_its_words(
    server, retail: Retail, runtime: Runtime
) -> None:
    _private_table(runtime, retail)
    with (
        client_for(runtime, retail.analyst_token) as http,
        connect(server, retail.analyst_token, project="analysts") as connection,
    ):
        cursor = connection.cursor()
        for sql in REFUSED_SQL:
            answer = http.post("/api/v1/query", json={"sql": sql, "project": "analysts"})
            assert answer.status_code in GRPC, (sql, answer.text)
            with pytest.raises(adbc_driver_manager.Error) as refused:
                cursor.execute(sql)
            message = _clean(str(refused.value))
            expected = f"{GRPC[answer.status_code]}: [FlightSQL] {answer.json()['message']}"
            assert message.startswith(expected), (sql, message, expected)
        cursor.execute("select 1 as still_serving")
        assert cursor.fetchall() == [(1,)]
    # what the driver does not send: no SQL at all, a NUL (C strings end there)
    raw = flight.connect(uri(server))
    analyst = _options(retail.analyst_token, "analysts")
    empty = lambda: raw.get_flight_info(_query(""), analyst)  # noqa: E731
    _refused(pa.ArrowInvalid, empty, "the query is empty")
    for sql in ("select \x00 1", "select 1 -- \x00", "select '\x00'", "select 1 \x00; select 2"):
        nul = lambda: raw.get_flight_info(_query(sql), analyst)  # noqa: B023, E731
        _refused(pa.ArrowInvalid, nul, NUL_IN_QUERY)  # not an INTERNAL error on PostgreSQL
    assert _read(raw, _query("select 1 as one"), analyst).to_pylist() == [{"one": 1}]


PARITY_SQL = (
    "select * from retail.store_sales",
    "select count(*) as n, sum(sale_amount) as total from retail.store_sales",
    "select count(*) as n from retail.store_sales where prod_id <> 1",
    "select prod_id, count(*) as n from retail.store_sales group by all",
    "select max(sale_amount) as m, min(prod_id) as p from retail.store_sales",
    "select exists(select 1 from retail.store_sales where prod_id = 2) as e",
    "select count(*) as n from retail.store_sales where exists "
    "(select 1 from retail.store_sales s where s.prod_id = 3)",
    "select (select count(*) from retail.store_sales where sale_amount > 0) as n",
    "select prod_id, sum(sale_amount) over (partition by prod_id) as w from retail.store_sales",
    "select sale_id, row_number() over (order by sale_id) as r from retail.store_sales",
    "select count(*) as n from retail.store_sales s1 join retail.store_sales s2 using (sale_id)",
    "select count(*) as n from retail.store_sales s right join retail.inventory i "
    "on s.prod_id = i.prod_id",
    "select count(*) as n from retail.inventory i full join retail.store_sales s "
    "on s.prod_id = i.prod_id where s.sale_id is null",
    "select count(*) as n from (select * from retail.store_sales union all "
    "select * from retail.store_sales)",
    "with store_sales as (select 99 as prod_id) select count(*) as n from retail.store_sales",
    'with "retail" as (select 1) select count(*) as n from retail.store_sales',
    "select count(*) as n from retail.store_sales at (version => 0)",
    "select * from retail.store_sales version as of 0",
    "select c from retail.customer c",
    "select to_json(c) as j from retail.customer c",
    "select * exclude (cust_id) from retail.customer",
    "select columns('.*email.*') from retail.customer",
    "select * from retail.customer natural join retail.store_sales",
    "select count(*) as n from retail.store_sales tablesample 100%",
    "select list(prod_id) as l from retail.store_sales",
    "select count(distinct prod_id) as d from retail.store_sales",
    "from retail.store_sales select prod_id",
)


def test_row_filtered_answers_are_the_http_apis(server, retail: Retail, runtime: Runtime) -> None:
    with (
        client_for(runtime, retail.analyst_token) as http,
        connect(server, retail.analyst_token, project="analysts") as connection,
    ):
        cursor = connection.cursor()
        for sql in PARITY_SQL:
            answer = http.post("/api/v1/query", json={"sql": sql, "project": "analysts"})
            if answer.status_code != 200:  # refused over HTTP: refused alike
                with pytest.raises(adbc_driver_manager.Error) as refused:
                    cursor.execute(sql)
                assert answer.json()["message"] in _clean(str(refused.value)), sql
                continue
            cursor.execute(sql)
            rows = cursor.fetch_arrow_table().to_pylist()
            assert _rows(rows) == _rows(answer.json()["rows"]), sql
            for row in rows:  # nothing of the row filter's outside, nothing of cust_email
                assert row.get("prod_id") in (None, 1), (sql, row)
                assert "@" not in json.dumps(_jsonish(row)), (sql, row)


# -- catalog -------------------------------------------------------------------------------------


def test_the_catalog_shows_nothing_more_by_any_filter(
    server, retail: Retail, runtime: Runtime, admin: Principal
) -> None:
    raw = flight.connect(uri(server))
    analyst = _options(retail.analyst_token, "analysts")

    def tables(options=analyst, **fields: Any) -> list[tuple[str, str]]:
        found = _read(raw, _command(protocol.CommandGetTables(**fields)), options)
        names = (found.column(c).to_pylist() for c in ("db_schema_name", "table_name"))
        return list(zip(*names, strict=True))

    def schemas(options=analyst, **fields: Any) -> list[str]:
        found = _read(raw, _command(protocol.CommandGetDbSchemas(**fields)), options)
        return found.column("db_schema_name").to_pylist()

    _private_table(runtime, retail)
    granted = [("retail", "customer"), ("retail", "inventory"), ("retail", "store_sales")]
    assert tables() == granted  # not retail.secret
    for fields, expected in (
        ({"db_schema_filter_pattern": "%"}, granted),
        ({"db_schema_filter_pattern": "RETAIL"}, []),  # patterns are case-sensitive
        ({"db_schema_filter_pattern": "ret_il"}, granted),
        ({"db_schema_filter_pattern": "ret\\_il"}, []),
        ({"table_name_filter_pattern": "c_stomer"}, [("retail", "customer")]),
        ({"table_name_filter_pattern": "store\\_sales"}, [("retail", "store_sales")]),
        ({"table_name_filter_pattern": "store\\%"}, []),
        ({"table_name_filter_pattern": "[a-z]*"}, []),  # no regular expressions
        ({"table_name_filter_pattern": ".*"}, []),
        ({"table_name_filter_pattern": "\\"}, []),
        ({"table_name_filter_pattern": "%%%%_%%%%"}, granted),
        ({"catalog": "retail"}, []),
        ({"catalog": ""}, granted),
        ({"table_types": ["VIEW"]}, []),
        ({"table_types": ["table"]}, []),
        ({"table_types": ["TABLE", "VIEW"]}, granted),
    ):
        assert tables(**fields) == expected, fields
    assert schemas() == ["analysts", "retail"]
    assert schemas(db_schema_filter_pattern="a%") == ["analysts"]
    assert schemas(catalog="x") == []

    # include_schema: the column filter's columns only, with their catalog types
    described = _read(raw, _command(protocol.CommandGetTables(include_schema=True)), analyst)
    columns = {
        row["table_name"]: pa.ipc.read_schema(pa.py_buffer(row["table_schema"])).names
        for row in described.to_pylist()
    }
    assert columns["customer"] == ["cust_id", "cust_name", "cust_country"]
    assert "cust_email" not in described.to_pandas().to_string()

    # projects one is no member of: "not found", the same for one that does not exist
    _, stranger = new_user(runtime, admin, "stranger")
    for token, project in (
        (stranger, "analysts"),
        (stranger, "retail"),
        (stranger, "nope"),
        (retail.owner_token, "analysts"),  # an owner of the tables, not of the grantee
    ):
        options = _options(token, project)
        for call in (lambda: tables(options), lambda: schemas(options)):  # noqa: B023
            _refused(pa.ArrowKeyError, call, f"project '{project}' not found")
    assert tables(_options(stranger)) == [] and schemas(_options(stranger)) == []
    assert tables(_options(retail.analyst_token)) == []  # acting in no project: no grants

    # SQL info: unknown ids left out; the commands it does not serve, UNIMPLEMENTED
    info = _read(
        raw, _command(protocol.CommandGetSqlInfo(info=[99_999, 4_294_967_295, 0])), analyst
    )
    assert info.to_pylist() == [{"info_name": 0, "value": "Lakehold"}]
    for name in ("CommandGetPrimaryKeys", "CommandGetExportedKeys", "CommandGetXdbcTypeInfo"):
        descriptor = flight.FlightDescriptor.for_command(_any(SQL_TYPE + name))
        _refused(
            pa.ArrowNotImplementedError,
            lambda: raw.get_flight_info(descriptor, analyst),  # noqa: B023
            f"Lakehold's Flight SQL endpoint does not implement {name}",
        )

    # the ADBC driver's catalog calls, filtered the same way
    with (
        connect(server, stranger, project="retail") as connection,
        pytest.raises(adbc_driver_manager.Error, match="project 'retail' not found"),
    ):
        connection.adbc_get_objects(depth="all").read_all()
    with connect(server, retail.analyst_token, project="analysts") as connection:
        with pytest.raises(adbc_driver_manager.Error):
            connection.adbc_get_table_schema("secret", db_schema_filter="retail")
        schema = connection.adbc_get_table_schema("customer", db_schema_filter="retail")
        assert schema.names == ["cust_id", "cust_name", "cust_country"]


def test_name_patterns_never_backtrack(server, retail: Retail, runtime: Runtime) -> None:
    name = "a" * 60
    with client_for(runtime, retail.analyst_token) as http:
        files = {"file": ("t.csv", b"x\n1\n")}
        ok(http.post("/api/v1/projects/analysts/tables", data={"name": name}, files=files), 201)
    raw = flight.connect(uri(server))
    # a regular expression of this pattern backtracks for longer than anyone waits, holding
    # the interpreter lock: the whole server would stop
    patient = _options(retail.analyst_token, "analysts", timeout=60)
    pattern = "%a" * 30 + "b"
    for command in (
        protocol.CommandGetTables(table_name_filter_pattern=pattern),
        protocol.CommandGetDbSchemas(db_schema_filter_pattern=pattern),
    ):
        assert _read(raw, _command(command), patient).num_rows == 0
    found = protocol.CommandGetTables(table_name_filter_pattern="%a" * 30 + "%")
    assert _read(raw, _command(found), patient).column("table_name").to_pylist() == [name]
    too_long = protocol.CommandGetTables(table_name_filter_pattern="%" * (MAX_PATTERN_CHARS + 1))
    _refused(
        pa.ArrowInvalid,
        lambda: _read(raw, _command(too_long), patient),
        f"a name pattern is at most {MAX_PATTERN_CHARS} characters",
    )


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("%", "", True),
        ("_", "", False),
        ("a%", "abc", True),
        ("%c", "abc", True),
        ("a_c", "abc", True),
        ("a\\_c", "abc", False),
        ("a\\_c", "a_c", True),
        ("a\\%", "a%", True),
        ("a\\%", "ab", False),
        ("%a%b%", "xaxbx", True),
        ("%a%b", "xaxbx", False),
        ("a%%%b", "ab", True),
        ("a.b", "axb", False),
        ("\\", "", True),  # a trailing escape escapes nothing
    ],
)
def test_name_patterns(pattern: str, name: str, matches: bool) -> None:
    assert matcher(pattern)(name) is matches


_DYING_CLIENT = """
import base64, os, sys
import pyarrow.flight as flight
from lakehold.flight import protocol
location, token, call = sys.argv[1], sys.argv[2], sys.argv[3]
client = flight.connect(location)
options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {token}".encode())])
kind, _, argument = call.partition(":")
if kind == "do_get":
    reader = client.do_get(flight.Ticket(base64.b64decode(argument)), options)
    reader.read_chunk()
    print("read", flush=True)
else:
    import threading, time
    command = protocol.pack(protocol.CommandStatementQuery(query=argument))
    descriptor = flight.FlightDescriptor.for_command(command)
    threading.Thread(target=client.get_flight_info, args=(descriptor, options)).start()
    time.sleep(1.5)
    print("asked", flush=True)
os._exit(0)  # gone: no goodbye, its connection simply closes
"""


def _client_that_dies(server, token: str, call: str) -> None:
    """A client process that makes ``call`` and dies in the middle of it."""
    done = subprocess.run(
        [sys.executable, "-c", _DYING_CLIENT, uri(server), token, call],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() in ("read", "asked"), done.stderr


def _ended(runtime: Runtime, principal: Principal, sql: str, status: str) -> None:
    """Wait for the statement of ``sql`` to end with ``status``."""
    for _ in range(400):
        found = [s for s in runtime.statements.list_statements(principal) if s.sql == sql]
        if found and found[0].status == status:
            return
        time.sleep(0.05)
    raise AssertionError(found)


# -- robustness ----------------------------------------------------------------------------------


def test_the_server_keeps_serving_through_abuse(server, retail: Retail, runtime: Runtime) -> None:
    raw = flight.connect(uri(server))
    analyst = _options(retail.analyst_token, "analysts")

    # clients that go away mid-stream
    big = raw.get_flight_info(
        _query("select range as i, repeat('x', 100) as s from range(2000000)"), analyst
    )
    ticket = base64.b64encode(big.endpoints[0].ticket.ticket).decode()
    for _ in range(2):
        _client_that_dies(server, retail.analyst_token, f"do_get:{ticket}")
    # ... and one that goes away while its statement runs: the statement is cancelled
    slow = "select count(*) from range(100000000000) a where a.range % 7 = 5"
    _client_that_dies(server, retail.analyst_token, f"get_flight_info:{slow}")
    _ended(runtime, retail.analyst, slow, "ABORTED")

    # many calls at once, good and bad
    answers: list[str] = []

    def call(number: int) -> None:
        own = flight.connect(uri(server))
        kinds = (
            lambda: _read(own, _query(f"select {number} as n"), analyst).num_rows,
            lambda: _read(own, _command(protocol.CommandGetTables()), analyst).num_rows,
            lambda: own.get_flight_info(_query("select * from retail.secret"), analyst),
            lambda: own.do_get(_ticket(b"nope"), analyst).read_all(),
        )
        try:
            kinds[number % len(kinds)]()
            answers.append("OK")
        except (pa.ArrowKeyError, pa.ArrowInvalid) as error:
            answers.append(type(error).__name__ if _clean(str(error)) else "")
        finally:
            own.close()

    threads = [threading.Thread(target=call, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(answers) == {"OK": 20, "ArrowKeyError": 20}
    assert raw.do_get(big.endpoints[0].ticket, analyst).read_all().num_rows == big.total_records

    # over the row limit: truncated, as over HTTP
    runtime.settings.max_rows = 100
    with client_for(runtime, retail.analyst_token) as http:
        over_http = ok(http.post("/api/v1/query", json={"sql": "select * from range(1000)"}))
    info = raw.get_flight_info(_query("select * from range(1000)"), analyst)
    assert info.total_records == over_http["total_rows"] == 100
    assert json.loads(info.app_metadata)["truncated"] is over_http["truncated"] is True
    assert raw.do_get(info.endpoints[0].ticket, analyst).read_all().num_rows == 100
    runtime.settings.max_rows = 1_000_000

    # past the statement timeout: DEADLINE_EXCEEDED, with the HTTP API's words
    slow = "select count(*) from range(100000000000) a where a.range % 7 = 3"
    runtime.settings.statement_timeout_seconds = 1
    with client_for(runtime, retail.analyst_token) as http:
        answer = http.post("/api/v1/query", json={"sql": slow})
    assert answer.status_code == 408
    _refused(
        flight.FlightTimedOutError,
        lambda: raw.get_flight_info(_query(slow), analyst),
        answer.json()["message"],
    )
    with connect(server, retail.analyst_token) as connection:
        with pytest.raises(adbc_driver_manager.Error) as refused:
            connection.cursor().execute(slow)
        assert _clean(str(refused.value)).startswith(
            f"TIMEOUT: [FlightSQL] {answer.json()['message']}"
        )
    runtime.settings.statement_timeout_seconds = 30

    # SQL past LAKEHOLD_MAX_SQL_CHARS, and SQL that is not UTF-8
    longest = runtime.settings.max_sql_chars
    long_sql = "select 1 " + " " * longest
    with client_for(runtime, retail.analyst_token) as http:
        answer = http.post("/api/v1/query", json={"sql": long_sql})
    assert answer.status_code == 400
    expected = f"sql is longer than {longest} characters (LAKEHOLD_MAX_SQL_CHARS)"
    _refused(pa.ArrowInvalid, lambda: raw.get_flight_info(_query(long_sql), analyst), expected)
    prepare = protocol.ActionCreatePreparedStatementRequest(query=long_sql)
    action = flight.Action("CreatePreparedStatement", protocol.pack(prepare))
    _refused(pa.ArrowInvalid, lambda: list(raw.do_action(action, analyst)), expected)
    not_utf8 = _any(SQL_TYPE + "CommandStatementQuery", b"\x0a\x04\xff\xfe\xfd\xfc")
    _refused(
        pa.ArrowInvalid,
        lambda: raw.get_flight_info(flight.FlightDescriptor.for_command(not_utf8), analyst),
        "not a valid CommandStatementQuery",
    )
    assert _read(raw, _query("select 'still serving' as s"), analyst).num_rows == 1


def test_long_names_echoed_in_errors_keep_their_status(
    server, retail: Retail, runtime: Runtime
) -> None:
    """An error that quotes a 30,000-character name is cut short: otherwise its trailers pass
    gRPC's limit and the client reads RESOURCE_EXHAUSTED instead of the refusal."""
    raw = flight.connect(uri(server))
    analyst = _options(retail.analyst_token, "analysts")
    for sql, kind in (
        ('select "' + "a" * 30_000 + '"', pa.ArrowInvalid),
        ("select * from retail." + "x" * 30_000, pa.ArrowKeyError),
        ("select * from " + "é" * 20_000 + ".t", pa.ArrowKeyError),
    ):
        with client_for(runtime, retail.analyst_token) as http:
            message = http.post("/api/v1/query", json={"sql": sql, "project": "analysts"}).json()
        said = _refused(
            kind,
            lambda sql=sql: raw.get_flight_info(_query(sql), analyst),
            message["message"][:100],
        )
        assert said.endswith(". Detail: Python exception: " + type_name(kind))
        assert len(said.encode()) <= MAX_MESSAGE_BYTES + 100


def type_name(kind: type[BaseException]) -> str:
    return {pa.ArrowInvalid: "InvalidArgumentError", pa.ArrowKeyError: "NotFoundError"}[kind]


def test_stopping_does_not_wait_forever_for_a_client_that_stopped_reading(
    runtime: Runtime, admin_token: str
) -> None:
    endpoint = FlightSqlServer(runtime, "grpc://127.0.0.1:0")
    raw, options = flight.connect(uri(endpoint)), _options(admin_token)
    big = _query("select range as i, repeat('x', 100) as s from range(2000000)")
    info = raw.get_flight_info(big, options)
    reader = raw.do_get(info.endpoints[0].ticket, options)
    reader.read_chunk()  # and no more, its connection open: the stream blocks in gRPC
    endpoint.stop(grace_seconds=1)  # returns; the process may end
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", endpoint.port)) != 0  # no new calls
    raw.close()
