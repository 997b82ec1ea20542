"""Load the insurance, schema-evolution and retail stories into a fresh Lakehold."""

from __future__ import annotations

from pathlib import Path

from lakehold.catalog.tables import DataSource
from lakehold.errors import Conflict
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

DATA = Path(__file__).parent / "data"
DOMAIN = "Demo"
FIRST_QUERY = (
    "select region_name, count(*) as policies, sum(insured_value) as insured "
    "from insurance.policies group by region_name order by insured desc"
)


def load_demo(runtime: Runtime, principal: Principal) -> bool:
    """Create the demo domain, projects and tables; False when they already exist."""
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

    catalog.create_project(principal, "retail", DOMAIN, "Retail customers, inventory and sales")
    for name in ("customer", "inventory", "store_sales"):
        tables.create_table(principal, "retail", name, DataSource(DATA / f"retail_{name}.csv"))
    return True
