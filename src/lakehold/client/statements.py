"""``client.sql(...)`` and ``client.statements``: run statements, get Arrow tables."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment
from lakehold.errors import Cancelled, LakeholdError

Engine = Literal["duckdb", "ray"]
"""Where a statement runs: in the server's process, or as DuckDB tasks on its Ray cluster."""

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from lakehold.client.transport import Response

ARROW_STREAM = "application/vnd.apache.arrow.stream"
FINISHED = {"FINISHED", "FAILED", "ABORTED"}
RUNNING = ["SUBMITTED", "STARTED"]
WAIT_SECONDS = 60.0
"""The longest long-poll the server takes."""
MAX_LIMIT = 1_000_000_000
"""The largest row limit ``POST /query`` takes; the server cuts it to its max rows."""


@dataclass
class Result:
    """A statement's rows as an Arrow table (every column, in order, repeated names kept)."""

    statement_id: str
    table: pa.Table
    truncated: bool
    """The statement hit its row limit: more rows exist."""

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()

    def to_pylist(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()


@dataclass
class CsvResult:
    """A statement's rows in CSV: a header of the column names (repeated names kept), then
    the rows."""

    data: bytes
    rows: int
    truncated: bool


def _query_in(
    sql: str,
    project: str | None,
    dialect: str,
    limit: int | None,
    timeout_seconds: float | None,
    engine: Engine | None,
) -> m.QueryIn:
    """The body of ``POST /query``."""
    return m.QueryIn(
        sql=sql,
        project=project,
        dialect=dialect,
        limit=limit,
        timeout_seconds=timeout_seconds,
        engine=engine,
    )


def _arrow(body: bytes) -> pa.Table:
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(body)).read_all()


class Statements(Resource):
    """Statements in the style of the Redshift Data API: submit, poll, page through results."""

    def execute(
        self,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        limit: int | None = None,
        timeout_seconds: float | None = None,
        engine: Engine | None = None,
    ) -> Result:
        """Run a statement and wait for its rows: up to ``limit``, or with ``limit=None`` every
        row up to the server's max rows (``LAKEHOLD_MAX_ROWS``). ``Result.truncated`` says
        that more rows exist."""
        return self.query(
            sql,
            project=project,
            dialect=dialect,
            limit=limit or MAX_LIMIT,
            timeout_seconds=timeout_seconds,
            engine=engine,
        )

    def query(
        self,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        limit: int | None = None,
        timeout_seconds: float | None = None,
        engine: Engine | None = None,
    ) -> Result:
        """``POST /query``: run a statement and wait for up to ``limit`` rows, or with
        ``limit=None`` the server's synchronous default (``LAKEHOLD_SYNC_ROW_LIMIT``)."""
        body = _query_in(sql, project, dialect, limit, timeout_seconds, engine)
        response = self._query(body, "arrow", ARROW_STREAM)
        return Result(
            statement_id=response.headers.get("x-statement-id", ""),
            table=_arrow(response.body),
            truncated=response.headers.get("x-truncated") == "true",
        )

    def query_csv(
        self,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        limit: int | None = None,
        timeout_seconds: float | None = None,
        engine: Engine | None = None,
    ) -> CsvResult:
        """As :meth:`query`, the rows as the server writes them in CSV (no Arrow here)."""
        body = _query_in(sql, project, dialect, limit, timeout_seconds, engine)
        response = self._query(body, "csv", "text/csv")
        return CsvResult(
            data=response.body,
            rows=int(response.headers.get("x-total-rows", "0")),
            truncated=response.headers.get("x-truncated") == "true",
        )

    def query_json(
        self,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        limit: int | None = None,
        timeout_seconds: float | None = None,
        row_format: Literal["objects", "arrays"] = "objects",
        engine: Engine | None = None,
    ) -> m.ResultOut:
        """As :meth:`query`, the rows as JSON values (DECIMAL as exact strings, times as ISO
        8601): objects keyed by each column's unique key, or arrays in column order."""
        body = _query_in(sql, project, dialect, limit, timeout_seconds, engine)
        response = self._query(body, "json", "application/json", row_format=row_format)
        return msgspec.json.decode(response.body, type=m.ResultOut)

    def _query(
        self, body: m.QueryIn, fmt: str, accept: str, *, row_format: str | None = None
    ) -> Response:
        return self._session.send(
            "POST",
            "/api/v1/query",
            params={"format": fmt, "row_format": row_format},
            body=_encode(body),
            content_type="application/json",
            accept=accept,
        )

    def submit(
        self,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        timeout_seconds: float | None = None,
        engine: Engine | None = None,
    ) -> m.StatementView:
        """Start a statement in the background; follow it with :meth:`wait`."""
        body = m.StatementIn(
            sql=sql,
            project=project,
            dialect=dialect,
            timeout_seconds=timeout_seconds,
            engine=engine,
        )
        return self._post("/api/v1/statements", m.StatementView, json=body)

    def describe(self, statement_id: str) -> m.StatementView:
        return self._get(f"/api/v1/statements/{segment(statement_id)}", m.StatementView)

    def list(self, *, limit: int = 50) -> list[m.StatementView]:
        """Your recent statements, newest first."""
        return self._get("/api/v1/statements", list[m.StatementView], params={"limit": limit})

    def cancel(self, statement_id: str) -> m.StatementView:
        return self._post(f"/api/v1/statements/{segment(statement_id)}/cancel", m.StatementView)

    def wait(self, statement_id: str, *, timeout: float | None = None) -> m.StatementView:
        """The statement once it has finished, failed or been aborted (or, after ``timeout``
        seconds, as it is then): long-polls the server answers when the statement ends, no
        busy polling."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WAIT_SECONDS if deadline is None else deadline - time.monotonic()
            view = self._get(
                f"/api/v1/statements/{segment(statement_id)}",
                m.StatementView,
                params={
                    "wait_seconds": max(min(left, WAIT_SECONDS), 0.001),
                    "seen_status": RUNNING,
                },
            )
            if view.status in FINISHED or (deadline is not None and time.monotonic() >= deadline):
                return view

    def run(
        self,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        timeout_seconds: float | None = None,
        engine: Engine | None = None,
    ) -> Result:
        """Submit a statement, wait for it (:meth:`wait`) and fetch every row (:meth:`result`);
        a statement that failed raises LakeholdError, one aborted Cancelled, with its error."""
        submitted = self.submit(
            sql, project=project, dialect=dialect, timeout_seconds=timeout_seconds, engine=engine
        )
        done = self.wait(submitted.id)
        if done.status != "FINISHED":
            error = Cancelled if done.status == "ABORTED" else LakeholdError
            raise error(done.error or f"statement {done.id} is {done.status}", statement=done.id)
        return self.result(submitted.id)

    def result(self, statement_id: str, *, page_rows: int = 100_000) -> Result:
        """Every row of a finished statement, fetched a page at a time as Arrow."""
        import pyarrow as pa

        tables: list[pa.Table] = []
        offset: int | None = 0
        truncated = False
        while offset is not None:
            response = self._session.send(
                "GET",
                f"/api/v1/statements/{segment(statement_id)}/result",
                params={"offset": offset, "limit": page_rows, "format": "arrow"},
                accept=ARROW_STREAM,
            )
            tables.append(_arrow(response.body))
            truncated = response.headers.get("x-truncated") == "true"
            following = response.headers.get("x-next-offset")
            offset = int(following) if following is not None else None
        return Result(statement_id, pa.concat_tables(tables), truncated)


def _encode(value: Any) -> bytes:
    return msgspec.json.encode(value)
