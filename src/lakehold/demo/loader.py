"""Load the insurance, schema-evolution and retail stories into a fresh Lakehold.

The retail story is the sharing story, told by three people: the administrator, a data
steward (``steward``) who owns project ``retail``, publishes its tables and protects them
with a row filter and a column filter, and an analyst (``analyst``) whose project
``analysts`` is granted two of them through an approved subscription, derives a table from
them with ``CREATE TABLE ... AS SELECT`` (Lakehold emits its lineage) and waits for a
second request to be decided. When a PostgreSQL server answers, the steward also reads a
table of it in place, ``retail.product_lines`` (:mod:`lakehold.demo.federated`). Everything goes
through the services, as a user would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lakehold.catalog.tables import DataSource
from lakehold.demo.federated import DemoSource, attach_source
from lakehold.errors import Conflict
from lakehold.governance.subscriptions import ItemDecision
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

DATA = Path(__file__).parent / "data"
DOMAIN = "Demo"
FIRST_QUERY = (
    "select region_name, count(*) as policies, sum(insured_value) as insured "
    "from insurance.policies group by region_name order by insured desc"
)

STEWARD = "steward"
ANALYST = "analyst"
SHOP = "retail"
TEAM = "analysts"
ROW_FILTER = "widget_a"
ROW_EXPRESSION = "prod_id = 1"
COLUMN_FILTER = "no_email"
COLUMN_FILTER_COLUMNS = ["cust_id", "cust_name", "cust_country"]
DERIVED = "widget_customers"
"""The analysts' table made by CREATE TABLE ... AS SELECT (its lineage comes from Lakehold)."""
DERIVED_SQL = (
    f"create table {TEAM}.{DERIVED} as "
    "select coalesce(c.cust_country, 'unknown') as cust_country, count(*) as sales, "
    "sum(s.sale_amount) as amount "
    f"from {SHOP}.store_sales s left join {SHOP}.customer c on s.cust_id = c.cust_id "
    "group by all"
)
FEDERATED_QUERY = (
    "select p.product_line, count(*) as sales, sum(s.sale_amount) as amount "
    f"from {SHOP}.store_sales s join {SHOP}.product_lines p using (prod_id) "
    "group by p.product_line order by amount desc"
)
"""The steward's join of the federated ``product_lines`` with the lakehouse's sales."""
TOKEN_NAME = "demo"
"""The name of the users' demo tokens; each demo start replaces them."""


@dataclass(frozen=True)
class DemoStory:
    """What the demo start did, and the users' tokens (printed once on the terminal)."""

    loaded: bool
    tokens: dict[str, str] = field(default_factory=dict)
    """Username → a new API token, for the users of the sharing story."""
    pending_request: str | None = None
    federated: str | None = None
    """The federated table, once the demo has connected it."""
    source_note: str | None = None
    """One line on what the demo did with its source (or why it went on without)."""


def load_demo(
    runtime: Runtime, principal: Principal, source: DemoSource | None = None
) -> DemoStory:
    """Create the demo domain, projects, tables, users and the sharing story once, and the
    federated table from ``source`` once it answers; on every start, issue the story's users
    new tokens (their earlier demo tokens are revoked)."""
    loaded = _load(runtime, principal)
    users = {u.username for u in runtime.security.list_users(principal)}
    if STEWARD not in users or ANALYST not in users:  # a home of an earlier demo
        return DemoStory(loaded)
    tokens = {name: _fresh_token(runtime, principal, name) for name in (STEWARD, ANALYST)}
    steward = runtime.security.authenticate(tokens[STEWARD])
    pending = runtime.subscriptions.list_requests(steward, direction="incoming", status="requested")
    federated = attach_source(runtime, principal, steward, SHOP, source)
    return DemoStory(
        loaded, tokens, pending[0].id if pending else None, federated.table, federated.note
    )


