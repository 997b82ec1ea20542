"""Attacks on ``engine: ray``, by class, on a real Ray cluster: a statement either gives exactly
the single-process engine's answer (values, names, types; the same error) or is refused with a
400 naming ``engine`` -- never another answer, a 500 or a hidden value. Workers stay locked to
their files; resources are bounded; table jobs equal the in-process ones or run there; routing
never changes an answer."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import ray
from fastapi.testclient import TestClient

from lakehold.catalog.tables import DataSource
from lakehold.cluster import merge, ray_client
from lakehold.cluster.compact_job import RayCompactor
from lakehold.cluster.merge_job import RayMerge
from lakehold.cluster.routing import ClusterOptions
from lakehold.cluster.slices import partitioned, slices
from lakehold.cluster.statements import Unsplittable, check_splits, run_on_cluster
from lakehold.cluster.task import partial
from lakehold.config import Settings
from lakehold.errors import Cancelled, Invalid, LakeholdError, Timeout
from lakehold.lakehouse import DeltaTables
from lakehold.query import run
from lakehold.query.cancel import CancelHandle
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.cluster.comparing import assert_same, both
from tests.cluster.retail import share_retail
from tests.scenarios.helpers import ok
from tests.sharing import client_for
from tests.store_templates import sqlite_url

REFUSED = "the statement cannot run on the Ray engine: "
NUMBER_FILES, NUMBER_ROWS = 3, 3000


@dataclass
class Served:
    """Scenario 3 (tests/cluster/retail.py) and ``retail.numbers`` on a server that knows the
    cluster; ``plan`` plans a statement exactly as the service does."""

    runtime: Runtime
    owner: Principal
    analyst: Principal
    owner_token: str
    analyst_token: str
    address: str

    def plan(self, who: str, sql: str):
        principal, project = (
            (self.owner, "retail") if who == "owner" else (self.analyst, "analysts")
        )
        planned = self.runtime.statements._plan(principal, sql, project, "duckdb")
        return planned.prepared, planned.resolved

    def http(self, who: str) -> TestClient:
        token = self.owner_token if who == "owner" else self.analyst_token
        return client_for(self.runtime, token)  # type: ignore[return-value]


def _serve(folder: Path, address: str, **settings: object) -> Served:
    runtime = Runtime(
        Settings(
            home=folder / "home",
            database_url=sqlite_url(folder),
            ray_address=address,
            **settings,  # type: ignore[arg-type]
        )
    )
    owner_token, analyst_token = share_retail(runtime)
    owner = runtime.security.authenticate(owner_token)
    _numbers(runtime, owner)
    return Served(
        runtime,
        owner,
        runtime.security.authenticate(analyst_token),
        owner_token,
        analyst_token,
        address,
    )


def _numbers(runtime: Runtime, owner: Principal) -> None:
    """``retail.numbers``: random decimals and integers in ``NUMBER_FILES`` files."""
    draw = random.Random(40)
    for index in range(NUMBER_FILES):
        count = NUMBER_ROWS // NUMBER_FILES
        batch = pa.table(
            {
                "g": pa.array([draw.randrange(5) for _ in range(count)], pa.int32()),
                "d2": pa.array(
                    [Decimal(draw.randrange(-(10**8), 10**8)).scaleb(-2) for _ in range(count)],
                    pa.decimal128(18, 2),
                ),
                "d3": pa.array(
                    [Decimal(draw.randrange(-(10**6), 10**6)).scaleb(-3) for _ in range(count)],
                    pa.decimal128(9, 3),
                ),
                "d10": pa.array(
                    [Decimal(draw.randrange(-(10**20), 10**20)).scaleb(-10) for _ in range(count)],
                    pa.decimal128(38, 10),
                ),
                "i": pa.array([draw.randrange(-(10**9), 10**9) for _ in range(count)], pa.int32()),
                "b": pa.array(
                    [draw.randrange(-(10**12), 10**12) for _ in range(count)], pa.int64()
                ),
            }
        )
        if index == 0:
            runtime.table_service.create_table(owner, "retail", "numbers", DataSource(batch))
        else:
            runtime.table_service.write(
                owner, "retail", "numbers", DataSource(batch), mode="append"
            )


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, lakehold_free_cluster: str
) -> Iterator[Served]:
    served = _serve(tmp_path_factory.mktemp("attacks"), lakehold_free_cluster)
    yield served
    served.runtime.close()


def _agree(served: Served, who: str, sql: str, *, max_rows: int = 1000) -> str:
    """``refused`` (Unsplittable, field engine) or ``same`` (the local engine's answer or
    error, exactly as :func:`assert_same` compares them)."""
    prepared, resolved = served.plan(who, sql)
    try:
        check_splits(prepared, resolved)
    except Unsplittable as refused:
        assert refused.to_dict()["field"] == "engine"
        assert refused.message.startswith(REFUSED)
        return "refused"
    try:
        local = run(prepared, resolved, max_rows=max_rows, timeout_s=120)
    except LakeholdError as error:
        with pytest.raises(LakeholdError) as cluster_error:
            _on_cluster(served, prepared, resolved, max_rows=max_rows)
        assert cluster_error.value.to_dict() == error.to_dict()
        return "same"
    cluster = _on_cluster(served, prepared, resolved, max_rows=max_rows)
    assert_same(cluster, local, ordered=" order by " in sql.lower())
    return "same"


def _on_cluster(served: Served, prepared, resolved, *, max_rows: int = 1000, **options):
    return run_on_cluster(
        prepared,
        resolved,
        address=served.address,
        max_rows=max_rows,
        timeout_s=options.pop("timeout_s", 120),
        memory_limit="256MB",
        cancel=options.pop("cancel", None),
        **options,
    )


# -- data exposure through the split -------------------------------------------------------------

SALES = "retail.store_sales"
SHAPES = [
    # names of the generated partial columns and of the merged relation
    (
        "owner",
        f"select prod_id, count(*) as _lh_g0 from {SALES} group by prod_id having _lh_g0 > 5",
        "refused",
    ),
    (
        "owner",
        f"select prod_id, count(*) as _lh_g0 from {SALES} group by prod_id order by _lh_g0 + 0",
        "refused",
    ),
    ("owner", f"select prod_id as _lh_p0, count(*) from {SALES} group by prod_id", "refused"),
    ("owner", f'select sum(sale_amount) as "_LH_P0" from {SALES}', "refused"),
    (
        "owner",
        f"select prod_id, max(partials._lh_p0) from {SALES} partials group by prod_id",
        "refused",
    ),
    (
        "owner",
        f"select prod_id, sum(sale_amount) as partials from {SALES} partials group by prod_id "
        "order by 1",
        "same",
    ),
    (
        "owner",
        f"select partials.prod_id, count(*) from {SALES} partials group by partials.prod_id",
        "same",
    ),
    # a name in HAVING / inside ORDER BY that is both a select alias and a column
    (
        "owner",
        f"select prod_id + 1 as prod_id, count(*) from {SALES} group by prod_id having prod_id > 1",
        "refused",
    ),
    (
        "owner",
        f"select prod_id as x, sum(sale_amount) as sale_amount from {SALES} group by prod_id "
        "having sale_amount > 500",
        "refused",
    ),
    (
        "owner",
        f"select -prod_id as prod_id, count(*) as n from {SALES} group by prod_id order by "
        "prod_id + 0",
        "refused",
    ),
    (
        "owner",
        f"select -prod_id as prod_id, count(*) as n from {SALES} group by prod_id order by prod_id",
        "same",
    ),
    (
        "owner",
        f"select prod_id, count(*) from {SALES} group by prod_id having prod_id > 1 order by "
        "prod_id",
        "same",
    ),
    (
        "owner",
        f"select prod_id % 2 as k, count(*) as n from {SALES} group by k having k = 1",
        "same",
    ),
    # GROUP BY / HAVING / ORDER over expressions, DISTINCT ON, grouping sets, FILTER
    (
        "owner",
        "select month(sale_date) as m, count(*) filter (where prod_id = 1) as w, "
        f"round(sum(sale_amount) / count(*), 2) as mean from {SALES} group by m having count(*) "
        "> 1 order by w desc, m limit 3",
        "same",
    ),
    (
        "owner",
        f"select distinct on (prod_id) prod_id, count(*) from {SALES} group by prod_id, sale_id "
        "order by prod_id",
        "refused",
    ),
    (
        "owner",
        f"select distinct on (prod_id) prod_id, sale_id from {SALES} order by prod_id, sale_id",
        "refused",
    ),
    (
        "owner",
        f"select prod_id, count(*) from {SALES} group by grouping sets ((prod_id), ())",
        "refused",
    ),
    ("owner", f"select prod_id, count(*) from {SALES} group by rollup (prod_id)", "refused"),
    ("owner", f"select prod_id, count(*) from {SALES} group by cube (prod_id)", "refused"),
    ("owner", f"select count(*) from {SALES} group by ()", "refused"),
    (
        "owner",
        "select count(*) filter (where sale_amount > 150) as a, sum(sale_amount) filter (where "
        f"sale_id > 3) as b, avg(sale_id) filter (where prod_id = 2) as c from {SALES}",
        "same",
    ),
    # COUNT(*) / COUNT(x) over the null-supplying side, empty groups
    (
        "owner",
        f"select count(*), count(c.cust_name), count(s.cust_id) from {SALES} s left join "
        "retail.customer c on s.cust_id = c.cust_id",
        "same",
    ),
    (
        "analyst",
        f"select count(*) as n, sum(sale_amount) as total from {SALES} where prod_id = 2",
        "same",
    ),
    ("analyst", f"select prod_id, count(*) from {SALES} group by prod_id order by prod_id", "same"),
    # SUM's HUGEINT (Arrow carries it as DECIMAL(38,0)) shows in typeof and //
    (
        "owner",
        "select typeof(sum(prod_id)) as t, sum(prod_id) // 4 as q, sum(prod_id) / 4 as r from "
        f"{SALES}",
        "same",
    ),
    (
        "owner",
        f"select prod_id, sum(prod_id) // 4 as q from {SALES} group by prod_id order by prod_id",
        "same",
    ),
    # AVG of what SUM cannot add (DuckDB averages dates, timestamps, intervals)
    ("owner", f"select avg(sale_date) from {SALES}", "refused"),
    ("owner", f"select avg(cast(sale_date as timestamp)) from {SALES}", "refused"),
    ("owner", f"select avg(sale_date - date '2023-01-01') as days from {SALES}", "same"),
    # LIMIT / OFFSET / QUALIFY / windows / UNION
    (
        "owner",
        f"select prod_id, count(*) as c from {SALES} group by prod_id order by c, prod_id limit "
        "2 offset 1",
        "same",
    ),
    ("owner", f"select sale_id from {SALES} limit 3", "refused"),
    (
        "owner",
        f"select prod_id, count(*) as c from {SALES} group by prod_id qualify c > 1",
        "refused",
    ),
    ("owner", f"select sale_id, row_number() over () from {SALES}", "refused"),
    ("owner", f"select sale_id from {SALES} union select 1", "refused"),
    # lateral joins, subqueries in SELECT and WHERE
    (
        "owner",
        f"select s.sale_id, l.x from {SALES} s, lateral (select s.sale_amount * 2 as x) l",
        "same",
    ),
    (
        "owner",
        "select s.sale_id, (select count(*) from retail.customer c where c.cust_id = "
        f"s.cust_id) as n from {SALES} s",
        "same",
    ),
    (
        "owner",
        f"select s.sale_id from {SALES} s where s.cust_id in (select cust_id from retail.customer)",
        "same",
    ),
    (
        "owner",
        f"select sale_id from {SALES} where sale_amount > (select avg(sale_amount) from {SALES})",
        "refused",
    ),
    (
        "owner",
        f"select count(*) from retail.inventory i join lateral (select * from {SALES} s where "
        "s.prod_id = i.prod_id) x on true",
        "refused",
    ),
    # an aggregate in a subquery over the outer query's rows makes the statement aggregate
    ("owner", f"select (select sum(sale_amount)) as total from {SALES}", "refused"),
    (
        "owner",
        "select (select sum(s.sale_amount) from retail.inventory i limit 1) as total from "
        f"{SALES} s",
        "refused",
    ),
    (
        "analyst",
        f"select count(*) from (select (select max(sale_id)) as m from {SALES}) x",
        "refused",
    ),
    # time travel, the same table twice, SELECT * over joins with repeated names
    ("owner", f"select count(*), sum(sale_amount) from {SALES} version as of 1", "same"),
    (
        "owner",
        f"select count(*) from {SALES} version as of 1 a join {SALES} b on a.sale_id = b.sale_id",
        "same",
    ),
    ("owner", f"select count(*) from {SALES} a join {SALES} b on a.sale_id = b.sale_id", "refused"),
    (
        "analyst",
        f"select * from {SALES} s join retail.customer c on s.cust_id = c.cust_id join "
        "retail.inventory i on s.prod_id = i.prod_id",
        "same",
    ),
    ("analyst", f"select * from {SALES} s natural join retail.customer c", "same"),
    # aggregates that do not decompose: refused, never approximated
    *(
        ("owner", f"select {aggregate} from {SALES}", "refused")
        for aggregate in (
            "string_agg(cust_id::varchar, ',')",
            "list(sale_id)",
            "array_agg(sale_id)",
            "first(sale_id)",
            "any_value(sale_id)",
            "arbitrary(sale_id)",
            "approx_count_distinct(sale_id)",
            "count(distinct prod_id)",
            "median(sale_amount)",
            "max(sale_amount, 2)",
            "arg_max(sale_id, sale_amount)",
            "count_star()",
        )
    ),
    # * and COLUMNS beside aggregates, COLLATE, TABLESAMPLE, types Arrow does not carry
    ("owner", f"select max(columns(*)) from {SALES}", "refused"),
    ("owner", f"select columns('prod_id'), count(*) from {SALES} group by prod_id", "refused"),
    ("owner", f"select i.*, count(*) from retail.inventory i, {SALES} s group by all", "refused"),
    (
        "owner",
        "select (case when sale_id % 3 = 0 then 'a' else 'A' end) collate nocase as k, "
        f"count(*) from {SALES} group by 1",
        "refused",
    ),
    (
        "owner",
        "select max((case when sale_id = 1 then 'b' when sale_id = 20 then 'B' else 'a' end) "
        f"collate nocase) from {SALES}",
        "refused",
    ),
    ("owner", f"select count(*) from {SALES} tablesample 1 rows", "refused"),
    ("owner", f"select max(sale_id::bit) from {SALES}", "refused"),
    (
        "owner",
        f"select max(sale_id::varchar::json) as j, min(sale_id::hugeint) as h from {SALES}",
        "same",
    ),
]


@pytest.mark.parametrize(("who", "sql", "expected"), SHAPES)
def test_a_statement_is_answered_as_in_process_or_refused(
    served: Served, who: str, sql: str, expected: str
) -> None:
    assert _agree(served, who, sql) == expected


def test_averages_of_decimals_and_integers_are_the_local_doubles(served: Served) -> None:
    """The same doubles (not merely close ones) and the same types as DuckDB's own AVG -- but
    where the unscaled sum passes 2^53 (``d10``): DuckDB then divides in ``long double``."""
    columns = (
        "avg(d2) as d2, avg(d3) as d3, avg(i) as i, avg(b) as b, avg(d2) filter (where i > 0) "
        "as pos, sum(i) as si, sum(i) // 7 as q, typeof(sum(i)) as t, count(*) as n, "
        "avg(d10) as d10"
    )
    for sql in (
        f"select {columns} from retail.numbers",
        f"select g, {columns} from retail.numbers group by g order by g",
    ):
        prepared, resolved = served.plan("owner", sql)
        assert len(resolved[partitioned(resolved)].files) == NUMBER_FILES
        cluster, local = both(prepared, resolved, served.address)
        assert cluster.table.drop_columns(["d10"]).equals(local.table.drop_columns(["d10"]))
        assert_same(cluster, local, ordered=True)  # d10 to a relative 1e-9


BARRIER = [
    # each expression fails on a row the analyst's row filter (prod_id = 1) hides
    "select sum(sale_id % (case when prod_id = 1 then 1 else 0 end)) as s from retail.store_sales",
    "select count(*) from retail.store_sales where cast(case when prod_id = 1 then '1' else "
    "'x' end as integer) = 1",
    "select cast(case when prod_id = 1 then '7' else cust_id::varchar || 'x' end as integer) "
    "as k, count(*) from retail.store_sales group by k",
    "select prod_id, count(*) filter (where 1 / (prod_id - 2) < 0) as f from "
    "retail.store_sales group by prod_id having min(1 // (prod_id - 2)) < 0",
    "select sale_id, cast(case when prod_id = 1 then '1' else 'x' end as integer) as one from "
    "retail.store_sales",
]


@pytest.mark.parametrize("sql", BARRIER)
def test_user_expressions_never_run_on_hidden_rows(served: Served, sql: str) -> None:
    prepared, resolved = served.plan("analyst", sql)
    cluster, local = both(prepared, resolved, served.address)
    assert_same(cluster, local, ordered=False)
    assert cluster.table.num_rows > 0


def test_a_truncated_scan_returns_the_rows_the_local_engine_reads_first(served: Served) -> None:
    prepared, resolved = served.plan("owner", f"select sale_id, sale_amount from {SALES}")
    for max_rows in (0, 1, 4, 8, 19, 20, 21):
        cluster, local = both(prepared, resolved, served.address, max_rows=max_rows)
        assert_same(cluster, local, ordered=True)


# -- the workers ---------------------------------------------------------------------------------

ESCAPES = [
    "select getenv('HOME')",
    "select current_setting('allowed_paths')",
    "select * from read_parquet('/etc/passwd')",
    "select * from read_text('/etc/passwd')",
    "select * from glob('/tmp/*')",
    "select * from '/etc/passwd'",
    "attach '/tmp/lakehold-attack.db' as x",
    "install httpfs",
    "load httpfs",
    "copy (select 1) to '/tmp/lakehold-attack.csv'",
    "set enable_external_access = true",
    "pragma version",
    "select * from duckdb_settings()",
    "select * from retail.store_sales, (select * from duckdb_extensions())",
]


@pytest.mark.parametrize("sql", ESCAPES)
def test_user_sql_cannot_reach_a_worker_s_files_settings_or_environment(
    served: Served, sql: str
) -> None:
    with served.http("owner") as owner:
        response = owner.post("/api/v1/query", json={"sql": sql, "engine": "ray"})
    assert response.status_code in (400, 403), response.text
    assert not Path("/tmp/lakehold-attack.csv").exists()
    assert not Path("/tmp/lakehold-attack.db").exists()


def test_a_task_is_locked_to_its_files_whatever_it_is_sent(served: Served, tmp_path: Path) -> None:
    """Defence in depth: a task sent other SQL than its partial query still reads no other
    file, writes none and cannot unlock its configuration."""
    prepared, resolved = served.plan("owner", f"select count(*) from {SALES}")
    ref = partitioned(resolved)
    [task, *_] = slices(prepared, resolved, ref, prepared.duckdb_sql, memory_limit="64MB")
    _, inventory = served.plan("owner", "select * from retail.inventory")
    elsewhere = next(iter(inventory.values())).files[0]
    written = tmp_path / "written.csv"
    attempts = [
        f"select * from read_parquet('{elsewhere}')",
        f"copy (select 1) to '{written}'",
        f"attach '{tmp_path / 'x.db'}' as x",
        "install httpfs",
        "load httpfs",
        "set enable_external_access = true",
        "reset allowed_paths",
        "select * from read_text('/etc/hostname')",
        "select getenv('HOME')",
    ]
    cluster = ray_client.connect(served.address)
    remote = ray_client.remote(partial, num_cpus=1)
    for sql in attempts:
        with pytest.raises(ray.exceptions.RayTaskError) as refused:
            cluster.get(remote.remote(task.setup, sql, None))
        assert any(word in str(refused.value) for word in ("Permission", "locked", "getenv")), sql
    assert not written.exists() and not (tmp_path / "x.db").exists()


def test_a_task_s_file_error_names_no_path(served: Served) -> None:
    """A data file gone between planning and the task (a vacuum, say): no path in the error."""
    batch = pa.table({"k": list(range(10)), "v": [str(i) for i in range(10)]})
    service = served.runtime.table_service
    service.create_table(served.owner, "retail", "fragile", DataSource(batch))
    service.write(served.owner, "retail", "fragile", DataSource(batch), mode="append")
    prepared, resolved = served.plan("owner", "select count(*) as n from retail.fragile")
    files = resolved[partitioned(resolved)].files
    Path(files[0]).unlink()
    with pytest.raises(LakeholdError) as failed:
        _on_cluster(served, prepared, resolved)
    message = failed.value.message
    assert "/" not in message and Path(files[0]).name not in message, message
    assert failed.value.to_dict()["error"] != "internal"


# -- resources -----------------------------------------------------------------------------------


def test_partial_aggregates_past_their_byte_budget_are_refused(served: Served) -> None:
    sql = "select d10, count(*) as n from retail.numbers group by d10"  # ~one group per row
    prepared, resolved = served.plan("owner", sql)
    with pytest.raises(Invalid) as refused:
        _on_cluster(served, prepared, resolved, max_partial_bytes=4096)
    assert refused.value.to_dict()["field"] == "engine"
    cluster, local = both(prepared, resolved, served.address, max_rows=NUMBER_ROWS)
    assert_same(cluster, local, ordered=False)


HEAVY = f"select sum(s.sale_id * r.range) from {SALES} s, range(1000000000000) r"
"""Tasks that would run for hours."""


def _cluster_is_free(served: Served) -> None:
    """A statement needing every CPU of the cluster finishes: no task of the last is left."""
    prepared, resolved = served.plan("owner", f"select count(*) as n from {SALES}")
    assert _on_cluster(served, prepared, resolved, timeout_s=30).table.to_pylist() == [{"n": 20}]


def test_the_checks_over_empty_tables_are_bounded_in_time(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constant expressions run even over empty tables: the checks made when a statement is
    planned stop at their time limit (the statement then runs in process, by size)."""
    monkeypatch.setattr(merge, "CHECK_TIMEOUT_S", 0.5)
    slow = "levenshtein(repeat('a', 20000), repeat('b', 20000)) > 0"
    for sql in (
        f"select count(*) from {SALES} where {slow}",
        f"select sale_id from {SALES} where {slow}",
        f"select count(*), {slow} as slow from {SALES}",
    ):
        with pytest.raises(Unsplittable, match=r"take more than 0\.5 s"):
            check_splits(*served.plan("owner", sql))


