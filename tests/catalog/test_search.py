"""Search: ranking, facets, paging, visibility, form fields, query syntax, HTTP and CLI.

Every test runs on SQLite (FTS5) and on PostgreSQL (tsvector), through the real services.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import typer
from alembic import command
from alembic.config import Config
from sqlalchemy import func, inspect, select
from sqlalchemy import text as text_clause
from typer.testing import CliRunner

from lakehold.api.app import create_app
from lakehold.catalog.search import index_listing, reindex_all
from lakehold.catalog.search.service import SearchService
from lakehold.catalog.tables import DataSource
from lakehold.cli.search import search as search_command
from lakehold.errors import Invalid
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.db import MIGRATIONS
from lakehold.store.models import Listing
from lakehold.store.search import SearchDocument, SearchFacet
from tests.conftest import SCENARIOS
from tests.sharing import add_member, new_user


@dataclass
class Catalog:
    runtime: Runtime
    search: SearchService
    admin: Principal
    owner: Principal
    analyst: Principal
    outsider: Principal
    analyst_token: str

    def find(self, who: Principal, q: str = "", **options):
        return self.search.search(who, q, **options)


def _table(rt: Runtime, who: Principal, project: str, name: str, csv: str, **options) -> None:
    rt.table_service.create_table(
        who, project, name, DataSource(SCENARIOS / f"retail_{csv}.csv"), **options
    )


@pytest.fixture
def catalog(runtime: Runtime, admin: Principal) -> Catalog:
    """retail (owner): customer, inventory published, store_sales unpublished; finance (owner):
    ledger published; campaigns (admin, unit Retail/Marketing): leads published."""
    owner, _ = new_user(runtime, admin, "owner")
    analyst, analyst_token = new_user(runtime, admin, "analyst")
    outsider, _ = new_user(runtime, admin, "outsider")
    rt = runtime
    rt.catalog.create_domain(admin, "Retail")
    rt.catalog.create_domain(admin, "Finance")
    rt.organisation.create_unit(admin, "Retail", "Marketing")
    rt.catalog.create_project(owner, "retail", "Retail")
    rt.catalog.create_project(owner, "finance", "Finance")
    rt.catalog.create_project(analyst, "analysts", "Retail")
    rt.catalog.create_project(admin, "campaigns", "Retail", domain_unit="Retail/Marketing")
    _table(rt, owner, "retail", "customer", "customer", tags=["pii", "gold"])
    _table(
        rt,
        owner,
        "retail",
        "inventory",
        "inventory",
        description="Stock on hand per product, not a customer table",
        tags=["gold"],
    )
    _table(
        rt,
        owner,
        "retail",
        "store_sales",
        "store_sales",
        description="Secret zeppelin sales of every customer",
    )
    _table(rt, owner, "finance", "ledger", "store_sales", tags=["pii"])
    _table(rt, admin, "campaigns", "leads", "customer", description="Marketing leads")
    for project, table in (
        ("retail", "customer"),
        ("retail", "inventory"),
        ("finance", "ledger"),
        ("campaigns", "leads"),
    ):
        rt.listings.publish(admin, project, table)
    return Catalog(rt, SearchService(rt.store), admin, owner, analyst, outsider, analyst_token)


def names(results) -> list[str]:
    return [hit.qualified_name for hit in results.items]


def counts(results, facet: str) -> dict[str, int]:
    return {c.value: c.count for c in results.facets[facet]}


def test_a_name_match_ranks_above_a_description_match(catalog: Catalog) -> None:
    found = catalog.find(catalog.analyst, "customer", scope="listings")
    assert names(found)[:2] == ["retail.customer", "retail.inventory"]
    assert found.total == 2
    assert found.items[0].score > found.items[1].score > 0
    assert found.items[0].listing_id and found.items[0].asset_id is None
    # column names are searchable, and a prefix finds words starting with it
    assert names(catalog.find(catalog.analyst, "sale_amount", scope="listings")) == [
        "finance.ledger"
    ]
    prefixed = catalog.find(catalog.analyst, "inven*", scope="listings")
    assert names(prefixed) == ["retail.inventory"]
    phrase = catalog.find(catalog.analyst, '"per product"', scope="listings")
    assert names(phrase) == ["retail.inventory"]
    assert catalog.find(catalog.analyst, '"product per"', scope="listings").total == 0
    assert found.items[1].snippet and "[" in found.items[1].snippet


def test_facets_count_the_visible_matches_and_filters_narrow(catalog: Catalog) -> None:
    browse = catalog.find(catalog.analyst, scope="listings")
    assert browse.total == 4
    assert counts(browse, "project") == {"retail": 2, "finance": 1, "campaigns": 1}
    assert counts(browse, "domain_unit") == {"Retail": 2, "Finance": 1, "Retail/Marketing": 1}
    assert counts(browse, "tag") == {"pii": 2, "gold": 2}
    assert counts(browse, "asset_type") == {"lakehouse_table": 4}
    assert names(browse)[0] == "campaigns.leads"  # browsing lists the newest first

    pii = catalog.find(catalog.analyst, scope="listings", tag="pii")
    assert sorted(names(pii)) == ["finance.ledger", "retail.customer"]
    assert counts(pii, "project") == {"retail": 1, "finance": 1}
    both = catalog.find(catalog.analyst, scope="listings", tag=["pii", "gold"])
    assert names(both) == ["retail.customer"]
    retail = catalog.find(catalog.analyst, scope="listings", domain_unit="Retail")
    assert sorted(names(retail)) == ["campaigns.leads", "retail.customer", "retail.inventory"]
    marketing = catalog.find(catalog.analyst, scope="listings", domain_unit="Retail/Marketing")
    assert names(marketing) == ["campaigns.leads"]
    assert names(catalog.find(catalog.analyst, scope="listings", project="finance")) == [
        "finance.ledger"
    ]
    assert catalog.find(catalog.analyst, scope="listings", asset_type="view").total == 0
    empty = catalog.find(catalog.analyst, "nothing-like-this", scope="listings")
    assert empty.total == 0 and empty.items == [] and empty.facets["tag"] == []


def test_a_unit_filter_takes_its_name_literally(catalog: Catalog) -> None:
    """A unit filter finds the unit and the units below it; ``_`` and ``%`` in its name are
    characters, not patterns (the filter is a bound LIKE pattern)."""
    rt, admin = catalog.runtime, catalog.admin
    rt.organisation.create_unit(admin, "Retail", "Ops_1")
    rt.organisation.create_unit(admin, "Retail", "OpsX1")
    rt.organisation.create_unit(admin, "Retail", "Team", parent="Retail/OpsX1")
    rt.catalog.create_project(admin, "ops", "Retail", domain_unit="Retail/OpsX1/Team")
    _table(rt, admin, "ops", "stock", "inventory")
    assert catalog.find(admin, domain_unit="Retail/Ops_1").total == 0
    assert catalog.find(admin, domain_unit="Retail/Ops%").total == 0
    for unit in ("Retail/OpsX1", "Retail/OpsX1/Team", "/Retail/OpsX1/"):
        assert names(catalog.find(admin, domain_unit=unit)) == ["ops.stock"]


def test_past_the_window_totals_and_facets_are_lower_bounds_and_say_so(catalog: Catalog) -> None:
    """Past ``window`` matches, the total is the window's size and facets count the most
    recently indexed matches (lower bounds: ``total_exact`` and ``facets_exact`` False); the
    page is unchanged when browsing."""
    sampled = SearchService(catalog.runtime.store, window=2)
    exact = catalog.find(catalog.analyst, scope="listings")
    browse = sampled.search(catalog.analyst, scope="listings")
    assert exact.facets_exact and exact.total_exact and exact.total == 4
    assert not browse.facets_exact and not browse.total_exact and browse.total == 2
    assert names(browse) == names(exact)
    with catalog.runtime.store.session() as session:
        newest = session.scalars(
            select(SearchDocument.project)
            .where(SearchDocument.kind == "listing")
            .order_by(SearchDocument.id.desc())
            .limit(2)
        ).all()
    assert counts(browse, "project") == {p: newest.count(p) for p in newest}
    assert all(c.count <= counts(exact, "tag")[c.value] for c in browse.facets["tag"])
    few = sampled.search(catalog.analyst, "customer", scope="listings")
    assert few.facets_exact and few.total_exact and few.total == 2
    assert counts(few, "project") == {"retail": 2}


def test_text_pages_past_the_window_continue_newest_first(catalog: Catalog) -> None:
    """The window's matches are ranked best first; later pages walk the older matches newest
    first, every match once; a viewer's pages never hold another project's asset."""
    sampled = SearchService(catalog.runtime.store, window=2)
    everything = catalog.find(catalog.admin, "customer", limit=100)
    seen = []
    for offset in range(0, everything.total + 3, 3):
        page = sampled.search(catalog.admin, "customer", limit=3, offset=offset)
        assert all(hit.score is not None for hit in page.items)
        seen.extend((hit.kind, hit.qualified_name) for hit in page.items)
    assert sorted(seen) == sorted((hit.kind, hit.qualified_name) for hit in everything.items)
    for offset in range(0, 6):
        page = sampled.search(catalog.analyst, "customer", scope="inventory", offset=offset)
        assert all(hit.project == "analysts" for hit in page.items)


def test_a_viewer_windows_pages_facets_and_totals_hold_only_visible_assets(
    catalog: Catalog,
) -> None:
    """The analyst sees the listings and their own project's assets, not retail's inventory,
    whatever the window: totals, facets and every page are those of the visible matches."""
    rt, analyst = catalog.runtime, catalog.analyst
    for i, tags in enumerate((["pii"], ["gold"], ["pii", "gold"])):
        description = f"Customer segment {i} of the analysts"
        _table(
            rt, analyst, "analysts", f"segment_{i}", "customer", description=description, tags=tags
        )
    visible = {
        (hit.kind, hit.qualified_name)
        for hit in catalog.find(catalog.admin, "customer", limit=100).items
        if hit.kind == "listing" or hit.project == "analysts"
    }
    hidden = {("asset", "retail.customer"), ("asset", "retail.inventory")}
    assert {("asset", f"analysts.segment_{i}") for i in range(3)} < visible
    assert not hidden & visible
    assert hidden <= {
        (h.kind, h.qualified_name) for h in catalog.find(catalog.admin, "customer").items
    }
    for window in (2, 3, 100):
        windowed = SearchService(rt.store, window=window)
        first = windowed.search(analyst, "customer")
        assert first.total == min(window, len(visible))
        assert first.total_exact == (len(visible) <= window)
        assert sum(counts(first, "project").values()) == first.total
        assert set(counts(first, "project")) <= {"analysts", "retail", "campaigns"}
        seen = []
        for offset in range(0, len(visible) + 2, 2):
            page = windowed.search(analyst, "customer", limit=2, offset=offset)
            seen.extend((hit.kind, hit.qualified_name) for hit in page.items)
        assert sorted(seen) == sorted(visible)
        inventory = windowed.search(analyst, "customer", scope="inventory")
        assert counts(inventory, "project") == {"analysts": min(window, 3)}
        assert {hit.project for hit in inventory.items} == {"analysts"}
        # facet-only: the tag counts are the visible assets' tags, never retail's
        pii = windowed.search(analyst, scope="inventory", tag="pii")
        assert {hit.qualified_name for hit in pii.items} <= {
            "analysts.segment_0",
            "analysts.segment_2",
        }
        assert pii.total == min(window, 2) and counts(pii, "project") == {"analysts": pii.total}
        assert counts(pii, "tag")["pii"] == pii.total
        assert sum(c.count for c in pii.facets["tag"]) <= 2 * pii.total


def test_browsing_by_tags_windows_the_newest_visible_documents_carrying_every_tag(
    catalog: Catalog,
) -> None:
    """No text, tags given: the window is the newest visible documents carrying every tag (read
    from the facet index); totals, facets and pages are those of the visible matches."""
    rt, analyst = catalog.runtime, catalog.analyst
    for i, tags in enumerate((["gold"], ["gold", "pii"], ["pii"], ["pii", "gold"])):
        _table(rt, analyst, "analysts", f"segment_{i}", "customer", tags=tags)
    expected = {
        ("gold",): {
            "retail.customer",
            "retail.inventory",
            *(f"analysts.segment_{i}" for i in (0, 1, 3)),
        },
        ("gold", "pii"): {"retail.customer", "analysts.segment_1", "analysts.segment_3"},
        ("pii", "gold"): {"retail.customer", "analysts.segment_1", "analysts.segment_3"},
    }
    for tags, visible in expected.items():
        everything = catalog.find(analyst, tag=list(tags), limit=100)
        assert set(names(everything)) == visible and everything.total == len(visible)
        assert all(set(tags) <= set(hit.tags) for hit in everything.items)
        times = [hit.updated_at for hit in everything.items]
        assert times == sorted(times, reverse=True)  # browsing: newest first
        for window in (1, 2, 100):
            windowed = SearchService(rt.store, window=window)
            first = windowed.search(analyst, tag=list(tags))
            assert first.total == min(window, len(visible))
            assert first.total_exact == (len(visible) <= window)
            # the newest matches by id are the analysts' segments, indexed last
            newest = {"analysts": min(window, len([v for v in visible if "segment" in v]))}
            if window < 100:
                assert counts(first, "project") == newest
            assert all(counts(first, "tag")[tag] == first.total for tag in tags)
            pages = [
                windowed.search(analyst, tag=list(tags), limit=2, offset=offset)
                for offset in range(0, len(visible), 2)
            ]
            assert [n for page in pages for n in names(page)] == names(everything)
    hidden = catalog.find(catalog.outsider, tag=["gold", "pii"], scope="inventory")
    assert hidden.total == 0 and hidden.items == [] and hidden.facets["tag"] == []


def test_paging_walks_every_match_once(catalog: Catalog) -> None:
    seen = []
    for offset in range(0, 5, 2):
        page = catalog.find(catalog.admin, scope="listings", limit=2, offset=offset)
        assert page.total == 4 and page.limit == 2 and page.offset == offset
        seen.extend(names(page))
    assert sorted(seen) == [
        "campaigns.leads",
        "finance.ledger",
        "retail.customer",
        "retail.inventory",
    ]
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"scope": "everything"}):
        with pytest.raises(Invalid):
            catalog.find(catalog.admin, **bad)


def test_users_find_listings_and_only_their_own_inventory(catalog: Catalog) -> None:
    rt = catalog.runtime
    # store_sales is unpublished: only members of retail find it, and counts do not leak it
    hidden = catalog.find(catalog.outsider, "zeppelin")
    assert hidden.total == 0 and hidden.facets["project"] == []
    outsider = catalog.find(catalog.outsider)
    assert {hit.kind for hit in outsider.items} == {"listing"}
    assert counts(outsider, "project") == {"retail": 2, "finance": 1, "campaigns": 1}
    assert catalog.find(catalog.outsider, scope="inventory").total == 0

    mine = catalog.find(catalog.owner, scope="inventory")
    assert sorted(names(mine)) == [
        "finance.ledger",
        "retail.customer",
        "retail.inventory",
        "retail.store_sales",
    ]
    assert all(hit.asset_id and hit.listing_id is None for hit in mine.items)
    assert names(catalog.find(catalog.owner, "zeppelin")) == ["retail.store_sales"]
    add_member(rt, "retail", catalog.analyst, "viewer")  # any role sees the inventory
    assert names(catalog.find(catalog.analyst, "zeppelin")) == ["retail.store_sales"]
    assert catalog.find(catalog.admin, "zeppelin").total == 1

    # describing an asset reindexes its inventory entry at once; its listing keeps the snapshot
    rt.catalog.update_asset(catalog.owner, "retail", "customer", description="Loyal walrus")
    walrus = catalog.find(catalog.owner, "walrus")
    assert [(h.kind, h.qualified_name) for h in walrus.items] == [("asset", "retail.customer")]
    assert catalog.find(catalog.outsider, "walrus").total == 0
    # re-publishing replaces the listing; withdrawing removes it
    first = catalog.find(catalog.outsider, "customer", project="retail").items[0].listing_id
    again = rt.listings.publish(catalog.owner, "retail", "customer")
    walrus = catalog.find(catalog.outsider, "walrus")
    assert [h.listing_id for h in walrus.items] == [again.id] and again.id != first
    assert catalog.find(catalog.outsider, project="retail", scope="listings").total == 2
    rt.listings.unpublish(catalog.owner, "retail", "customer")
    assert catalog.find(catalog.outsider, "walrus").total == 0
    assert catalog.find(catalog.owner, "walrus").total == 1  # still in the inventory
    # writing new data reindexes the asset (new columns become searchable); dropping removes it
    rt.table_service.write(
        catalog.owner,
        "retail",
        "inventory",
        DataSource(SCENARIOS / "retail_store_sales.csv"),
        mode="overwrite",
    )
    assert "retail.inventory" in names(catalog.find(catalog.owner, "sale_amount"))
    rt.table_service.drop_table(catalog.owner, "retail", "inventory")
    assert catalog.find(catalog.outsider, "inventory").total == 0
    assert catalog.find(catalog.owner, "inventory").total == 0


def test_a_group_membership_opens_the_inventory(catalog: Catalog) -> None:
    org = catalog.runtime.organisation
    assert catalog.find(catalog.outsider, "zeppelin").total == 0
    org.create_group(catalog.admin, "sellers")
    org.add_group_member(catalog.admin, "sellers", "outsider")
    org.add_member(catalog.owner, "retail", "viewer", group="sellers")
    assert names(catalog.find(catalog.outsider, "zeppelin")) == ["retail.store_sales"]
    inventory = catalog.find(catalog.outsider, scope="inventory")
    assert counts(inventory, "project") == {"retail": 3}


def test_searchable_form_fields_and_glossary_terms_are_indexed(catalog: Catalog) -> None:
    rt = catalog.runtime
    with rt.store.session() as session:
        listing = session.scalars(
            select(Listing).where(Listing.status == "active", Listing.name == "ledger")
        ).one()
        snapshot = dict(listing.metadata_snapshot)
        snapshot["glossary_terms"] = ["Revenue"]
        snapshot["columns"] = [
            {**snapshot["columns"][0], "tags": ["key"], "glossary_terms": [{"name": "Sale"}]},
            *snapshot["columns"][1:],
        ]
        snapshot["forms"] = [
            {
                "name": "stewardship",
                "version": 1,
                "values": {"steward": "Quokka team", "internal": "platypus", "ids": [7, 8]},
                "searchable": ["steward", "ids", "missing"],
            },
            {"name": "broken", "values": None},
            "not a form",
        ]
        listing.metadata_snapshot = snapshot
        session.flush()
        index_listing(session, listing)
    assert names(catalog.find(catalog.outsider, "quokka")) == ["finance.ledger"]
    assert catalog.find(catalog.outsider, "platypus").total == 0  # not a searchable field
    revenue = catalog.find(catalog.outsider, "revenue")
    assert names(revenue) == ["finance.ledger"]
    assert revenue.items[0].glossary_terms == ["Revenue", "Sale"]
    assert counts(revenue, "glossary_term") == {"Revenue": 1, "Sale": 1}
    assert counts(revenue, "tag") == {"key": 1, "pii": 1}
    by_term = catalog.find(catalog.outsider, glossary_term="Sale")
    assert names(by_term) == ["finance.ledger"]


def _describe(catalog: Catalog, table: str, description: str) -> None:
    catalog.runtime.catalog.update_asset(catalog.owner, "retail", table, description=description)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # a prefix is what was typed, not a stem: porter makes "pay" "pai" (issue 12)
        ("pay*", ["retail.customer", "retail.inventory", "retail.store_sales"]),
        ("payr*", ["retail.customer"]),
        ("paym*", ["retail.inventory", "retail.store_sales"]),
        ("pai*", ["retail.store_sales"]),  # paid
        ("compan*", ["retail.inventory", "retail.store_sales"]),
        ("companies*", ["retail.store_sales"]),
        ("monthly pay*", ["retail.customer", "retail.store_sales"]),
        # words are stemmed alike on both databases
        ("payments", ["retail.inventory", "retail.store_sales"]),
        ("payment", ["retail.inventory", "retail.store_sales"]),
        ("companies", ["retail.inventory", "retail.store_sales"]),
        ("shipping", ["retail.inventory"]),
        ("payroll pay*", ["retail.customer"]),
    ],
)
def test_prefixes_and_stems_find_the_same_assets_on_both_databases(
    catalog: Catalog, q: str, expected: list[str]
) -> None:
    _describe(catalog, "customer", "Monthly payroll of the loyal customers")
    _describe(catalog, "inventory", "Payments per company, shipped and shipping")
    _describe(catalog, "store_sales", "Monthly payment of companies, paid")
    found = catalog.find(catalog.owner, q, scope="inventory")
    assert sorted(names(found)) == expected
    assert found.total == len(expected)
    assert sum(c.count for c in found.facets["project"]) == len(expected)
    assert all(hit.snippet for hit in found.items)


def test_prefix_search_over_many_assets_finds_them_all(catalog: Catalog) -> None:
    """The issue's case at a small scale: every asset whose words start with the prefix."""
    for i in range(30):
        catalog.runtime.table_service.create_table(
            catalog.owner,
            "finance",
            f"payout_{i}",
            DataSource(SCENARIOS / "retail_customer.csv"),
            description="Payroll run" if i % 2 else "Paying agent",
        )
    found = catalog.find(catalog.owner, "pay*", project="finance", limit=100)
    assert found.total == 30 and len(found.items) == 30
    assert counts(found, "project") == {"finance": 30}
    paged = [
        catalog.find(catalog.owner, "pay*", project="finance", limit=7, offset=o)
        for o in range(0, 30, 7)
    ]
    assert sorted(n for page in paged for n in names(page)) == sorted(names(found))


