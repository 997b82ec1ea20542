"""Value objects shared by the query passes: table references, bound tables, plans, results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lakehold.connectors.attach import ConnectionSpec


@dataclass(frozen=True, slots=True)
class TableRef:
    """A table as the user named it: ``project.table``, optionally at a version or timestamp.

    Unquoted identifiers are lower-cased; quoted ones are kept as written. At most one of
    ``version`` and ``timestamp`` is set (time travel).
    """

    project: str
    table: str
    version: int | None = None
    timestamp: str | None = None

    @property
    def name(self) -> str:
        """``project.table``, the name shown back to the user."""
        return f"{self.project}.{self.table}"

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name} VERSION AS OF {self.version}"
        if self.timestamp is not None:
            return f"{self.name} TIMESTAMP AS OF '{self.timestamp}'"
        return self.name


@dataclass(frozen=True, slots=True)
class CtasTarget:
    """The target of an admitted ``CREATE TABLE project.x AS SELECT ...``."""

    ref: TableRef
    replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True)
class RemoteTable:
    """A table read where it lives: ``schema.table`` of an attached database, or, for a
    folder of files (``source.kind == "files"``), the data files ``paths`` in format ``fmt``
    (``csv``, ``parquet``, ``json``), read through the statement's private links."""

    source: ConnectionSpec
    schema: str = ""
    table: str = ""
    fmt: str | None = None
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class BoundTable:
    """Storage of one table reference, supplied by the caller (the service layer).

    - ``files``: the Parquet data files of the table version to read (local paths).
    - ``schema``: the table (Delta) schema; every column comes out with this type, as NULL
      when no data file has it.
    - ``partition_values``: file -> {partition column: serialized value or None}; Delta does
      not store partition columns in the data files.
    - ``columns``: granted columns (None: all); the view exposes only these.
    - ``row_filter``: SQL boolean expression over the table's columns (None: all rows).
    - ``remote``: set for a federated table, read where it lives (``files`` is empty; the
      view selects ``schema``'s column names from the source, with the source's types).
    """

    files: Sequence[str]
    schema: pa.Schema
    partition_values: Mapping[str, Mapping[str, str | None]] | None = None
    columns: Sequence[str] | None = None
    row_filter: str | None = None
    remote: RemoteTable | None = None
    size_bytes: int = 0  # of ``files``, from the Delta log (lakehold_statement_scanned_bytes)


@dataclass(frozen=True, slots=True)
class View:
    """A view the statement reads: a generated name and the SELECT that defines it."""

    name: str
    sql: str


@dataclass(frozen=True)
class Attachment:
    """An external database a plan attaches as ``alias``: ``source``, limited to ``schema``."""

    alias: str
    source: ConnectionSpec
    schema: str | None = None


@dataclass(frozen=True)
class Plan:
    """What the executor runs: views over data files, then one statement that reads them.

    ``names`` maps generated view names back to the names the user wrote, so that
    error messages never show generated names; ``files`` is every file the views read and
    the only paths the DuckDB connection may open; ``attachments`` are the external databases
    attached read-only before the lockdown.
    """

    sql: str
    views: tuple[View, ...] = ()
    files: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class QueryResult:
    """Rows of a statement (at most ``max_rows``), whether more existed, and column metadata."""

    table: pa.Table
    truncated: bool
    columns: list[dict[str, Any]]