def test_a_timeout_stops_the_tasks(served: Served) -> None:
    prepared, resolved = served.plan("owner", HEAVY)
    with pytest.raises(Timeout):
        _on_cluster(served, prepared, resolved, timeout_s=1.5)
    _cluster_is_free(served)


def test_a_cancel_stops_the_tasks(served: Served) -> None:
    prepared, resolved = served.plan("owner", HEAVY)
    handle = CancelHandle()
    threading.Timer(1.0, handle.cancel).start()
    with pytest.raises(Cancelled):
        _on_cluster(served, prepared, resolved, cancel=handle)
    _cluster_is_free(served)


# -- table jobs ----------------------------------------------------------------------------------


@pytest.fixture
def cluster(lakehold_free_cluster: str) -> ClusterOptions:
    return ClusterOptions(lakehold_free_cluster, memory_limit="256MB")


def _twins(root: Path, first: pa.Table, more: pa.Table) -> tuple[DeltaTables, Path, Path]:
    """Two equal tables of two files each under ``root``."""
    tables = DeltaTables(root)
    local, remote = tables.path_for("p", "local"), tables.path_for("p", "remote")
    for path in (local, remote):
        tables.create(path, first, committer="t")
        tables.write(path, more, mode="append", committer="t")
    return tables, local, remote