def _load(runtime: Runtime, principal: Principal) -> bool:
    try:
        runtime.catalog.create_domain(principal, DOMAIN, "Stories from the reference posts")
    except Conflict:
        return False
    catalog, tables = runtime.catalog, runtime.table_service
    catalog.create_project(principal, "insurance", DOMAIN, "Insurance policies with CDC upserts")
    tables.create_table(
        principal,
        "insurance",
        "policies",
        DataSource(DATA / "insurance_full_load.csv"),
        keys=["policy_id"],
        description="Insurance policies, full load then CDC batches",
    )
    tables.write(
        principal, "insurance", "policies", DataSource(DATA / "insurance_cdc_1.csv"), mode="cdc"
    )
    tables.write(
        principal,
        "insurance",
        "policies",
        DataSource(DATA / "insurance_cdc_2.csv"),
        mode="cdc",
        order_column="seq",
    )

    catalog.create_project(
        principal, "replication", DOMAIN, "A replicated table whose schema moves"
    )
    for batch in range(1, 5):
        source = DataSource(DATA / f"schema_evolution_{batch}.csv")
        if batch == 1:
            tables.create_table(principal, "replication", "object", source, keys=["object_id"])
        else:
            tables.write(principal, "replication", "object", source, mode="merge")

    _load_sharing(runtime, principal)
    return True


def _user(runtime: Runtime, admin: Principal, username: str, display_name: str) -> Principal:
    """A demo user, acting through a token of its own (as it would from the CLI)."""
    runtime.security.create_user(admin, username, display_name=display_name)
    token = runtime.security.create_token(admin, "demo-setup", username=username)
    assert token.value is not None  # just issued
    principal = runtime.security.authenticate(token.value)
    runtime.security.revoke_token(admin, token.id)  # the walk-through gets fresh ones
    return principal


def _load_sharing(runtime: Runtime, admin: Principal) -> None:
    """The retail story: publish, filter, request, approve, derive, and a pending request."""
    steward = _user(runtime, admin, STEWARD, "Retail data steward")
    analyst = _user(runtime, admin, ANALYST, "Analyst")
    catalog, tables = runtime.catalog, runtime.table_service

    catalog.create_project(steward, SHOP, DOMAIN, "Retail customers, inventory and sales")
    listings: dict[str, str] = {}
    for name in ("customer", "inventory", "store_sales"):
        tables.create_table(steward, SHOP, name, DataSource(DATA / f"retail_{name}.csv"))
        listings[name] = runtime.listings.publish(steward, SHOP, name).id
    runtime.filters.create_filter(
        steward, SHOP, "store_sales", ROW_FILTER, kind="row", expression=ROW_EXPRESSION
    )
    runtime.filters.create_filter(
        steward, SHOP, "customer", COLUMN_FILTER, kind="column", columns=COLUMN_FILTER_COLUMNS
    )

    catalog.create_project(analyst, TEAM, DOMAIN, "The analysts' own tables")
    request = runtime.subscriptions.request(
        analyst,
        TEAM,
        [listings["store_sales"], listings["customer"]],
        "Sales by country for the quarterly review",
    )
    runtime.subscriptions.approve(
        steward,
        request.id,
        items=[
            ItemDecision(listings["store_sales"], row_filter=ROW_FILTER),
            ItemDecision(listings["customer"], column_filter=COLUMN_FILTER),
        ],
        comment="Widget A sales only, and no e-mail addresses",
    )
    runtime.statements.execute(analyst.in_project(TEAM), DERIVED_SQL, project=TEAM)
    runtime.subscriptions.request(
        analyst, TEAM, [listings["inventory"]], "Which products are still active?"
    )


def _fresh_token(runtime: Runtime, admin: Principal, username: str) -> str:
    """A new demo token of ``username``; the ones earlier demo starts printed are revoked."""
    for token in runtime.security.list_tokens(admin):
        if token.username == username and token.name == TOKEN_NAME and not token.revoked:
            runtime.security.revoke_token(admin, token.id)
    issued = runtime.security.create_token(admin, TOKEN_NAME, username=username)
    assert issued.value is not None  # just issued
    return issued.value
