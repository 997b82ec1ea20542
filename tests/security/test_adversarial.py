"""Adversarial reads: the analysts user tries to read what its grants do not expose.

Project ``retail`` grants project ``analysts``:

- ``customer`` without the column ``cust_email`` and without the rows of Greece;
- ``store_sales`` with the row filter ``prod_id = 1``;
- nothing of ``inventory`` (published, not granted) and of ``secrets`` (not published).

Every attempt must fail closed: refused with a 4xx that reveals nothing beyond what the user
wrote, or answered with granted data only. No response may contain a hidden value, the name
of a hidden column or table the user did not write, a file path or a generated view name.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from lakehold.catalog.tables import DataSource
from lakehold.config import Settings
from lakehold.governance.subscriptions import ItemDecision
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import User
from tests import store_templates
from tests.conftest import POSTGRES, SCENARIOS
from tests.sharing import client_for, new_user

# Values only hidden rows, hidden columns or ungranted tables hold.
HIDDEN_VALUES = (
    "example.com",
    "Joyce",
    "Deaton",
    "29033279",
    "12755125",
    "26009249",
    "3270685",
    "6520539",
    "10251383",
    "10255783",
    "Widget",
    "Gadget",
    "Item C",
    "TOPSECRET",
)
# Names that must not appear unless the user wrote them.
HIDDEN_NAMES = (
    "cust_email",
    "prod_name",
    "secrets",
    "inventory",
    "classified",
    "read_parquet",
    ".parquet",
)
NEVER = ("_lh_", "/warehouse")


@dataclass
class Shared:
    runtime: Runtime
    client: TestClient
    warehouse: Path


def _database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield store_templates.sqlite_url(tmp)
        return
    schema = f"lh_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    params = dict(p.split("=", 1) for p in POSTGRES.split())
    yield (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host')}:"
        f"{params.get('port', '5432')}/{params.get('dbname')}?options=-csearch_path%3D{schema}"
    )
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def shared(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Shared]:
    yield from retail_shared(request.param, tmp_path_factory.mktemp("adversarial"))


def retail_shared(kind: str, tmp: Path) -> Iterator[Shared]:
    """The retail story set up in ``tmp`` on metadata ``kind``, and the analyst's client."""
    databases = _database(kind, tmp)
    url = next(databases)
    runtime = Runtime(Settings(home=tmp / "home", database_url=url, statement_timeout_seconds=30))
    try:
        _, admin_token = runtime.security.bootstrap()
        admin = runtime.security.authenticate(admin_token)
        owner, _ = new_user(runtime, admin, "owner")
        analyst, token = new_user(runtime, admin, "analyst")
        runtime.catalog.create_domain(admin, "Retail")
        runtime.catalog.create_project(owner, "retail", "Retail")
        runtime.catalog.create_project(analyst, "analysts", "Retail")
        tables = runtime.table_service
        for table in ("customer", "inventory", "store_sales"):
            tables.create_table(
                owner, "retail", table, DataSource(SCENARIOS / f"retail_{table}.csv")
            )
        tables.create_table(
            owner,
            "retail",
            "secrets",
            DataSource(pa.table({"id": [1], "classified": ["TOPSECRET"]})),
        )
        # A second version of store_sales, so that time travel has somewhere to go.
        tables.write(
            owner,
            "retail",
            "store_sales",
            DataSource(SCENARIOS / "retail_store_sales.csv"),
            mode="overwrite",
        )
        listings = {
            t: runtime.listings.publish(owner, "retail", t)
            for t in ("customer", "inventory", "store_sales")
        }
        filters = runtime.filters
        filters.create_filter(
            owner,
            "retail",
            "customer",
            "no_email",
            kind="column",
            columns=["cust_id", "cust_name", "cust_country"],
        )
        filters.create_filter(
            owner,
            "retail",
            "customer",
            "not_greece",
            kind="row",
            expression="cust_country <> 'Greece'",
        )
        filters.create_filter(
            owner, "retail", "store_sales", "widget_a", kind="row", expression="prod_id = 1"
        )
        request = runtime.subscriptions.request(
            analyst,
            "analysts",
            [listings["customer"].id, listings["store_sales"].id],
            "need this data for analysis",
        )
        runtime.subscriptions.approve(
            owner,
            request.id,
            items=[
                ItemDecision(
                    listings["customer"].id, row_filter="not_greece", column_filter="no_email"
                ),
                ItemDecision(listings["store_sales"].id, row_filter="widget_a"),
            ],
        )
        with client_for(runtime, token) as client:
            yield Shared(runtime, client, runtime.settings.warehouse_path)
    finally:
        runtime.close()
        next(databases, None)