def _merge_both(
    tables: DeltaTables,
    local: Path,
    remote: Path,
    batch: pa.Table,
    cluster: ClusterOptions,
    **options: object,
):
    """The write in process on ``local`` and with the Ray merge engine on ``remote`` (each
    result, or the error it raised)."""

    def attempt(path: Path, engine: RayMerge | None):
        try:
            return tables.write(path, batch, committer="t", merge_engine=engine, **options)
        except LakeholdError as error:
            return error

    return attempt(local, None), attempt(remote, RayMerge(cluster, tables.root))


BATCHES = [
    # (name, batch, mode, expected engine of the Ray attempt)
    (
        "duplicate keys",
        pa.table({"k": [2, 2, 9], "v": ["a", "b", "c"], "op": ["U", "D", "I"]}),
        "cdc",
        "ray",
    ),
    (
        "a deleted key re-inserted",
        pa.table({"k": [2, 2], "v": ["x", "y"], "op": ["D", "I"]}),
        "cdc",
        "ray",
    ),
    (
        "null key",
        pa.table({"k": pa.array([2, None]), "v": ["a", "b"], "op": ["U", "I"]}),
        "cdc",
        None,
    ),
    ("unknown operation", pa.table({"k": [2, 3], "v": ["a", "b"], "op": ["U", "X"]}), "cdc", None),
    (
        "empty operation",
        pa.table({"k": [2], "v": ["a"], "op": pa.array([None], pa.string())}),
        "cdc",
        None,
    ),
    (
        "operations in any case",
        pa.table({"k": [2, 3, 40], "v": ["a", "b", "c"], "op": [" u", "d ", "i"]}),
        "cdc",
        "ray",
    ),
    (
        "a key of another type",
        pa.table({"k": ["2", "x"], "v": ["a", "b"], "op": ["U", "I"]}),
        "cdc",
        None,
    ),
    (
        "keys as text that convert",
        pa.table({"k": ["2", "41"], "v": ["a", "b"], "op": ["U", "I"]}),
        "cdc",
        "ray",
    ),
    (
        "a new column",
        pa.table({"k": [2, 42], "v": ["a", "b"], "w": [1, 2], "op": ["U", "I"]}),
        "cdc",
        "duckdb",
    ),
    ("a number into a text column", pa.table({"k": [2], "v": [1.5], "op": ["U"]}), "cdc", "ray"),
    (
        "path-like keys and values",
        pa.table(
            {"k": [3, 43], "v": ["../../etc/passwd", "'; drop table x; --"], "op": ["U", "I"]}
        ),
        "cdc",
        "ray",
    ),
    ("a plain merge without the values", pa.table({"k": [4, 44]}), "merge", "ray"),
]


