"""Fixtures for the query engine: real Delta tables written with deltalake into tmp dirs."""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehold.query import BoundTable


def bind_delta(path: Path | str, version: int | None = None, **kwargs: object) -> BoundTable:
    """A BoundTable for a Delta table version, the way the service layer will build it."""
    table = DeltaTable(str(path), version=version)
    schema = pa.schema(table.schema().to_arrow())
    files = table.file_uris()
    partition_values = None
    if table.metadata().partition_columns:
        actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
        by_name = {action["path"].rsplit("/", 1)[-1]: action for action in actions}
        partition_values = {}
        for file in files:
            action = by_name[file.rsplit("/", 1)[-1]]
            partition_values[file] = {
                key.removeprefix("partition."): None if value is None else str(value)
                for key, value in action.items()
                if key.startswith("partition.")
            }
    return BoundTable(files=files, schema=schema, partition_values=partition_values, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def customers(tmp_path: Path) -> Path:
    """retail.customer: three rows, then a fourth with a column added (schema evolution)."""
    path = tmp_path / "warehouse" / "retail" / "customer"
    write_deltalake(
        str(path),
        pa.table(
            {
                "id": pa.array([1, 2, 3], pa.int64()),
                "name": ["Ada", "Bob", "Cy"],
                "region": ["EU", "US", "EU"],
                "balance": pa.array(
                    [decimal.Decimal("10.50"), decimal.Decimal("-2.00"), None],
                    pa.decimal128(12, 2),
                ),
                "since": pa.array(
                    [dt.date(2020, 1, 1), dt.date(2021, 6, 30), dt.date(2022, 12, 31)]
                ),
            }
        ),
    )
    return path


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    """retail.orders, partitioned by status, with one NULL partition."""
    path = tmp_path / "warehouse" / "retail" / "orders"
    write_deltalake(
        str(path),
        pa.table(
            {
                "order_id": pa.array([10, 11, 12, 13], pa.int64()),
                "customer_id": pa.array([1, 1, 2, 3], pa.int64()),
                "amount": [5.0, 7.5, 1.25, 3.0],
                "status": ["open", "shipped", "open", None],
                "ordered_at": pa.array(
                    [dt.datetime(2024, 1, d, tzinfo=dt.UTC) for d in (1, 2, 3, 4)],
                    pa.timestamp("us", tz="UTC"),
                ),
            }
        ),
        partition_by=["status"],
    )
    return path


@pytest.fixture
def bind() -> Callable[..., BoundTable]:
    return bind_delta


def tpch_extension() -> str | None:
    """Path of the TPC-H extension shipped by the duckdb-extension-tpch package, if installed."""
    spec = importlib.util.find_spec("duckdb_extension_tpch")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.glob("extensions/*/tpch.duckdb_extension"))
    return str(found[0]) if found else None
