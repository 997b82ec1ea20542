"""Bulk reads and writes for folding: a few round trips per batch whatever its size."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import JSON, DateTime
from sqlalchemy.orm import Session

from lakehold.store import driver
from lakehold.store.models import as_utc

T = TypeVar("T")
CHUNK = 500  # keeps IN lists well under the drivers' parameter limits


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_by_id(session: Session, model: Any, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Rows of ``model`` whose primary key ``id`` is in ``ids``, as dicts by id.

    Read with the driver (one parameter per chunk, as :func:`select_in`), converting only the
    columns whose type has a result processor on this dialect (JSON text, SQLite's datetime
    strings) with SQLAlchemy's own processors: the same values ``select(table)`` returns."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    connection = session.connection()
    names, convert = _readers(model.__table__, connection.dialect)
    key = names.index("id")
    found: dict[str, dict[str, Any]] = {}
    row: Sequence[Any]  # a tuple from the driver, a list once converted
    for part in chunks(wanted):
        for row in select_in(session, model.__tablename__, names, "id", part):
            if convert:
                row = list(row)
                for i, process in convert:
                    row[i] = process(row[i])
            found[row[key]] = dict(zip(names, row, strict=True))
    return found


# Per dialect (weakly: engines come and go), by table or statement: converters and SQL text.
_CACHES: WeakKeyDictionary[Any, dict[tuple, Any]] = WeakKeyDictionary()


def _cache(dialect: Any) -> dict[tuple, Any]:
    cache = _CACHES.get(dialect)
    if cache is None:
        cache = _CACHES[dialect] = {}
    return cache


def _readers(table: Any, dialect: Any) -> tuple[tuple[str, ...], list[tuple[int, Any]]]:
    """Column names of ``table`` and ``(index, converter)`` of those needing one:
    the dialect's result processor, then a naive datetime made UTC (SQLite keeps no zone;
    every time Lakehold stores is UTC)."""
    cache = _cache(dialect)
    cached = cache.get(("read", table))
    if cached is not None:
        return cached
    columns = list(table.c)
    convert: list[tuple[int, Any]] = []
    for i, column in enumerate(columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if isinstance(column.type, DateTime):
            convert.append((i, _aware_after(process)))
        elif process is not None:
            convert.append((i, process))
    cache["read", table] = cached = (tuple(c.name for c in columns), convert)
    return cached


def _aware_after(process: Any) -> Any:
    def convert(value: Any) -> Any:
        if process is not None:
            value = process(value)
        return as_utc(value) if isinstance(value, datetime) else value

    return convert


def existing(session: Session, column: Any, values: Iterable[str]) -> set[str]:
    """Which of ``values`` are present in ``column``."""
    present: set[str] = set()
    for part in chunks(sorted(set(values))):
        rows = select_in(session, column.table.name, (column.name,), column.name, part)
        present.update(row[0] for row in rows)
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
    the number of rows. SQLite: one executemany (a loop in C, in-process) of values converted by
    the dialect's own bind processors (JSON text, datetime strings) -- exactly what SQLAlchemy
    would store, without its per-row parameter processing."""
    if not rows:
        return
    table = model.__table__
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        _postgresql_upsert(session, table, rows, keys, update)
        return
    columns = tuple(rows[0])
    sql, processors = _sqlite_statement(
        table, connection.dialect, columns, tuple(keys), tuple(update)
    )
    if processors:
        # The same value object (the batch's "now", an event's time) is converted once.
        plan: list[tuple[int, Any, dict[int, Any]]] = [
            (i, process, {}) for i, process in processors
        ]
        params = []
        for row in rows:
            values = [row[c] for c in columns]
            for i, process, done in plan:
                value = values[i]
                converted = done.get(id(value))
                if converted is None:
                    converted = done[id(value)] = process(value)
                values[i] = converted
            params.append(tuple(values))
    else:
        params = [tuple([row[c] for c in columns]) for row in rows]
    connection.exec_driver_sql(sql, params)