@pytest.mark.parametrize(("name", "batch", "mode", "engine"), BATCHES)
def test_a_cdc_batch_merges_as_in_process_or_is_refused_unwritten(
    tmp_path: Path, cluster: ClusterOptions, name: str, batch: pa.Table, mode: str, engine: str
) -> None:
    first = pa.table({"k": list(range(20)), "v": [f"v{i}" for i in range(20)]})
    more = pa.table({"k": list(range(20, 40)), "v": [f"v{i}" for i in range(20, 40)]})
    tables, local, remote = _twins(tmp_path / "warehouse", first, more)
    on_disk, version = set(remote.glob("*.parquet")), tables.snapshot(remote).version
    expected, done = _merge_both(tables, local, remote, batch, cluster, mode=mode, keys=["k"])
    if isinstance(expected, LakeholdError):
        assert engine is None, expected
        assert isinstance(done, LakeholdError) and done.to_dict() == expected.to_dict()
        assert expected.status_code < 500
        assert set(remote.glob("*.parquet")) == on_disk
        assert tables.snapshot(remote).version == version
        return
    assert not isinstance(done, LakeholdError), done
    assert done.engine == engine
    counts = ("rows_inserted", "rows_updated", "rows_deleted")
    assert [getattr(done, c) for c in counts] == [getattr(expected, c) for c in counts]
    assert tables.read(remote).sort_by("k").equals(tables.read(local).sort_by("k"))
    staging = tables.root / ".staging"
    assert not staging.exists() or not any(staging.iterdir())


