"""TPC-H (SF 0.01, ``lineitem`` in four data files) on a real Ray cluster for a subscriber
under a filtered grant (``lineitem``: rows shipped from 1993 on, every column but
``l_comment``), against the single-process engine; the LIMIT barrier; cancel and timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pyarrow.parquet as pq
import pytest

from benchmarks.governed_query import qualified, share
from benchmarks.tpch import generate, load, queries
from lakehold.catalog.tables import DataSource
from lakehold.cluster import ray_client
from lakehold.cluster.statements import run_on_cluster
from lakehold.config import Settings
from lakehold.errors import Cancelled, Timeout
from lakehold.query import CancelHandle, run
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.cluster.comparing import assert_same, both
from tests.store_templates import sqlite_url

ROW_FILTER = "l_shipdate >= DATE '1993-01-01'"
LINEITEM_FILES = 4
# A predicate that fails on exactly the rows the grant hides.
PROBE = (
    "select count(*) as n from tpch.lineitem where case when l_shipdate < DATE '1993-01-01' "
    "then error('a hidden row reached the query') else true end"
)
# Seconds of work per task (a list of up to a million numbers per row).
SLOW = "select count(*) from tpch.lineitem where list_sum(range(l_orderkey % 1000 * 1000)) > 0"


@dataclass
class Tpch:
    runtime: Runtime
    admin: Principal
    analyst: Principal
    files: list[str]

    def plan(self, who: Principal, sql: str, project: str):
        planned = self.runtime.statements._plan(who, qualified(sql), project, "duckdb")
        return planned.prepared, planned.resolved


@pytest.fixture(scope="module")
def tpch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tpch]:
    folder = tmp_path_factory.mktemp("tpch")
    parquet = generate(0.01, folder / "data")
    lineitem = pq.read_table(parquet["lineitem"])
    size = -(-lineitem.num_rows // LINEITEM_FILES)
    parts = []
    for i in range(LINEITEM_FILES):
        parts.append(folder / "data" / f"lineitem-{i}.parquet")
        pq.write_table(lineitem.slice(i * size, size), parts[-1])
    runtime = Runtime(
        Settings(home=folder / "home", database_url=sqlite_url(folder), max_rows=1_000_000)
    )
    admin = load(runtime, {**parquet, "lineitem": parts[0]})
    for part in parts[1:]:
        runtime.table_service.write(admin, "tpch", "lineitem", DataSource(part), mode="append")
    analyst = share(runtime, admin, ROW_FILTER)
    yield Tpch(runtime, admin.in_project("tpch"), analyst, [str(p) for p in parts])
    runtime.close()


@pytest.mark.parametrize("number", [1, 3, 6])
def test_tpch_under_a_filtered_grant(tpch: Tpch, lakehold_free_cluster: str, number: int) -> None:
    sql = dict(queries())[number]
    prepared, resolved = tpch.plan(tpch.analyst, sql, "analysts")
    lineitem = next(r for r in resolved if r.table == "lineitem")
    assert len(resolved[lineitem].files) == LINEITEM_FILES
    assert resolved[lineitem].row_filter and "l_comment" not in resolved[lineitem].columns
    cluster, local = both(prepared, resolved, lakehold_free_cluster)
    assert cluster.table.num_rows > 0
    assert_same(cluster, local, ordered=True)


def test_the_barrier_keeps_hidden_rows_from_the_query(
    tpch: Tpch, lakehold_free_cluster: str
) -> None:
    # Without the grant's views the probe fails: it does reach hidden rows.
    raw = PROBE.replace("tpch.lineitem", f"read_parquet({tpch.files!r})")
    with pytest.raises(duckdb.Error, match="a hidden row reached the query"):
        duckdb.connect().execute(raw).fetchall()
    prepared, resolved = tpch.plan(tpch.analyst, PROBE, "analysts")
    cluster, local = both(prepared, resolved, lakehold_free_cluster)
    assert_same(cluster, local, ordered=True)
    visible = f"select count(*) as n from tpch.lineitem where {ROW_FILTER}"
    owner = run(*tpch.plan(tpch.admin, visible, "tpch"), max_rows=1)
    assert cluster.table.to_pylist() == owner.table.to_pylist() != [{"n": 0}]


def test_cancel_stops_the_tasks(tpch: Tpch, lakehold_free_cluster: str) -> None:
    prepared, resolved = tpch.plan(tpch.admin, SLOW, "tpch")
    handle = CancelHandle()
    raised: list[BaseException] = []

    def statement() -> None:
        try:
            run_on_cluster(
                prepared,
                resolved,
                address=lakehold_free_cluster,
                max_rows=10,
                timeout_s=None,
                memory_limit="500MB",
                cancel=handle,
            )
        except BaseException as e:
            raised.append(e)

    thread = threading.Thread(target=statement)
    thread.start()
    ray = ray_client.connect(lakehold_free_cluster)
    _until(lambda: ray.available_resources().get("CPU", 0) == 0, "the tasks to start")
    handle.cancel()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [type(e) for e in raised] == [Cancelled]
    assert raised[0].message == "the statement was cancelled"
    _until(lambda: ray.available_resources().get("CPU", 0) == 2, "the tasks to stop")


def test_timeout_stops_the_tasks(tpch: Tpch, lakehold_free_cluster: str) -> None:
    prepared, resolved = tpch.plan(tpch.admin, SLOW, "tpch")
    started = time.monotonic()
    with pytest.raises(Timeout) as timed_out:
        run_on_cluster(
            prepared,
            resolved,
            address=lakehold_free_cluster,
            max_rows=10,
            timeout_s=2,
            memory_limit="500MB",
            cancel=None,
        )
    assert time.monotonic() - started < 10
    with pytest.raises(Timeout) as local:
        run(prepared, resolved, max_rows=10, timeout_s=2)
    assert timed_out.value.to_dict() == local.value.to_dict()
    ray = ray_client.connect(lakehold_free_cluster)
    _until(lambda: ray.available_resources().get("CPU", 0) == 2, "the tasks to stop")


def _until(condition, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout_s} s for {what}"
        time.sleep(0.1)