def run(shared: Shared, sql: str, dialect: str = "duckdb"):
    return shared.client.post(
        "/api/v1/query",
        json={"sql": sql, "project": "analysts", "dialect": dialect, "limit": 10000},
    )


def assert_no_leak(sql: str, text: str, warehouse: Path) -> None:
    for value in HIDDEN_VALUES:
        assert value not in text, f"{value!r} leaked by {sql!r}: {text[:500]}"
    for name in HIDDEN_NAMES:
        if name not in sql.lower():
            assert name not in text.lower(), f"{name!r} leaked by {sql!r}: {text[:500]}"
    _, _, candidates = text.partition("Candidate bindings")
    for name in HIDDEN_NAMES:  # DuckDB's suggestions name only granted columns
        assert name not in candidates.lower(), f"{name!r} suggested for {sql!r}: {text[:500]}"
    for marker in (*NEVER, str(warehouse)):
        assert marker not in text, f"{marker!r} leaked by {sql!r}: {text[:500]}"


MISSING = {"error": "not_found", "message": "table '{}' not found"}

# (sql, expected): "refused" = any 4xx; "missing:<project.table>" = exactly the missing-table
# answer; a callable checks the rows of an answered query.
Check = str | Callable[[list[dict]], bool]

ATTEMPTS: list[tuple[str, Check]] = [
    # file and table functions
    ("select * from read_csv('/etc/passwd')", "refused"),
    ("select * from read_parquet('**/*.parquet')", "refused"),
    ("select * from delta_scan('retail/customer')", "refused"),
    ("select * from glob('**')", "refused"),
    ("select * from 'retail/customer/data.parquet'", "refused"),
    ("select * from read_text('/etc/hostname')", "refused"),
    ("select * from query_table('retail.inventory')", "refused"),
    ("select * from query('select * from retail.inventory')", "refused"),
    ("select * from parquet_scan('x.parquet')", "refused"),
    # statements that are not reads
    ("attach 'x.db' as x", "refused"),
    ("copy retail.customer to '/tmp/customer.csv'", "refused"),
    ("copy (select * from retail.customer) to '/tmp/c.csv'", "refused"),
    ("pragma database_list", "refused"),
    ("set enable_external_access = true", "refused"),
    ("install httpfs", "refused"),
    ("load httpfs", "refused"),
    ("export database '/tmp/all'", "refused"),
    ("call pragma_table_info('retail.customer')", "refused"),
    ("describe retail.customer", "refused"),
    ("summarize retail.customer", "refused"),
    ("show tables", "refused"),
    # catalogs and settings
    ("select * from information_schema.columns", "refused"),
    ("select * from information_schema.tables", "refused"),
    ("select * from duckdb_tables()", "refused"),
    ("select * from duckdb_columns()", "refused"),
    ("select * from duckdb_views()", "refused"),
    ("select * from pragma_table_info('customer')", "refused"),
    ("select * from pg_catalog.pg_tables", "refused"),
    ("select * from sqlite_master", "refused"),
    ("select * from memory.main.customer", "refused"),
    ("select current_setting('allowed_paths')", "refused"),
    ("select current_query()", "refused"),
    ("select getenv('HOME')", "refused"),
    ("select json_serialize_sql('select 1')", "refused"),
    # quoting, case and spacing tricks on an ungranted table
    # quoted names fold as DuckDB folds them: this is the granted (filtered) table
    ('select * from "RETAIL"."CUSTOMER"', lambda rows: len(rows) == 5 and len(rows[0]) == 3),
    ('select * from "retail"."inventory"', "missing:retail.inventory"),
    ("select * from retail . inventory", "missing:retail.inventory"),
    ("select * from RETAIL.INVENTORY", "missing:retail.inventory"),
    ("select * from retail./* hidden */inventory", "missing:retail.inventory"),
    ("select * from retail.inventory -- just a comment", "missing:retail.inventory"),
    ("select * from retail.secrets", "missing:retail.secrets"),
    ("select * from retail.inventory at (version => 0)", "missing:retail.inventory"),
    ("select * from retail.inventory tablesample 50%", "missing:retail.inventory"),
    ('select * from "retail"."inventory"', "missing:retail.inventory"),
    ("select * from inventory", "missing:analysts.inventory"),
    ("select * from customer", "missing:analysts.customer"),
    ("select * from main.customer", "refused"),
    ("select * from system.main.customer", "refused"),
    # several statements
    ("select 1; select * from retail.inventory", "refused"),
    ("select * from retail.customer; drop table retail.customer", "refused"),
    # CTE, subquery and set-operation routes to an ungranted table
    ("with x as (select * from retail.inventory) select * from x", "missing:retail.inventory"),
    ("select * from (select * from retail.inventory) t", "missing:retail.inventory"),
    (
        "select cust_id from retail.customer union all select prod_id from retail.inventory",
        "missing:retail.inventory",
    ),
    (
        "with customer as (select * from retail.inventory) select * from customer",
        "missing:retail.inventory",
    ),
    (
        "with inventory as (select 1 as x) select * from retail.inventory",
        "missing:retail.inventory",
    ),
    ("select (select max(prod_id) from retail.inventory)", "missing:retail.inventory"),
    (
        "select * from retail.customer c where c.cust_id in (select prod_id from retail.inventory)",
        "missing:retail.inventory",
    ),
    (
        "select * from retail.customer, lateral (select * from retail.secrets) s",
        "missing:retail.secrets",
    ),
    ("select * from retail.inventory", "missing:retail.inventory"),
    # the excluded column, through * and friends
    ("select * from retail.customer", lambda rows: len(rows) == 5),
    ("select customer.* from retail.customer", lambda rows: len(rows) == 5),
    (
        "select c.* from retail.customer c",
        lambda rows: set(rows[0]) == {"cust_id", "cust_name", "cust_country"},
    ),
    ("select columns(*) from retail.customer", lambda rows: len(rows[0]) == 3),
    ("select columns('.*') from retail.customer", lambda rows: len(rows[0]) == 3),
    ("select columns('.*email.*') from retail.customer", "refused"),
    ("select struct_pack(*) from retail.customer", "refused_or_rows"),
    ("select c from retail.customer c", lambda rows: len(rows) == 5),
    ("select to_json(c) as j from retail.customer c", lambda rows: len(rows) == 5),
    ("select row_to_json(c) as j from retail.customer c", "refused_or_rows"),
    ("select * exclude (cust_id) from retail.customer", lambda rows: len(rows[0]) == 2),
    ("select cust_email from retail.customer", "refused"),
    ('select "CUST_EMAIL" from retail.customer', "refused"),
    ("select retail.customer.cust_email from retail.customer", "refused"),
    ("select cust_id from retail.customer where cust_email like '%'", "refused"),
    (
        "select a.cust_id from retail.customer a join retail.customer b "
        "on a.cust_email = b.cust_email",
        "refused",
    ),
    ("select count(*) from retail.customer group by cust_email", "refused"),
    ("select cust_id from retail.customer order by cust_email", "refused"),
    (
        "select row_number() over (partition by cust_email) as n from retail.customer",
        "refused",
    ),
    ("select cust_country from retail.customer group by 1 having max(cust_email) > ''", "refused"),
    ("select cast(cust_email as int) from retail.customer", "refused"),
    ("select error(cust_email) from retail.customer", "refused"),
    ("select * from retail.customer version as of 0", lambda rows: len(rows) == 5),
    # bypassing the row filter
    ("select count(*) as n from retail.store_sales", lambda rows: rows == [{"n": 7}]),
    ("select * from retail.store_sales where prod_id <> 1", lambda rows: rows == []),
    (
        "select count(*) as n from retail.store_sales a join retail.store_sales b on true",
        lambda rows: rows == [{"n": 49}],
    ),
    (
        "select count(*) as n from retail.store_sales a left join retail.store_sales b "
        "on a.sale_id <> b.sale_id where b.prod_id = 2",
        lambda rows: rows == [{"n": 0}],
    ),
    (
        "select 1 as x where exists (select 1 from retail.store_sales where prod_id = 2)",
        lambda rows: rows == [],
    ),
    (
        "select 1 as x where 29033279 in (select cust_id from retail.store_sales)",
        lambda rows: rows == [],
    ),
    (
        "select sale_id from retail.store_sales except select sale_id from retail.store_sales "
        "version as of 0",
        lambda rows: rows == [],
    ),
    (
        "select count(*) as n from (select sale_id from retail.store_sales version as of 0 "
        "union select sale_id from retail.store_sales)",
        lambda rows: rows == [{"n": 7}],
    ),
    (
        "select count(*) as n from retail.store_sales version as of 0 where prod_id = 2",
        lambda rows: rows == [{"n": 0}],
    ),
    (
        "select sum(sale_amount) over () as s from retail.store_sales limit 1",
        lambda rows: float(rows[0]["s"]) == 1500.0,
    ),
    (
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) "
        "select count(*) as n from r, retail.store_sales",
        lambda rows: rows == [{"n": 21}],
    ),
    (
        "select max(sale_amount) as m, count(distinct prod_id) as p from retail.store_sales",
        lambda rows: rows[0]["p"] == 1,
    ),
    # errors that could carry hidden values
    (
        "select * from retail.store_sales where case when prod_id <> 1 "
        "then error(cust_id::varchar) else true end",
        lambda rows: len(rows) == 7,
    ),
    (
        "select * from retail.customer where cast(cust_name as int) = 1",
        "refused",
    ),
    (
        "select cast(cust_name as int) from retail.customer where cust_country = 'Greece'",
        lambda rows: rows == [],
    ),
    (
        "select * from retail.store_sales where cast(cust_id::varchar || 'x' as int) = 1",
        "refused",
    ),
    # other dialects
    ('select * from "retail"."inventory"', "missing:retail.inventory"),
]
POSTGRES_ATTEMPTS = [
    ('SELECT * FROM "retail"."inventory"', "missing:retail.inventory"),
    ("SELECT * FROM pg_catalog.pg_class", "refused"),
    ("SELECT * FROM retail.customer LIMIT ALL", lambda rows: len(rows) == 5),
]