def _sqlite_statement(
    table: Any, dialect: Any, columns: tuple[str, ...], keys: tuple[str, ...], update: tuple
) -> tuple[str, list[tuple[int, Any]]]:
    """The SQLite ``INSERT ... ON CONFLICT`` of ``columns``, and ``(index, bind processor)`` of
    the columns that have one on this dialect."""
    cache, cache_key = _cache(dialect), (table, columns, keys, update)
    cached = cache.get(cache_key)
    if cached is not None:
        return cached
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    if keys:
        sql += f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO "
        sql += (
            "UPDATE SET " + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
            if update
            else "NOTHING"
        )
    processors = []
    for i, name in enumerate(columns):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and isinstance(table.c[name].type, JSON):
            process = _empty_first(process)
        if process is not None:
            processors.append((i, process))
    cache[cache_key] = cached = (sql, processors)
    return cached


def _dumps(value: Any) -> str:
    """``json.dumps(value)``; empty lists and objects, the commonest values, without a call."""
    if not value and value.__class__ is list:
        return "[]"
    if not value and value.__class__ is dict:
        return "{}"
    return json.dumps(value)


def _empty_first(process: Any) -> Any:
    """``process`` (a JSON bind processor) with empty lists and objects, the commonest values,
    converted once."""
    empty_list, empty_dict = process([]), process({})

    def convert(value: Any) -> Any:
        if not value and value.__class__ is list:
            return empty_list
        if not value and value.__class__ is dict:
            return empty_dict
        return process(value)

    return convert


def _postgresql_upsert(
    session: Session, table: Any, rows: list[dict[str, Any]], keys: Sequence[str], update
) -> None:
    connection = session.connection()
    columns = tuple(rows[0])
    sql, json_columns = _postgresql_statement(
        table, connection.dialect, columns, tuple(keys), tuple(update)
    )
    arrays = []
    for name in columns:
        values = [row[name] for row in rows]
        if name in json_columns:
            values = [_dumps(v) for v in values]
        arrays.append(values)
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None  # the session's connection is checked out
    with contextlib.closing(dbapi_connection.cursor()) as cursor:
        cursor.execute(sql, tuple(arrays))  # %b: binary arrays, no text escaping


def _postgresql_statement(
    table: Any, dialect: Any, columns: tuple[str, ...], keys: tuple[str, ...], update: tuple
) -> tuple[str, frozenset[str]]:
    """The ``INSERT ... SELECT FROM unnest(...)`` of ``columns``, and which are JSON."""
    cache, cache_key = _cache(dialect), (table, columns, keys, update)
    cached = cache.get(cache_key)
    if cached is not None:
        return cached
    casts = [f"%b::{table.c[name].type.compile(dialect=dialect)}[]" for name in columns]
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
    json_columns = frozenset(c for c in columns if isinstance(table.c[c].type, JSON))
    cache[cache_key] = cached = (sql, json_columns)
    return cached


def delete_where_in(session: Session, column: Any, values: Iterable[str]) -> None:
    """Delete the rows whose ``column`` is in ``values`` (one parameter per chunk, as
    :func:`select_in`)."""
    for part in chunks(sorted(set(values))):
        _driver_execute(session, f"DELETE FROM {column.table.name}", column.name, part)


def select_in(
    session: Session, table: str, columns: Sequence[str], key: str, values: Sequence[str]
) -> list[tuple]:
    """``columns`` of ``table`` rows whose ``key`` is in ``values``, in one statement with one
    parameter (a JSON array on SQLite, an array on PostgreSQL): no per-value binding, which is
    what dominates reading thousands of graph nodes. Names are the code's own, never input."""
    if not values:
        return []
    return _driver_execute(session, f"SELECT {', '.join(columns)} FROM {table}", key, values)


def _driver_execute(session: Session, head: str, key: str, values: Sequence[str]) -> list[tuple]:
    """``head`` (a SELECT or DELETE) ``WHERE key IN values``, run on the driver's cursor in the
    session's transaction; the rows a SELECT returns."""
    return driver.fetch(
        session, f"{head} WHERE {driver.member_of(session, key)}", [driver.values(session, values)]
    )
