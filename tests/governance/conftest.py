"""Service-level sharing fixtures: project retail (owner) shares with project analysts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lakehold.catalog.tables import DataSource
from lakehold.governance.listings import ListingView
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.conftest import SCENARIOS
from tests.sharing import new_user

TABLES = ("customer", "inventory", "store_sales")


@dataclass
class World:
    runtime: Runtime
    admin: Principal
    owner: Principal
    analyst: Principal
    outsider: Principal
    listings: dict[str, ListingView]

    def request(self, *tables: str, reason: str = "need this data for analysis"):
        return self.runtime.subscriptions.request(
            self.analyst, "analysts", [self.listings[t].id for t in tables], reason
        )

    def query(self, sql: str, who: Principal | None = None, project: str | None = "analysts"):
        return self.runtime.statements.execute(who or self.analyst, sql, project=project).table


@pytest.fixture
def world(runtime: Runtime, admin: Principal) -> World:
    owner, _ = new_user(runtime, admin, "owner")
    analyst, _ = new_user(runtime, admin, "analyst")
    outsider, _ = new_user(runtime, admin, "outsider")
    runtime.catalog.create_domain(admin, "Retail")
    runtime.catalog.create_project(owner, "retail", "Retail")
    runtime.catalog.create_project(analyst, "analysts", "Retail")
    runtime.catalog.create_project(outsider, "elsewhere", "Retail")
    for table in TABLES:
        runtime.table_service.create_table(
            owner, "retail", table, DataSource(SCENARIOS / f"retail_{table}.csv")
        )
    listings = {t: runtime.listings.publish(owner, "retail", t) for t in TABLES}
    return World(runtime, admin, owner, analyst, outsider, listings)
