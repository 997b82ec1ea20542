"""The catalog over Flight SQL, as the real ADBC driver reads it: only the tables and columns
the caller may read (its projects', and those granted to the project it acts in, a column
filter hiding its columns), SQL info, and what is not implemented. SQLite and PostgreSQL."""

from __future__ import annotations

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from google.protobuf import any_pb2

from lakehold.flight import protocol
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.flight.conftest import Retail, connect, uri
from tests.sharing import new_user


def _objects(connection) -> dict[str, dict[str, list[str]]]:
    """Schema -> table -> its column names, from ADBC's GetObjects."""
    found: dict[str, dict[str, list[str]]] = {}
    for catalog in connection.adbc_get_objects(depth="all").read_all().to_pylist():
        assert catalog["catalog_name"] in ("", None)  # Lakehold has no catalog level
        for schema in catalog["catalog_db_schemas"]:
            found[schema["db_schema_name"]] = {
                table["table_name"]: [c["column_name"] for c in table["table_columns"]]
                for table in schema["db_schema_tables"]
            }
    return found


def test_the_catalog_shows_only_what_the_caller_may_read(
    server, retail: Retail, runtime: Runtime, admin: Principal
) -> None:
    customer = ["cust_id", "cust_name", "cust_country"]  # no_email: cust_email hidden
    with connect(server, retail.analyst_token, project="analysts") as connection:
        found = _objects(connection)
        assert found == {
            "analysts": {},
            "retail": {
                "customer": customer,
                "inventory": ["prod_id", "prod_name", "active"],
                "store_sales": [
                    "sale_id",
                    "cust_id",
                    "sale_date",
                    "sale_amount",
                    "prod_id",
                    "last_purchase_date",
                ],
            },
        }
        schema = connection.adbc_get_table_schema("customer", db_schema_filter="retail")
        assert schema.names == customer
        cursor = connection.cursor()
        cursor.execute('select * from "retail"."customer"')  # the names a client writes
        selected = cursor.fetch_arrow_table().schema
        assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in selected]
        type_name = schema.field("cust_id").metadata[b"ARROW:FLIGHT:SQL:TYPE_NAME"]
        assert type_name == b"BIGINT"
        assert connection.adbc_get_table_types() == ["TABLE"]
        assert connection.adbc_get_info()["vendor_name"] == "Lakehold"
        tables = connection.adbc_get_objects(depth="tables", table_name_filter="store_%")
        names = [
            t["table_name"]
            for c in tables.read_all().to_pylist()
            for s in c["catalog_db_schemas"]
            for t in s["db_schema_tables"]
        ]
        assert names == ["store_sales"]

    with connect(server, retail.analyst_token) as connection:  # acting in no project
        assert _objects(connection) == {"analysts": {}}
        with pytest.raises(adbc_driver_manager.Error):
            connection.adbc_get_table_schema("customer", db_schema_filter="retail")

    with connect(server, retail.owner_token) as connection:  # the owner sees every column
        assert "cust_email" in _objects(connection)["retail"]["customer"]

    _, stranger = new_user(runtime, admin, "stranger")
    with connect(server, stranger) as connection:
        assert _objects(connection) == {}
    with (
        connect(server, stranger, project="analysts") as connection,
        pytest.raises(adbc_driver_manager.Error, match="project 'analysts' not found"),
    ):
        _objects(connection)


def _raw(server, token: str) -> tuple[flight.FlightClient, flight.FlightCallOptions]:
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return flight.connect(uri(server)), flight.FlightCallOptions(headers=headers)


def _fetch(raw: flight.FlightClient, options, command) -> pa.Table:
    descriptor = flight.FlightDescriptor.for_command(protocol.pack(command))
    info = raw.get_flight_info(descriptor, options)
    table = raw.do_get(info.endpoints[0].ticket, options).read_all()
    assert table.schema == info.schema
    return table


def test_sql_info_and_what_is_not_implemented(server, retail: Retail) -> None:
    raw, options = _raw(server, retail.analyst_token)
    info = _fetch(raw, options, protocol.CommandGetSqlInfo(info=[0, 3, 4, 504, 999]))
    assert info.to_pylist() == [
        {"info_name": 0, "value": "Lakehold"},
        {"info_name": 3, "value": True},  # read only
        {"info_name": 4, "value": True},  # SQL
        {"info_name": 504, "value": '"'},  # identifier quote
    ]
    schemas = _fetch(raw, options, protocol.CommandGetDbSchemas(db_schema_filter_pattern="ret\\_%"))
    assert schemas.column("db_schema_name").to_pylist() == []  # "ret_" escaped: no match
    assert _fetch(raw, options, protocol.CommandGetCatalogs()).num_rows == 0

    primary_keys = any_pb2.Any(
        type_url="type.googleapis.com/arrow.flight.protocol.sql.CommandGetPrimaryKeys"
    )
    descriptor = flight.FlightDescriptor.for_command(primary_keys.SerializeToString())
    with pytest.raises(
        pa.ArrowNotImplementedError, match="does not implement CommandGetPrimaryKeys"
    ):
        raw.get_flight_info(descriptor, options)
    with pytest.raises(pa.ArrowInvalid, match="not a Flight SQL command"):
        raw.get_flight_info(flight.FlightDescriptor.for_command(b"\xff\xff"), options)
    with pytest.raises(pa.ArrowNotImplementedError, match="the action 'BeginTransaction'"):
        list(raw.do_action(flight.Action("BeginTransaction", b""), options))