@pytest.mark.parametrize(
    "column", ["filename", "file_row_number", "__lakehold_s1", "__lakehold_row"]
)
def test_a_column_named_like_the_tasks_own_names_merges_in_process(
    tmp_path: Path, cluster: ClusterOptions, column: str
) -> None:
    """DuckDB's read_parquet adds ``filename``/``file_row_number``; the tasks name their own
    columns ``__lakehold_*``: such a table merged on the cluster crashed or lost updates."""
    first = pa.table({"id": [1, 2, 3], column: [10, 20, 30]})
    more = pa.table({"id": [4, 5], column: [40, 50]})
    tables, local, remote = _twins(tmp_path / "warehouse", first, more)
    batch = pa.table({"id": [2, 6], column: [99, 98]})
    _, done = _merge_both(tables, local, remote, batch, cluster, mode="merge", keys=["id"])
    assert done.engine == "duckdb" and column in (done.engine_note or "")
    assert tables.read(remote).sort_by("id").equals(tables.read(local).sort_by("id"))
    assert tables.read(remote).sort_by("id").column(column).to_pylist() == [10, 99, 30, 40, 50, 98]


def test_a_hive_like_folder_on_the_path_changes_no_value(
    tmp_path: Path, cluster: ClusterOptions
) -> None:
    """A warehouse under ``.../id=77/``: DuckDB would read ``id`` from the path, not the file."""
    first = pa.table({"id": [1, 2, 3], "v": [1, 2, 3]})
    more = pa.table({"id": [4, 5], "v": [4, 5]})
    tables, local, remote = _twins(tmp_path / "id=77" / "warehouse", first, more)
    batch = pa.table({"id": [2, 6], "v": [20, 60]})
    _, done = _merge_both(tables, local, remote, batch, cluster, mode="merge", keys=["id"])
    assert done.engine == "ray"
    assert tables.read(remote).sort_by("id").equals(tables.read(local).sort_by("id"))
    metrics = tables.optimize(remote, committer="t", compactor=RayCompactor(cluster))
    assert metrics["engine"] == "ray" and metrics["files_removed"] > 1
    assert tables.read(remote).sort_by("id").column("id").to_pylist() == [1, 2, 3, 4, 5, 6]


