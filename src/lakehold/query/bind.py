"""Bind pass: one view per table reference, over the files the caller resolved it to.

A view reads the table's Parquet files and exposes exactly its (Delta) schema::

    SELECT CAST("id" AS BIGINT) AS "id", CAST(NULL AS VARCHAR) AS "added_later", ...
    FROM read_parquet(['f1.parquet', 'f2.parquet'], hive_partitioning=false)

- every schema column, cast to its type; NULL for a column no data file has (schema
  evolution); ``union_by_name=true`` only when the files' columns differ;
- partition columns (Delta keeps them out of the files) from ``partition_values``, one
  ``UNION ALL`` branch per partition so that filters on them prune whole branches;
- a table without files is an empty relation of the same columns;
- ``row_filter`` (a boolean expression over the table's columns) and ``columns`` (the
  granted columns) wrap it: ``SELECT <granted> FROM (<all columns>) WHERE <row_filter>
  LIMIT <max>``; the LIMIT keeps the user's predicates above the row filter (DuckDB cannot
  push a filter through a LIMIT), so they never run on hidden rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from lakehold.connectors.files import scan_sql
from lakehold.errors import Invalid, LakeholdError
from lakehold.query.arrow_types import duckdb_type, quote
from lakehold.query.footers import file_columns, local_path
from lakehold.query.identifiers import fold
from lakehold.query.model import Attachment, BoundTable, Plan, RemoteTable, TableRef, View
from lakehold.query.verify import verify

_NO_LIMIT = (1 << 63) - 1


def _same(path: str) -> str:
    return path


def bind(
    sql: str,
    names: Mapping[TableRef, str],
    resolved: Mapping[TableRef, BoundTable],
    link: Callable[[str], str] = _same,
) -> Plan:
    """The plan that runs ``sql`` (which reads the views ``names``) over ``resolved`` tables.

    ``link`` gives the path under which the statement reads each data file: the governed path
    (:func:`lakehold.query.engine.run`) passes :meth:`ScanFiles.link`, so that the plan's
    views and its allowed files are private links, never the warehouse's own paths.
    """
    views: list[View] = []
    files: list[str] = []
    aliases: dict[tuple[str, str, str], Attachment] = {}

    def linked(path: str) -> str:
        try:
            found = link(path)
        except FileNotFoundError:
            raise LakeholdError("a data file of the table could not be read") from None
        files.append(found)
        return found

    for ref, view in names.items():
        table = resolved[ref]
        relation = None
        if table.remote is not None:
            relation = _remote_relation(table.remote, aliases, linked)
        views.append(View(name=view, sql=view_sql(table, ref.table, relation, linked)))
    return Plan(
        sql=sql,
        views=tuple(views),
        files=tuple(dict.fromkeys(files)),
        names={view: ref.name for ref, view in names.items()},
        attachments=tuple(aliases.values()),
    )


def _remote_relation(
    remote: RemoteTable,
    aliases: dict[tuple[str, str, str], Attachment],
    link: Callable[[str], str],
) -> str:
    """What a view of a federated table reads from; each schema of a source is attached once
    per statement under a generated alias (``src_<n>``), a table of a folder of files is read
    through the links of its files."""
    if remote.source.kind == "files":
        if remote.fmt is None or not remote.paths:
            raise LakeholdError("a table of a folder of files needs its format and files")
        return scan_sql(remote.fmt, [link(p) for p in remote.paths])
    key = (remote.source.kind, remote.source.attach_target(), remote.schema)
    if key not in aliases:
        aliases[key] = Attachment(f"src_{len(aliases) + 1}", remote.source, remote.schema)
    alias = aliases[key].alias
    return f"{alias}.{quote(remote.schema)}.{quote(remote.table)}"


def view_sql(
    table: BoundTable,
    name: str = "t",
    relation: str | None = None,
    link: Callable[[str], str] = _same,
) -> str:
    """The SELECT that defines the view of one bound table (``relation``: what a federated
    table reads from; ``link``: the path each data file is read under; see :func:`bind`)."""
    fields = list(table.schema)
    if not fields:
        raise LakeholdError(f"table {name!r} has no columns")
    if table.remote is not None:
        if relation is None:
            raise LakeholdError(f"federated table {name!r} is not bound to its source")
        base = f"SELECT {', '.join(quote(f.name) for f in fields)} FROM {relation}"
    else:
        base = _all_columns(table, fields, link)
    granted = _granted(table.columns, fields)
    if granted is None and not table.row_filter:
        return base
    projection = ", ".join(quote(c) for c in granted) if granted else "*"
    if not table.row_filter:
        return f"SELECT {projection} FROM ({base}) AS {quote(name)}"
    # The LIMIT is an optimization barrier: no predicate of the user's query may be pushed
    # below it (that would change the result), so a user's expression never sees, and cannot
    # raise an error revealing, a row the row filter hides.
    return (
        f"SELECT {projection} FROM ({base}) AS {quote(name)} "
        f"WHERE {row_filter_sql(table.row_filter)} LIMIT {_NO_LIMIT}"
    )


def _all_columns(table: BoundTable, fields: list[pa.Field], link: Callable[[str], str]) -> str:
    types = [duckdb_type(f.type) for f in fields]
    if not table.files:
        nulls = ", ".join(
            f"CAST(NULL AS {t}) AS {quote(f.name)}" for f, t in zip(fields, types, strict=True)
        )
        return f"SELECT {nulls} LIMIT 0"
    branches = []
    for key, group in _partitions(table).items():
        values = dict(key)
        columns = _columns_in(group)
        uniform = len({file_columns(local_path(f)) for f in group}) == 1
        select = []
        for f, t in zip(fields, types, strict=True):
            if f.name in values:
                value = values[f.name]
                literal = "NULL" if value is None else _string(value)
                select.append(f"CAST({literal} AS {t}) AS {quote(f.name)}")
            elif fold(f.name) in columns:
                select.append(f"CAST({quote(columns[fold(f.name)])} AS {t}) AS {quote(f.name)}")
            else:
                select.append(f"CAST(NULL AS {t}) AS {quote(f.name)}")
        paths = ", ".join(_string(link(local_path(f))) for f in group)
        options = "hive_partitioning=false" + ("" if uniform else ", union_by_name=true")
        branches.append(f"SELECT {', '.join(select)} FROM read_parquet([{paths}], {options})")
    return " UNION ALL ".join(branches)


def _partitions(table: BoundTable) -> dict[tuple[tuple[str, str | None], ...], list[str]]:
    """Files grouped by their partition values (one group when unpartitioned)."""
    if not table.partition_values:
        return {(): list(table.files)}
    groups: dict[tuple[tuple[str, str | None], ...], list[str]] = {}
    for file in table.files:
        values = tuple(sorted((table.partition_values.get(file) or {}).items()))
        groups.setdefault(values, []).append(file)
    return groups


def _columns_in(files: Sequence[str]) -> dict[str, str]:
    """Folded name -> stored name of every column some file of the group has."""
    found: dict[str, str] = {}
    for file in files:
        for column, _ in file_columns(local_path(file)):
            found.setdefault(fold(column), column)
    return found


def _granted(columns: Sequence[str] | None, fields: list[pa.Field]) -> list[str] | None:
    if columns is None:
        return None
    by_name = {fold(f.name): f.name for f in fields}
    granted = set()
    for column in columns:
        if fold(column) not in by_name:
            raise Invalid(f"granted column {column!r} is not in the table", field="columns")
        granted.add(by_name[fold(column)])
    if not granted:
        raise Invalid("no column of the table is granted", field="columns")
    return [f.name for f in fields if f.name in granted]


@lru_cache(maxsize=4096)
def row_filter_sql(row_filter: str) -> str:
    """A row filter as DuckDB SQL: one boolean expression, no subquery, allowed functions."""
    try:
        expression = sqlglot.parse_one(row_filter, read="duckdb")
    except SqlglotError:
        raise Invalid("the row filter is not a valid SQL expression", field="row_filter") from None
    if isinstance(expression, exp.Query) or any(
        isinstance(node, exp.Query | exp.Table | exp.Subquery) for node in expression.walk()
    ):
        raise Invalid("a row filter cannot contain a query", field="row_filter")
    sql = expression.sql(dialect="duckdb", comments=False)
    verify(f"SELECT 1 WHERE {sql}")
    return f"({sql})"


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