def _check(shared: Shared, sql: str, expected: Check, dialect: str = "duckdb") -> None:
    response = run(shared, sql, dialect)
    text = response.text
    assert response.status_code < 500, f"{sql!r}: {text}"
    assert_no_leak(sql, text, shared.warehouse)
    if expected == "refused":
        assert 400 <= response.status_code < 500, f"{sql!r} was answered: {text[:300]}"
    elif expected == "refused_or_rows":
        if response.status_code == 200:
            rows = response.json()["rows"]
            assert len(rows) == 5, rows
    elif isinstance(expected, str) and expected.startswith("missing:"):
        table = expected.removeprefix("missing:")
        assert response.status_code == 404, f"{sql!r}: {text}"
        body = response.json()
        assert body.pop("request_id") == response.headers["X-Request-ID"]
        assert body == {"error": "not_found", "message": f"table '{table}' not found"}
    else:
        assert response.status_code == 200, f"{sql!r}: {text}"
        rows = response.json()["rows"]
        assert callable(expected) and expected(rows), f"{sql!r}: {rows}"


@pytest.mark.parametrize(("sql", "expected"), ATTEMPTS, ids=[a[0][:60] for a in ATTEMPTS])
def test_attempt_fails_closed(shared: Shared, sql: str, expected: Check) -> None:
    _check(shared, sql, expected)


