"""Publishing: contributors publish the latest version; revisions replace; unpublish withdraws."""

from __future__ import annotations

import pytest

from lakehold.catalog.tables import DataSource
from lakehold.errors import Conflict, Forbidden, NotFound
from tests.conftest import SCENARIOS
from tests.sharing import add_member


def test_publish_snapshots_business_metadata(world) -> None:
    rt = world.runtime
    listing = world.listings["customer"]
    assert listing.qualified_name == "retail.customer" and listing.revision == 1
    assert listing.status == "active" and listing.published_by == "owner"
    assert [c.name for c in listing.columns] == [
        "cust_id",
        "cust_name",
        "cust_country",
        "cust_email",
    ]
    assert listing.asset_version == 0
    rt.catalog.update_asset(
        world.owner,
        "retail",
        "customer",
        description="Customers",
        tags=["pii"],
        column_descriptions={"cust_email": "contact"},
    )
    # The active listing keeps what was published until the asset is published again.
    assert rt.listings.get_listing(world.analyst, listing.id).description is None
    again = rt.listings.publish(world.owner, "retail", "customer")
    assert again.revision == 2 and again.description == "Customers" and again.tags == ["pii"]
    assert again.columns[3].description == "contact"
    assert rt.listings.get_listing(world.owner, listing.id).status == "superseded"
    with pytest.raises(NotFound):  # an earlier revision is not discoverable
        rt.listings.get_listing(world.analyst, listing.id)
    active = rt.listings.list_listings(world.analyst, name="CUST")
    assert [(entry.id, entry.revision) for entry in active] == [(again.id, 2)]


def test_only_the_latest_version_can_be_published(world) -> None:
    rt = world.runtime
    rt.table_service.write(
        world.owner,
        "retail",
        "store_sales",
        DataSource(SCENARIOS / "retail_store_sales.csv"),
        mode="append",
    )
    with pytest.raises(Conflict) as caught:
        rt.listings.publish(world.owner, "retail", "store_sales", asset_version=0)
    assert caught.value.details["field"] == "asset_version"
    published = rt.listings.publish(world.owner, "retail", "store_sales", asset_version=1)
    assert published.asset_version == 1 and published.revision == 2


def test_publish_needs_a_contributor_and_discovery_is_for_everyone(world) -> None:
    rt = world.runtime
    add_member(rt, "retail", world.analyst, "viewer")
    with pytest.raises(Forbidden):
        rt.listings.publish(world.analyst, "retail", "customer")
    with pytest.raises(NotFound):
        rt.listings.publish(world.outsider, "retail", "customer")
    with pytest.raises(NotFound):  # the inventory stays private to members
        rt.catalog.list_assets(world.outsider, "retail")
    found = rt.listings.list_listings(world.outsider, project="retail")
    assert [entry.asset for entry in found] == ["customer", "inventory", "store_sales"]
    assert rt.listings.list_listings(world.outsider, project="analysts") == []
    denied = rt.audit.events(world.admin, action="listing.publish", allowed=False)
    assert {e.username for e in denied} == {"analyst", "outsider"}


def test_unpublish_withdraws_and_blocks_new_requests(world) -> None:
    rt = world.runtime
    withdrawn = rt.listings.unpublish(world.owner, "retail", "inventory")
    assert withdrawn.status == "withdrawn" and withdrawn.withdrawn_at is not None
    assert "inventory" not in {entry.asset for entry in rt.listings.list_listings(world.analyst)}
    with pytest.raises(Conflict):
        rt.listings.unpublish(world.owner, "retail", "inventory")
    with pytest.raises(NotFound) as caught:
        world.request("inventory")
    assert caught.value.details["field"] == "listings"
