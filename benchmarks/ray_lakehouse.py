"""The governed TPC-H plans the Ray engine benchmark runs: built once, reused by every engine.

A Lakehold home (``--home``) holds the eight TPC-H tables of project ``tpch``; user
``analyst`` (project ``analysts``) reads them under the grant of ``benchmarks.governed_query``
(``lineitem``: row filter ``l_shipdate >= DATE '1993-01-01'``, every column but ``l_comment``).
The home is made on first use and reopened afterwards (the analyst's token is kept in it), so
the engines of both environments (``/tmp/venv-ray``, ``/tmp/venv-daft``) read the very same
Delta files through the very same grants.

Each query is planned as the service plans a statement: ``StatementService._plan`` (prepare,
access decision, Delta snapshot, grant) then ``query.plan`` (bind: one view per table over the
snapshot's files with the grant's projection and row filter under a LIMIT barrier).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lakehold.config import Settings
from lakehold.query import BoundTable, PreparedQuery, TableRef, plan
from lakehold.query.model import Plan
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.governed_query import qualified, share
from benchmarks.tpch import generate, load, queries

ROW_FILTER = "l_shipdate >= DATE '1993-01-01'"
_STATE = "ray_engines.json"


@dataclass(frozen=True)
class GovernedQuery:
    """One statement as the coordinator hands it to an engine: plain values only.

    ``tables``: view name -> the bound table (files, schema, granted columns, row filter);
    ``names``: view name -> the table's own name (``lineitem``); ``plan``: the single-process
    plan (views + statement) Lakehold's DuckDB engine runs.
    """

    number: int
    sql: str
    prepared: PreparedQuery
    resolved: Mapping[TableRef, BoundTable]
    plan: Plan

    @property
    def tables(self) -> dict[str, BoundTable]:
        return {self.prepared.view_names[r]: b for r, b in self.resolved.items()}

    @property
    def names(self) -> dict[str, str]:
        return {self.prepared.view_names[r]: r.table for r in self.resolved}


class Lakehouse:
    """A Lakehold runtime with the TPC-H tables and the analyst who reads them under a grant."""

    def __init__(self, home: Path, scale: float, data: Path) -> None:
        state = home / _STATE
        fresh = not state.exists()
        if fresh:
            home.mkdir(parents=True, exist_ok=True)
            parquet = generate(scale, data / f"sf{scale:g}")
        self.runtime = Runtime(Settings(home=home, max_rows=10_000_000))
        if fresh:
            admin = load(self.runtime, parquet)
            share(self.runtime, admin, ROW_FILTER)
            token = self.runtime.security.create_token(admin, "ray-engines", username="analyst")
            state.write_text(json.dumps({"token": token.value, "scale": scale}))
        saved = json.loads(state.read_text())
        if saved["scale"] != scale:
            raise SystemExit(f"{home} holds SF{saved['scale']:g}, not SF{scale:g}")
        self.analyst: Principal = self.runtime.security.authenticate(saved["token"]).in_project(
            "analysts"
        )

    def query(self, number: int, sql: str) -> GovernedQuery:
        """Plan ``sql`` for the analyst exactly as a governed statement is planned."""
        planned = self.runtime.statements._plan(self.analyst, qualified(sql), "analysts", "duckdb")
        return GovernedQuery(
            number,
            sql,
            planned.prepared,
            planned.resolved,
            plan(planned.prepared, planned.resolved),
        )

    def tpch(self, numbers: list[int] | None = None) -> list[GovernedQuery]:
        return [self.query(n, sql) for n, sql in queries() if numbers is None or n in numbers]

    def close(self) -> None:
        self.runtime.close()
