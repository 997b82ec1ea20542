"""``engine: ray`` statements on a real Ray cluster, planned exactly as the service plans
them, against the single-process engine: scenario 3 (retail shared under a row filter and a
column filter), the owner's aggregates, errors, row limits and the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
import pytest

from lakehold.cluster import ray_client
from lakehold.cluster.slices import groups, partitioned, slices
from lakehold.cluster.statements import Unsplittable, check_splits, run_on_cluster
from lakehold.config import Settings
from lakehold.connectors.attach import ConnectionSpec
from lakehold.errors import Invalid
from lakehold.query import prepare, run
from lakehold.query.model import BoundTable, RemoteTable, TableRef
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.cluster import probes
from tests.cluster.comparing import assert_same, both
from tests.cluster.conftest import POISON
from tests.cluster.retail import SALES_FILES, share_retail
from tests.store_templates import sqlite_url

SCENARIO = (
    "select * from retail.store_sales sales left join retail.customer customer "
    "on sales.cust_id = customer.cust_id inner join retail.inventory inventory "
    "on sales.prod_id = inventory.prod_id where inventory.active = 'Y'"
)


@dataclass
class Retail:
    runtime: Runtime
    owner: Principal
    analyst: Principal

    def plan(self, who: Principal, sql: str, project: str):
        planned = self.runtime.statements._plan(who, sql, project, "duckdb")
        return planned.prepared, planned.resolved


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Retail]:
    """Scenario 3's retail tables (``store_sales`` in three data files) shared with project
    ``analysts`` under its filters (:func:`tests.cluster.retail.share_retail`)."""
    folder = tmp_path_factory.mktemp("retail")
    runtime = Runtime(Settings(home=folder / "home", database_url=sqlite_url(folder)))
    owner_token, analyst_token = share_retail(runtime)
    yield Retail(
        runtime,
        runtime.security.authenticate(owner_token),
        runtime.security.authenticate(analyst_token),
    )
    runtime.close()


def test_scenario_3_join_under_row_and_column_filters(
    retail: Retail, lakehold_free_cluster: str
) -> None:
    prepared, resolved = retail.plan(retail.analyst, SCENARIO, "analysts")
    ref = partitioned(resolved)
    assert ref.table == "store_sales" and len(resolved[ref].files) == SALES_FILES
    cluster, local = both(prepared, resolved, lakehold_free_cluster)
    assert_same(cluster, local, ordered=False)
    rows = cluster.table.to_pylist()
    assert len(rows) == 7
    assert sum(r["sale_amount"] for r in rows) == Decimal("1500.00")
    assert "cust_email" not in cluster.table.column_names
    assert not any("@" in str(v) for r in rows for v in r.values())


def test_ungranted_column_is_absent(retail: Retail, lakehold_free_cluster: str) -> None:
    prepared, resolved = retail.plan(retail.analyst, "select * from retail.customer", "analysts")
    cluster, local = both(prepared, resolved, lakehold_free_cluster)
    assert_same(cluster, local, ordered=False)
    assert cluster.table.column_names == ["cust_id", "cust_name", "cust_country"]
    assert cluster.table.num_rows == 6
    hidden = "select count(cust_email) from retail.customer"
    prepared, resolved = retail.plan(retail.analyst, hidden, "analysts")
    with pytest.raises(Invalid) as local_error:
        run(prepared, resolved, max_rows=10)
    with pytest.raises(Invalid) as cluster_error:
        _on_cluster(prepared, resolved, lakehold_free_cluster)
    assert cluster_error.value.to_dict() == local_error.value.to_dict()
    assert "cust_email" in cluster_error.value.message


@pytest.mark.parametrize(
    "sql",
    [
        # unaliased aggregates keep DuckDB's own column names (sum(sale_amount), count_star())
        "select prod_id, count(*), sum(sale_amount), avg(sale_amount), min(sale_date), "
        "max(sale_amount) from retail.store_sales group by prod_id order by prod_id",
        "select count(*) as n, sum(sale_amount) as total, avg(prod_id) as mean "
        "from retail.store_sales where sale_amount < 0",
        "select month(sale_date) as m, count(*) filter (where s.prod_id = 1) as widgets, "
        "round(sum(sale_amount) / count(*), 2) as mean from retail.store_sales s "
        "join retail.inventory i on s.prod_id = i.prod_id group by m having count(*) > 1 "
        "order by widgets desc, m limit 3",
        "select c.cust_country, sum(s.sale_amount) as total from retail.store_sales s "
        "left join retail.customer c on s.cust_id = c.cust_id group by all order by 1",
    ],
)
def test_owner_aggregates(retail: Retail, lakehold_free_cluster: str, sql: str) -> None:
    prepared, resolved = retail.plan(retail.owner, sql, "retail")
    cluster, local = both(prepared, resolved, lakehold_free_cluster)
    assert_same(cluster, local, ordered=True)


def test_empty_aggregate_counts_zero(retail: Retail, lakehold_free_cluster: str) -> None:
    sql = "select count(*) as n, sum(sale_amount) as total from retail.store_sales"
    prepared, resolved = retail.plan(retail.analyst, sql + " where prod_id = 2", "analysts")
    cluster, _ = both(prepared, resolved, lakehold_free_cluster)
    assert cluster.table.to_pylist() == [{"n": 0, "total": None}]  # hidden by the row filter


def test_max_rows(retail: Retail, lakehold_free_cluster: str) -> None:
    prepared, resolved = retail.plan(retail.owner, "select * from retail.store_sales", "retail")
    cluster, local = both(prepared, resolved, lakehold_free_cluster, max_rows=4)
    assert (cluster.table.num_rows, cluster.truncated) == (4, True)
    assert cluster.table.schema == local.table.schema
    sql = "select prod_id, count(*) as n from retail.store_sales group by prod_id order by n"
    prepared, resolved = retail.plan(retail.owner, sql, "retail")
    cluster, local = both(prepared, resolved, lakehold_free_cluster, max_rows=2)
    assert_same(cluster, local, ordered=True)
    assert cluster.truncated


def test_task_errors_read_as_the_local_engine_s(retail: Retail, lakehold_free_cluster: str) -> None:
    sql = (
        "select sum(cast(cust_name as integer)) from retail.store_sales s "
        "join retail.customer c on s.cust_id = c.cust_id"
    )
    prepared, resolved = retail.plan(retail.owner, sql, "retail")
    with pytest.raises(Invalid) as local:
        run(prepared, resolved, max_rows=10)
    with pytest.raises(Invalid) as cluster:
        _on_cluster(prepared, resolved, lakehold_free_cluster)
    assert cluster.value.to_dict() == local.value.to_dict()
    assert "/" not in cluster.value.message and "_lh_" not in cluster.value.message


def _on_cluster(prepared, resolved, address: str):
    return run_on_cluster(
        prepared,
        resolved,
        address=address,
        max_rows=10,
        timeout_s=60,
        memory_limit=None,
        cancel=None,
    )


def test_unsplittable_statements_name_the_reason(retail: Retail) -> None:
    sql = (
        "select count(*) from retail.store_sales a join retail.store_sales b "
        "on a.prod_id = b.prod_id"
    )
    prepared, resolved = retail.plan(retail.owner, sql, "retail")
    with pytest.raises(Unsplittable) as refused:
        check_splits(prepared, resolved)
    assert refused.value.to_dict() == {
        "error": "invalid",
        "field": "engine",
        "message": "the statement cannot run on the Ray engine: the partitioned table is "
        "read 2 times (self-join or subquery)",
    }
    window = "select sale_id, sum(sale_amount) over () from retail.store_sales"
    with pytest.raises(Unsplittable, match="window function"):
        check_splits(*retail.plan(retail.owner, window, "retail"))
    with pytest.raises(Unsplittable, match="reads no table"):
        check_splits(prepare("select 1"), {})


def test_federated_tables_stay_in_process() -> None:
    prepared = prepare("select count(*) from p.t")
    [ref] = prepared.table_refs
    spec = ConnectionSpec(name="crm", kind="postgresql", params={"host": "db.invalid"})
    remote = RemoteTable(spec, schema="public", table="t")
    resolved = {ref: BoundTable(files=[], schema=pa.schema([("id", pa.int64())]), remote=remote)}
    with pytest.raises(Unsplittable, match="federated tables run on the single-process engine"):
        check_splits(prepared, resolved)


def test_tasks_never_import_lakehold(retail: Retail, lakehold_free_cluster: str) -> None:
    """The workers cannot import Lakehold (the poisoned cluster proves it), yet statements
    run; and a worker that ran them has no Lakehold module loaded."""
    prepared, resolved = retail.plan(
        retail.owner, "select count(*) from retail.store_sales", "retail"
    )
    both(prepared, resolved, lakehold_free_cluster)
    ray = ray_client.connect(lakehold_free_cluster)
    loaded = ray.get([ray_client.remote(probes.loaded).remote() for _ in range(4)])
    assert all(modules == [] for modules in loaded), loaded
    by_reference = ray.remote(max_retries=0)(TableRef.__str__)
    with pytest.raises(ray.exceptions.RayTaskError, match=POISON):
        ray.get(by_reference.remote(TableRef("p", "t")))


def test_each_task_is_locked_to_its_slice_and_the_broadcast_files(retail: Retail) -> None:
    prepared, resolved = retail.plan(retail.analyst, SCENARIO, "analysts")
    ref = partitioned(resolved)
    others = {f for r, table in resolved.items() if r != ref for f in table.files}
    work = slices(prepared, resolved, ref, prepared.duckdb_sql, memory_limit="1GB")
    assert [set(w.files) - others for w in work] == [{f} for f in resolved[ref].files]
    for task in work:
        assert others <= set(task.files)
        assert task.setup.splitlines()[-3:] == [
            f"SET allowed_paths=[{', '.join(repr(f) for f in task.files)}];",
            "SET enable_external_access=false;",
            "SET lock_configuration=true",
        ]
        assert "LIMIT 9223372036854775807" in task.statement  # the row filter's barrier
    assert groups([f"f{i}" for i in range(10)], 4) == [
        ["f0", "f1", "f2"],
        ["f3", "f4", "f5"],
        ["f6", "f7"],
        ["f8", "f9"],
    ]
    assert groups([], 4) == [[]]
