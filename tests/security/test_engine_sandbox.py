"""The engine sandbox: an attacker who knows every file path in the warehouse, every table's
layout and DuckDB's whole SQL surface still reads only granted rows and columns (ADR 13).

The retail story of :mod:`tests.security.test_adversarial` is set up in a folder whose path
holds a ``k``, so that names spelled with the Kelvin sign (U+212A, which Python's ``lower()``
folds to ``k`` and DuckDB does not) can shadow real paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehold.query import sandboxes
from lakehold.query.footers import local_path
from tests.security.test_adversarial import Shared, assert_no_leak, retail_shared, run

KELVIN = "\u212a"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def shared(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Shared]:
    yield from retail_shared(request.param, tmp_path_factory.mktemp("lakehold_kelvin"))


def data_files(shared: Shared, table: str) -> list[str]:
    """Every data file of every version of ``retail.<table>``."""
    tables = shared.runtime.tables
    path = tables.path_for("retail", table)
    found: dict[str, None] = {}
    version = 0
    while True:
        try:
            snapshot = tables.snapshot(path, version=version)
        except Exception:
            break
        found.update(dict.fromkeys(local_path(f) for f in snapshot.files))
        version += 1
    assert found, f"retail.{table} has no data files"
    return list(found)


def kelvin(path: str) -> str:
    """``path`` with its first ``k`` spelled as the Kelvin sign."""
    assert "k" in path, path
    i = path.index("k")
    return path[:i] + KELVIN + path[i + 1 :]


def quoted(path: str) -> str:
    return '"' + path.replace('"', '""') + '"'


def refused_or_granted(
    shared: Shared, sql: str, dialect: str = "duckdb", written: tuple[str, ...] = ()
) -> None:
    """Refused with a 4xx, or answered with granted rows only; never a leak (an error may
    echo the paths the attacker ``written``, nothing else)."""
    response = run(shared, sql, dialect)
    assert response.status_code < 500, f"{sql!r}: {response.text}"
    text = response.text
    for path in sorted(written, key=len, reverse=True):
        text = text.replace(path, "<written>").replace(path.lower(), "<written>")
    assert_no_leak(sql, text, shared.warehouse)
    if response.status_code == 200:
        for row in response.json()["rows"]:
            assert row.get("prod_id", 1) == 1, f"{sql!r} read a hidden row: {row}"
            assert "cust_email" not in row, f"{sql!r} read a hidden column: {row}"


def bypasses(path: str) -> list[str]:
    """Statements that name a data file of a granted table in every way DuckDB accepts."""
    k = kelvin(path)
    return [
        f"select * from {quoted(path)}",
        f"select * from {quoted(path)}, retail.store_sales",
        f"with {quoted(k)} as (select 1) select * from {quoted(path)}",
        f"with {quoted(k)} as (select 1) select * from {quoted(path)}, retail.store_sales s",
        f"with {quoted(k)} as (select 1) select * from retail.customer c, {quoted(path)}",
        f"with {quoted(k)} as (select 1) select count(*) as n from {quoted(path)} "
        "where prod_id <> 1 union all select count(*) from retail.store_sales",
        f"select * from retail.store_sales where sale_id in "
        f"(with {quoted(k)} as (select 1) select sale_id from {quoted(path)})",
        f"with {quoted(k)} as (select 1) select * from retail.store_sales version as of 0, "
        f"{quoted(path)}",
        f"select * from '{path}'",
        f"select * from read_parquet('{path}')",
        f"select * from parquet_scan(['{path}'])",
    ]


@pytest.mark.parametrize("table", ["store_sales", "customer"])
def test_no_statement_reads_a_data_file_of_a_granted_table(shared: Shared, table: str) -> None:
    for path in data_files(shared, table):
        for sql in bypasses(path):
            refused_or_granted(shared, sql, written=(path, kelvin(path)))


@pytest.mark.parametrize("dialect", ["postgres", "snowflake", "databricks", "bigquery"])
def test_other_dialects_cannot_name_a_data_file(shared: Shared, dialect: str) -> None:
    path = data_files(shared, "store_sales")[0]
    k = kelvin(path)
    quote = "`" if dialect in ("databricks", "bigquery") else '"'
    for sql in (
        f"select * from {quote}{path}{quote}",
        f"with {quote}{k}{quote} as (select 1) select * from {quote}{path}{quote}, "
        "retail.store_sales",
    ):
        refused_or_granted(shared, sql, dialect, written=(path, k, str(Path(path).parent)))


def test_ctas_cannot_store_a_bypass(shared: Shared) -> None:
    path = data_files(shared, "store_sales")[0]
    for i, select in enumerate(
        [
            f"with {quoted(kelvin(path))} as (select 1) select * from {quoted(path)}, "
            "retail.store_sales",
            f"select * from {quoted(path)}",
        ]
    ):
        sql = f"create table analysts.stolen_{i} as {select}"
        refused_or_granted(shared, sql, written=(path, kelvin(path)))
        response = run(shared, f"select * from analysts.stolen_{i}")
        if response.status_code == 200:  # created: with granted rows only
            assert all(row["prod_id"] == 1 for row in response.json()["rows"])


def test_names_that_are_neither_cte_alias_nor_asset_are_refused(shared: Shared) -> None:
    for sql in (
        f'with "{KELVIN}ey" as (select 1) select * from "key"',
        'with "ärger" as (select 1) select * from "Ärger"',
        'select * from "retail/store_sales"',
        'select * from "store_sales/_delta_log/00000000000000000000.json"',
    ):
        response = run(shared, sql)
        assert response.status_code == 404, f"{sql!r}: {response.text}"


def test_statement_links_are_private_and_removed(shared: Shared) -> None:
    scans = shared.runtime.settings.scan_path
    response = run(shared, "select count(*) as n from retail.store_sales")
    assert response.json()["rows"] == [{"n": 7}]
    sandboxes.drain()  # a statement's links go before its sandbox serves again
    kept = list(scans.rglob("*"))
    assert kept and all(p.is_dir() or p.name.endswith(".duckdb") for p in kept), kept
    for path in [scans, *kept]:
        assert oct(path.stat().st_mode & 0o077) == oct(0), path  # Lakehold's user only


def test_a_granted_file_under_another_name_is_the_same_inode(shared: Shared) -> None:
    # The links are hard links (native Parquet speed, no copy): same inode as the data file.
    from lakehold.query.scan_files import ScanFiles

    path = data_files(shared, "store_sales")[0]
    with ScanFiles(shared.runtime.settings.scan_path) as scan:
        linked = scan.link(path)
        assert Path(linked).stat().st_ino == Path(path).stat().st_ino
        assert Path(linked).parent.name != "" and len(Path(linked).parent.name) == 32
    assert not Path(linked).exists()


@pytest.mark.parametrize(
    "sql",
    [
        "select filename from retail.store_sales",
        "select file_row_number, file_index from retail.store_sales",
        "select s.filename from retail.store_sales s",
        "select * from retail.store_sales where filename like '%'",
        "explain select * from retail.store_sales",
        "explain analyze select * from retail.store_sales",
        "select * from retail.store_sales where sale_id in (select sale_id from "
        "retail.store_sales version as of 0 where filename is not null)",
    ],
)
def test_scan_names_are_not_reachable(shared: Shared, sql: str) -> None:
    # The views have fixed select lists: the scan's virtual columns (which would name the
    # private links) and plans are out of reach.
    response = run(shared, sql)
    assert 400 <= response.status_code < 500, f"{sql!r}: {response.text}"
    assert ".scans" not in response.text and "/warehouse" not in response.text
