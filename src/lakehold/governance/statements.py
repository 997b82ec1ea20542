"""Governed statements: resolve every table to an asset the principal may read, then run it.

The engine (``lakehold.query``) parses and sandboxes; this service decides what each table
reference may see and records every statement. A table the principal may not read is reported
exactly like a table that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.config import Settings
from lakehold.errors import Conflict, LakeholdError, NotFound
from lakehold.governance import policy
from lakehold.lakehouse.tables import DeltaTables
from lakehold.query import BoundTable, PreparedQuery, TableRef, prepare, run
from lakehold.query.results import read_page
from lakehold.query.statements import CancelHandle, StatementRunner, StatementUpdate
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import Asset, Project, Statement, utcnow

FINAL = frozenset({"FINISHED", "FAILED", "ABORTED"})


@dataclass(frozen=True)
class StatementView:
    id: str
    status: str
    sql: str
    project: str | None
    dialect: str
    assets: list[str]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    result_rows: int | None
    result_size_bytes: int | None
    truncated: bool
    has_result_set: bool
    error: str | None

    @classmethod
    def of(cls, row: Statement, project: str | None) -> StatementView:
        duration = None
        if row.started_at and row.ended_at:
            duration = int((row.ended_at - row.started_at).total_seconds() * 1000)
        return cls(
            id=row.id,
            status=row.status,
            sql=row.sql,
            project=project,
            dialect=row.dialect,
            assets=list(row.assets or []),
            created_at=row.created_at,
            started_at=row.started_at,
            ended_at=row.ended_at,
            duration_ms=duration,
            result_rows=row.result_rows,
            result_size_bytes=row.result_size_bytes,
            truncated=row.truncated,
            has_result_set=row.status == "FINISHED",
            error=row.error,
        )


@dataclass(frozen=True)
class ExecutedStatement:
    """A synchronous statement: its record and its rows."""

    statement: StatementView
    table: pa.Table
    truncated: bool


@dataclass(frozen=True)
class ResultPage:
    table: pa.Table
    total_rows: int
    next_offset: int | None
    truncated: bool


@dataclass(frozen=True)
class _Planned:
    prepared: PreparedQuery
    resolved: dict[TableRef, BoundTable]
    assets: list[str]
    project_id: str | None


class StatementService:
    """Submit, describe, fetch and cancel governed statements."""

    def __init__(
        self, store: Store, tables: DeltaTables, runner: StatementRunner, settings: Settings
    ) -> None:
        self.store = store
        self.tables = tables
        self.runner = runner
        self.settings = settings

    # -- planning -----------------------------------------------------------------------------

    def _readable_asset(self, session: Session, principal: Principal, ref: TableRef) -> Asset:
        hidden = NotFound(f"table '{ref.project}.{ref.table}' not found")
        project = session.scalar(select(Project).where(Project.name == ref.project))
        if project is None or policy.project_role(session, principal, project) is None:
            raise hidden
        asset = session.scalar(
            select(Asset).where(Asset.project_id == project.id, Asset.name == ref.table)
        )
        if asset is None:
            raise hidden
        return asset

    def _plan(self, principal: Principal, sql: str, project: str | None, dialect: str) -> _Planned:
        prepared = prepare(sql, dialect=dialect, default_project=project)
        resolved: dict[TableRef, BoundTable] = {}
        with self.store.session() as session:
            project_id = None
            if project is not None:
                found = session.scalar(select(Project).where(Project.name == project))
                if found is None or policy.project_role(session, principal, found) is None:
                    raise NotFound(f"project '{project}' not found", field="project")
                project_id = found.id
            for ref in prepared.table_refs:
                asset = self._readable_asset(session, principal, ref)
                # The catalog's current version is the latest committed through Lakehold.
                pinned = asset.current_version if ref.timestamp is None else None
                snapshot = self.tables.snapshot(
                    Path(asset.storage_path),
                    version=ref.version if ref.version is not None else pinned,
                    timestamp=ref.timestamp,
                )
                resolved[ref] = BoundTable(files=snapshot.files, schema=snapshot.schema)
        assets = sorted({f"{r.project}.{r.table}" for r in prepared.table_refs})
        return _Planned(prepared, resolved, assets, project_id)

    def _work(self, planned: _Planned, limit: int | None, timeout_seconds: float | None):
        settings = self.settings
        max_rows = min(limit or settings.max_rows, settings.max_rows)
        timeout = min(
            timeout_seconds or settings.statement_timeout_seconds,
            settings.statement_timeout_seconds,
        )

        def work(cancel: CancelHandle | None = None):
            return run(
                planned.prepared,
                planned.resolved,
                max_rows=max_rows,
                timeout_s=timeout,
                threads=settings.engine_threads,
                memory_limit=settings.engine_memory_limit,
                cancel=cancel,
            )

        return work

    def _record(
        self, principal: Principal, sql: str, dialect: str, planned: _Planned, **fields: object
    ) -> str:
        with self.store.session() as session:
            row = Statement(
                user_id=principal.user_id,
                project_id=planned.project_id,
                sql=sql,
                dialect=dialect,
                assets=planned.assets,
                **fields,
            )
            session.add(row)
            session.flush()
            return row.id

    def _set(self, statement_id: str, **fields: object) -> None:
        """Write changed fields of a statement record."""
        with self.store.session() as session:
            row = session.get(Statement, statement_id)
            if row is not None:
                for name, value in fields.items():
                    setattr(row, name, value)

    def _on_update(self, statement_id: str, update: StatementUpdate) -> None:
        """Persist a state change reported by the runner (SUBMITTED is already recorded)."""
        if update.state == "SUBMITTED":
            return
        fields = {
            name: getattr(update, name)
            for name in ("started_at", "ended_at", "result_rows", "result_size_bytes", "error")
            if getattr(update, name) is not None
        }
        self._set(statement_id, status=str(update.state), truncated=update.truncated, **fields)

    # -- public -------------------------------------------------------------------------------

    def submit(
        self,
        principal: Principal,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        timeout_seconds: float | None = None,
    ) -> StatementView:
        """Validate and resolve now; run in the background. Returns the statement record."""
        planned = self._plan(principal, sql, project, dialect)
        statement_id = self._record(principal, sql, dialect, planned)
        work = self._work(planned, None, timeout_seconds)
        self.runner.submit(statement_id, work, self._on_update)
        return self.describe(principal, statement_id)

    def execute(
        self,
        principal: Principal,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        limit: int | None = None,
        timeout_seconds: float | None = None,
    ) -> ExecutedStatement:
        """Run a statement and wait for it; the row limit defaults to the sync limit."""
        planned = self._plan(principal, sql, project, dialect)
        statement_id = self._record(
            principal, sql, dialect, planned, status="STARTED", started_at=utcnow()
        )
        try:
            result = self._work(planned, limit or self.settings.sync_row_limit, timeout_seconds)()
        except LakeholdError as error:
            self._set(statement_id, status="FAILED", ended_at=utcnow(), error=error.message)
            raise
        self._set(
            statement_id,
            status="FINISHED",
            ended_at=utcnow(),
            result_rows=result.table.num_rows,
            result_size_bytes=result.table.nbytes,
            truncated=result.truncated,
        )
        return ExecutedStatement(
            self.describe(principal, statement_id), result.table, result.truncated
        )

    def _owned(self, session: Session, principal: Principal, statement_id: str) -> Statement:
        row = session.get(Statement, statement_id)
        if row is None or not (principal.is_admin or row.user_id == principal.user_id):
            raise NotFound(f"statement '{statement_id}' not found")
        return row

    def describe(self, principal: Principal, statement_id: str) -> StatementView:
        """Status, timings, row count and error of one of the principal's statements."""
        with self.store.session() as session:
            row = self._owned(session, principal, statement_id)
            project = session.get(Project, row.project_id).name if row.project_id else None
            return StatementView.of(row, project)

    def list_statements(self, principal: Principal, *, limit: int = 50) -> list[StatementView]:
        """The principal's recent statements, newest first."""
        with self.store.session() as session:
            query = select(Statement).order_by(Statement.created_at.desc()).limit(limit)
            if not principal.is_admin:
                query = query.where(Statement.user_id == principal.user_id)
            names = dict(session.execute(select(Project.id, Project.name)).all())
            return [StatementView.of(r, names.get(r.project_id)) for r in session.scalars(query)]

    def result(
        self, principal: Principal, statement_id: str, *, offset: int = 0, limit: int = 1000
    ) -> ResultPage:
        """One page of a finished statement's result."""
        view = self.describe(principal, statement_id)
        if view.status != "FINISHED":
            raise Conflict(
                f"statement '{statement_id}' is {view.status}; results exist once FINISHED",
                status=view.status,
            )
        path = self.runner.result_path(statement_id)
        if not path.exists():
            raise NotFound(f"the result of statement '{statement_id}' has expired")
        page = read_page(path, offset, limit)
        total = view.result_rows or 0
        next_offset = offset + page.num_rows if offset + page.num_rows < total else None
        return ResultPage(page, total, next_offset, view.truncated)

    def cancel(self, principal: Principal, statement_id: str) -> StatementView:
        """Cancel a statement that has not finished."""
        view = self.describe(principal, statement_id)
        if view.status in FINAL:
            raise Conflict(f"statement '{statement_id}' is already {view.status}")
        self.runner.cancel(statement_id)
        return self.describe(principal, statement_id)