@pytest.mark.parametrize(
    "q", ['"unbalanced', "*", "cust**", "a*b", "!!! ???", "x" * 501, " ".join(["w"] * 33)]
)
def test_malformed_query_text_is_invalid_naming_q(catalog: Catalog, q: str) -> None:
    with pytest.raises(Invalid) as caught:
        catalog.find(catalog.analyst, q)
    assert caught.value.details["field"] == "q"


def test_query_operators_are_plain_words(catalog: Catalog) -> None:
    for q in ("customer AND OR NOT", "NEAR(customer", "customer: ^col -x (", "'; drop table"):
        catalog.find(catalog.analyst, q)  # no error: punctuation and operators are words
    assert names(catalog.find(catalog.analyst, "CUSTOMER!", scope="listings"))[0] == (
        "retail.customer"
    )


def test_reindex_rebuilds_the_index(catalog: Catalog) -> None:
    rt = catalog.runtime
    before = catalog.find(catalog.admin)
    with rt.store.session() as session:
        session.execute(SearchDocument.__table__.delete())
    assert catalog.find(catalog.admin).total == 0
    with pytest.raises(Exception, match="administrators"):
        catalog.search.reindex(catalog.owner)
    assert catalog.search.reindex(catalog.admin) == before.total
    after = catalog.find(catalog.admin)
    assert sorted(names(after)) == sorted(names(before))
    assert names(catalog.find(catalog.admin, "zeppelin")) == ["retail.store_sales"]
    with rt.store.session() as session:
        assert reindex_all(session) == before.total
        assert session.scalar(select(func.count()).select_from(SearchFacet)) > 0