# -- routing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["spark", "RAY", "duckdb ", "ray;", 1])
def test_an_unknown_engine_is_a_400_naming_engine(served: Served, engine: object) -> None:
    with served.http("owner") as owner:
        query = owner.post(
            "/api/v1/query", json={"sql": f"select count(*) from {SALES}", "engine": engine}
        )
        optimize = owner.post(
            "/api/v1/projects/retail/tables/store_sales/optimize", params={"engine": engine}
        )
        write = owner.post(
            "/api/v1/projects/retail/tables/inventory/writes",
            data={"mode": "merge", "keys": "prod_id", "engine": engine},
            files={"file": ("x.csv", b"prod_id,prod_name,active\n1,Widget A,Y\n")},
        )
    for response in (query, optimize, write):
        assert response.status_code == 400, response.text
        assert "engine" in response.text


def test_the_ray_engine_without_a_cluster_is_a_400(tmp_path: Path) -> None:
    runtime = Runtime(Settings(home=tmp_path / "home", database_url=sqlite_url(tmp_path)))
    try:
        owner_token, _ = share_retail(runtime)
        with client_for(runtime, owner_token) as owner:
            response = owner.post(
                "/api/v1/query", json={"sql": f"select count(*) from {SALES}", "engine": "ray"}
            )
    finally:
        runtime.close()
    assert response.status_code == 400 and response.json()["field"] == "engine"


