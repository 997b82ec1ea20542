"""Bulk reads and writes for folding: a few round trips per batch whatever its size."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, delete, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

T = TypeVar("T")
CHUNK = 500  # keeps IN lists well under the drivers' parameter limits


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_by_id(session: Session, model: Any, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Rows of ``model`` whose primary key ``id`` is in ``ids``, as dicts by id."""
    table = model.__table__
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted(set(ids))):
        for row in session.execute(select(table).where(table.c.id.in_(part))).mappings():
            found[row["id"]] = {k: _aware(v) for k, v in row.items()}
    return found


def _aware(value: Any) -> Any:
    """SQLite returns naive datetimes; every time Lakehold stores is UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def existing(session: Session, column: Any, values: Iterable[str]) -> set[str]:
    """Which of ``values`` are present in ``column``."""
    present: set[str] = set()
    for part in chunks(sorted(set(values))):
        present.update(session.scalars(select(column).where(column.in_(part))))
    return present


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (same keys each) in one statement (one executemany on SQLite)."""
    upsert(session, model, rows, (), ())


def upsert(
    session: Session,
    model: Any,
    rows: list[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (same keys each); a row whose ``keys`` exist already updates its
    ``update`` columns instead, or is skipped when there are none (no ``keys``: plain insert).

    PostgreSQL: one ``INSERT ... SELECT FROM unnest(<one array per column>)`` statement, whatever
    the number of rows. SQLite: one executemany (a loop in C, in-process)."""
    if not rows:
        return
    table = model.__table__
    if session.get_bind().dialect.name != "sqlite":
        _postgresql_upsert(session, table, rows, keys, update)
        return
    statement = sqlite.insert(table)
    if keys and update:
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={c: statement.excluded[c] for c in update}
        )
    elif keys:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    session.execute(statement, rows)


def _postgresql_upsert(
    session: Session, table: Any, rows: list[dict[str, Any]], keys: Sequence[str], update
) -> None:
    connection = session.connection()
    columns = list(rows[0])
    casts, arrays = [], []
    for name in columns:
        column = table.c[name]
        values = [row[name] for row in rows]
        if isinstance(column.type, JSON):
            values = [json.dumps(v) for v in values]
        casts.append(f"%b::{column.type.compile(dialect=connection.dialect)}[]")
        arrays.append(values)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({', '.join(casts)})"
    )
    if keys:
        sql += f" ON CONFLICT ({', '.join(keys)}) DO "
        sql += (
            "UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
            if update
            else "NOTHING"
        )
    with connection.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(sql, tuple(arrays))  # %b: binary arrays, no text escaping


def delete_where_in(session: Session, column: Any, values: Iterable[str]) -> None:
    """Delete the rows whose ``column`` is in ``values``."""
    for part in chunks(sorted(set(values))):
        session.execute(delete(column.table).where(column.in_(part)))


def select_in(
    session: Session, table: str, columns: Sequence[str], key: str, values: Sequence[str]
) -> list[tuple]:
    """``columns`` of ``table`` rows whose ``key`` is in ``values``, in one statement with one
    parameter (a JSON array on SQLite, an array on PostgreSQL): no per-value binding, which is
    what dominates reading thousands of graph nodes. Names are the code's own, never input."""
    if not values:
        return []
    connection = session.connection()
    listed = ", ".join(columns)
    if connection.dialect.name == "sqlite":
        sql = f"SELECT {listed} FROM {table} WHERE {key} IN (SELECT value FROM json_each(?))"
        params: tuple = (json.dumps(list(values)),)
    else:
        sql = f"SELECT {listed} FROM {table} WHERE {key} = ANY(%s)"
        params = (list(values),)
    return [tuple(row) for row in connection.exec_driver_sql(sql, params)]