def test_http_search(catalog: Catalog) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(catalog.runtime)) as http:
        http.headers["Authorization"] = f"Bearer {catalog.analyst_token}"
        response = http.get(
            "/api/v1/catalog/search", params={"q": "customer", "scope": "listings", "limit": 1}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 2 and len(body["items"]) == 1
        assert body["items"][0]["qualified_name"] == "retail.customer"
        assert body["items"][0]["kind"] == "listing"
        assert {f: len(v) > 0 for f, v in body["facets"].items()} == {
            "domain_unit": True,
            "project": True,
            "asset_type": True,
            "tag": True,
            "glossary_term": False,
        }
        filtered = http.get(
            "/api/v1/catalog/search", params=[("tag", "pii"), ("tag", "gold")]
        ).json()
        assert [i["qualified_name"] for i in filtered["items"]] == ["retail.customer"]
        bad = http.get("/api/v1/catalog/search", params={"q": '"oops'})
        assert bad.status_code == 400 and bad.json()["field"] == "q"
        assert http.get("/api/v1/catalog/search", params={"scope": "x"}).status_code == 400
        assert http.get("/api/v1/catalog/search", params={"limit": 0}).status_code == 400
        assert http.post("/api/v1/catalog/search/reindex").status_code == 403
        assert "/api/v1/catalog/search" in http.get("/openapi.json").json()["paths"]
        http.headers.pop("Authorization")
        assert http.get("/api/v1/catalog/search").status_code == 401


def test_cli_search(tmp_path, database_url) -> None:
    from lakehold.cli.main import app as main

    cli = typer.Typer()
    cli.command()(search_command)
    cli.callback()(lambda: None)  # a group, as in the lead's app: ``search`` is a sub-command
    runner = CliRunner()
    env = {
        "LAKEHOLD_HOME": str(tmp_path / "home"),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_TOKEN": "",
    }

    def run(app, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    run(main, "domain", "create", "Retail")
    run(main, "project", "create", "retail", "--domain", "Retail")
    csv = str(SCENARIOS / "retail_customer.csv")
    run(main, "table", "create", "retail.customer", csv)
    run(main, "publish", "retail.customer")
    out = run(cli, "search", "customer", "--project", "retail")
    assert "2 found" in out and "project: retail (2)" in out
    out = run(cli, "search", "customer", "--scope", "listings", "--json")
    assert '"total": 1' in out and '"qualified_name": "retail.customer"' in out
    assert "invalid" not in run(cli, "search", "--reindex")
    err = run(cli, "search", '"oops', code=2)
    assert "quote" in err
    assert "Example:" in run(cli, "search", "--help")


def test_the_migration_downgrades_and_upgrades(runtime: Runtime) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = runtime.store.engine
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")  # below the merge of the 0003 branches
    tables = set(inspect(engine).get_table_names())
    assert "search_documents" not in tables and "search_facets" not in tables
    assert not any(t.startswith("search_documents_fts") for t in tables)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert {"search_documents", "search_facets"} <= set(inspect(engine).get_table_names())


def _visible_to_analyst(catalog: Catalog, q: str, **filters) -> list[tuple[str, str]]:
    """What the analyst may find, from the administrator's results: listings and the
    analysts project's assets."""
    everything = catalog.find(catalog.admin, q, limit=100, **filters).items
    return sorted(
        (hit.kind, hit.qualified_name)
        for hit in everything
        if hit.kind == "listing" or hit.project == "analysts"
    )


@pytest.mark.parametrize(
    "q, filters",
    [
        ("customer", {}),
        ("cust*", {}),
        ("customer", {"scope": "inventory"}),
        ("cust*", {"scope": "listings"}),
        ("", {"domain_unit": "Retail"}),
        ("", {"tag": "gold"}),
        ("customer", {"asset_type": "lakehouse_table"}),
    ],
)
def test_every_query_shape_of_a_viewer_holds_only_visible_documents(
    catalog: Catalog, q: str, filters: dict
) -> None:
    """Text, prefix, facet-only and paged searches of a viewer: items, totals and facet counts
    are those of the visible matches (on PostgreSQL a text window is read per visible part when
    the planner reads backwards)."""
    rt, analyst = catalog.runtime, catalog.analyst
    for i in range(4):
        _table(
            rt,
            analyst,
            "analysts",
            f"segment_{i}",
            "customer",
            description="Customer segment",
            tags=["gold"] if i % 2 else [],
        )
    visible = _visible_to_analyst(catalog, q, **filters)
    assert visible and any(kind == "asset" for kind, _ in visible) == (
        filters.get("scope") != "listings"
    )
    for window in (3, 100):
        windowed = SearchService(rt.store, window=window)
        first = windowed.search(analyst, q, **filters)
        assert first.total == min(window, len(visible))
        assert first.total_exact == (len(visible) <= window)
        assert sum(counts(first, "project").values()) == first.total
        assert sum(counts(first, "asset_type").values()) == first.total
        pages = [
            windowed.search(analyst, q, limit=2, offset=offset, **filters)
            for offset in range(0, len(visible) + 2, 2)
        ]
        seen = sorted((hit.kind, hit.qualified_name) for page in pages for hit in page.items)
        assert seen == visible


def test_facet_counts_of_the_window_equal_the_facet_table(catalog: Catalog) -> None:
    """Tags and glossary terms are counted from the documents' own lists: the same counts as
    the facet table holds for the same documents."""
    found = catalog.find(catalog.admin, limit=100)
    with catalog.runtime.store.session() as session:
        rows = session.execute(
            select(SearchFacet.facet, SearchFacet.value, func.count()).group_by(
                SearchFacet.facet, SearchFacet.value
            )
        ).all()
    assert found.total_exact
    for facet in ("tag", "glossary_term"):
        assert counts(found, facet) == {value: n for f, value, n in rows if f == facet}


def test_a_window_read_per_visible_part_equals_one_read(catalog: Catalog) -> None:
    """PostgreSQL: the newest matches read per visible part (listings, each project's
    inventory) are the same rows, scores and order as one read of the visible matches, with
    text or browsing; the plan decides which is read for text."""
    from lakehold.catalog.search import matching, query
    from lakehold.catalog.search.service import SCOPES
    from lakehold.catalog.search.visibility import condition, parts, reads_backwards, visibility

    rt = catalog.runtime
    if rt.store.engine.dialect.name != "postgresql":
        pytest.skip("parts are read on PostgreSQL only")
    for i in range(6):
        _table(rt, catalog.analyst, "analysts", f"part_{i}", "customer", description="Pay slip")
    with rt.store.session() as session:
        seen = visibility(session, catalog.analyst)
        assert seen.projects is not None and len(seen.projects) == 1
        found = 0
        for q in ("customer", "pay*", 'pay* "customer"', ""):
            text = matching.text_params("postgresql", query.parse(q))
            shape = matching.text_shape(text)
            for kinds in SCOPES.values():
                scoped = SearchDocument.kind.in_(kinds)
                part_shape = seen.part_shape(kinds)
                assert part_shape and sum(part_shape) == len(kinds)  # the listings, one project
                one = matching.window("postgresql", shape, [scoped, condition(seen.reach)])
                parted = matching.window("postgresql", shape, [scoped], parts=parts(part_shape))
                for limit, offset in ((3, 0), (2, 2), (100, 0)):
                    params = text | seen.params() | matching.window_params(limit, offset)
                    expected = sorted(session.connection().execute(one, params).all())
                    assert sorted(session.connection().execute(parted, params).all()) == expected
                    found += len(expected)
        assert found > 0
        text = matching.text_params("postgresql", query.parse("customer"))
        plain = matching.window("postgresql", matching.text_shape(text), [condition(seen.reach)])
        params = text | seen.params() | matching.window_params(10)
        session.execute(text_clause("SET LOCAL enable_seqscan = off"))
        session.execute(text_clause("SET LOCAL enable_indexscan = off"))
        assert not reads_backwards(session, plain, params)  # a bitmap of the GIN index
        session.execute(text_clause("SET LOCAL enable_indexscan = on"))
        session.execute(text_clause("SET LOCAL enable_bitmapscan = off"))
        assert reads_backwards(session, plain, params)