ROUTED = [(who, sql) for who, sql, _ in SHAPES if who == "analyst"] + [
    (who, sql) for who, sql, _ in SHAPES[:14]
]


def test_routing_by_size_never_changes_an_answer(
    tmp_path: Path, lakehold_free_cluster: str
) -> None:
    """Every statement reading a file goes to the cluster when it can (threshold 1 byte):
    its rows, columns and errors are those of the single-process engine."""
    served = _serve(tmp_path, lakehold_free_cluster, ray_threshold_bytes=1)
    engines = set()
    try:
        for who, sql in ROUTED:
            body = {"sql": sql, "project": "retail" if who == "owner" else "analysts"}
            with served.http(who) as http:
                routed = http.post("/api/v1/query", json=body)
                local = http.post("/api/v1/query", json={**body, "engine": "duckdb"})
                assert routed.status_code == local.status_code, (sql, routed.text)
                if local.status_code != 200:
                    error = ("error", "message", "field")
                    assert [routed.json().get(k) for k in error] == [
                        local.json().get(k) for k in error
                    ]
                    continue
                assert routed.json()["columns"] == local.json()["columns"], sql
                rows = (routed.json()["rows"], local.json()["rows"])
                if " order by " not in sql:
                    rows = (sorted(rows[0], key=repr), sorted(rows[1], key=repr))
                assert rows[0] == rows[1], sql
                statement = routed.headers["x-statement-id"]
                engines.add(ok(http.get(f"/api/v1/statements/{statement}"))["engine"])
    finally:
        served.runtime.close()
    assert engines == {"ray", "duckdb"}


def test_a_statement_refused_on_the_cluster_is_a_400_naming_engine(served: Served) -> None:
    sql = (
        f"select prod_id + 1 as prod_id, count(*) from {SALES} group by prod_id having prod_id > 1"
    )
    with served.http("owner") as owner:
        response = owner.post("/api/v1/query", json={"sql": sql, "engine": "ray"})
        local = owner.post("/api/v1/query", json={"sql": sql, "engine": "duckdb"})
    assert response.status_code == 400 and response.json()["field"] == "engine"
    # in process, HAVING compared the column (the products 2 to 4), not the alias
    assert sorted(row["prod_id"] for row in ok(local)["rows"]) == [3, 4, 5]