@pytest.mark.parametrize(
    ("sql", "expected"), POSTGRES_ATTEMPTS, ids=[a[0][:60] for a in POSTGRES_ATTEMPTS]
)
def test_postgres_dialect_attempt_fails_closed(shared: Shared, sql: str, expected: Check) -> None:
    _check(shared, sql, expected, dialect="postgres")


def test_missing_and_ungranted_tables_are_indistinguishable(shared: Shared) -> None:
    answers = {}
    for table in ("inventory", "secrets", "no_such_table"):
        response = run(shared, f"select * from retail.{table}")
        answers[table] = (response.status_code, response.json())
    assert {code for code, _ in answers.values()} == {404}
    assert {re.sub(r"retail\.\w+", "T", body["message"]) for _, body in answers.values()} == {
        "table 'T' not found"
    }
    assert {tuple(sorted(body)) for _, body in answers.values()} == {
        ("error", "message", "request_id")
    }


def test_statement_api_and_listing_do_not_leak(shared: Shared) -> None:
    submitted = shared.client.post(
        "/api/v1/statements", json={"sql": "select * from retail.inventory", "project": "analysts"}
    )
    assert submitted.status_code == 404
    assert_no_leak("select * from retail.inventory", submitted.text, shared.warehouse)
    assert shared.client.get("/api/v1/projects/retail/assets").status_code == 404
    assert shared.client.get("/api/v1/projects/retail/assets/secrets").status_code == 404
    listings = shared.client.get("/api/v1/listings").text
    assert "secrets" not in listings and "TOPSECRET" not in listings


def test_every_refusal_is_audited(shared: Shared) -> None:
    run(shared, "select * from retail.secrets")
    with shared.runtime.store.session() as session:
        admin = session.query(User).filter_by(username="admin").one()
        principal = Principal(user_id=admin.id, username=admin.username, is_admin=True)
    events = shared.runtime.audit.events(principal, action="statement", allowed=False, limit=10_000)
    secrets = [e for e in events if e.sql == "select * from retail.secrets"]
    assert secrets and secrets[0].reason == "no active grant to project 'analysts'"
    assert secrets[0].username == "analyst" and secrets[0].assets == ["retail.secrets"]
