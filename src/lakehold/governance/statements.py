"""Governed statements: resolve every table to an asset the principal may read, then run it.

The engine (``lakehold.query``) parses and sandboxes; this service asks the access decision
(:mod:`lakehold.governance.access`) what each table reference may see -- everything for members
of the table's project, the grant's columns and rows for a project acting under a grant -- and
binds it accordingly. A table the principal may not read is reported exactly like a table that
does not exist. Every statement, admitted or refused, is audited.

``CREATE TABLE project.x AS SELECT ...`` is accepted into a project where the principal is a
contributor or owner; the new table records its source assets (audit and commit metadata).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.config import Settings
from lakehold.errors import Cancelled, Conflict, Forbidden, Invalid, LakeholdError, NotFound
from lakehold.governance import statement_metrics
from lakehold.governance.binding import bind_federated, bind_lakehouse
from lakehold.governance.statement_engine import Engine, choose_statement_engine
from lakehold.governance.statement_events import StatementEvents
from lakehold.governance.statement_record import DeferredRecord
from lakehold.governance.statement_views import (
    ExecutedStatement,
    ResultPage,
    ResultStream,
    StatementView,
)
from lakehold.kernel import Action, allowed, audit
from lakehold.kernel.access import Decision, resolve_access
from lakehold.query import (
    BoundTable,
    CtasTarget,
    PreparedQuery,
    QueryResult,
    TableRef,
    prepare,
    run,
)
from lakehold.query.results import read_batches, read_page
from lakehold.query.statements import CancelHandle, StatementRunner, StatementUpdate
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import AuditEvent, Project, Statement, new_id, utcnow

if TYPE_CHECKING:
    # built on first use (a statement reading no table needs neither the lakehouse nor the
    # connections): ``lakehold sql "select 1"`` in process does not import them (ADR 26)
    from lakehold.catalog.tables import TableService
    from lakehold.cluster.routing import ClusterOptions
    from lakehold.connectors.attach import ConnectionSpec
    from lakehold.lakehouse.tables import DeltaTables
    from lakehold.sources.connections import ConnectionService

T = TypeVar("T")
log = logging.getLogger(__name__)

FINAL = frozenset({"FINISHED", "FAILED", "ABORTED"})


@dataclass(frozen=True)
class _Planned:
    prepared: PreparedQuery
    resolved: dict[TableRef, BoundTable]
    assets: list[str]
    project_id: str | None
    project: str | None = None
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)
    engine: Engine = "duckdb"
    engine_asked: bool = False
    """The request named the engine (else it was chosen by size and may fall back)."""

    @property
    def ctas(self) -> CtasTarget | None:
        return self.prepared.ctas


SOURCES_KEY = "lakehold.sources"
"""Commit metadata of a table created by CREATE TABLE ... AS SELECT: its source assets."""


@dataclass(frozen=True)
class _Result:
    table: pa.Table
    truncated: bool


class StatementService:
    """Submit, describe, fetch and cancel governed statements."""

    def __init__(
        self,
        store: Store,
        tables: DeltaTables | Callable[[], DeltaTables],
        runner: StatementRunner,
        settings: Settings,
        table_service: TableService | Callable[[], TableService] | None = None,
        connections: ConnectionService | Callable[[], ConnectionService] | None = None,
        cluster: ClusterOptions | None = None,
    ) -> None:
        """``tables``, ``table_service`` and ``connections`` may each be given as a function
        that builds it (the runtime's way): it is then built at its first use. ``cluster``:
        the Ray cluster statements may run on (ADR 40)."""
        self.store = store
        self.runner = runner
        self.settings = settings
        self.cluster = cluster
        self._tables = tables
        self._table_service = table_service
        self._connections = connections
        self.events = StatementEvents()  # state changes, to long-polls and event streams

    @cached_property
    def tables(self) -> DeltaTables:
        return _built(self._tables)

    @cached_property
    def table_service(self) -> TableService:
        if self._table_service is None:
            from lakehold.catalog.tables import TableService

            return TableService(self.store, self.tables)
        return _built(self._table_service)

    @cached_property
    def connections(self) -> ConnectionService | None:
        return None if self._connections is None else _built(self._connections)

    def _spec(self, connection_id: str) -> ConnectionSpec:
        if self.connections is None:  # pragma: no cover - the runtime always wires it
            raise LakeholdError("federated tables need the connection service")
        return self.connections.spec(connection_id)

    # -- planning -----------------------------------------------------------------------------

    @staticmethod
    def _check_ctas_target(decision: Decision, target: CtasTarget) -> None:
        """CREATE TABLE ... AS SELECT writes only into a project of which the principal is a
        contributor or owner."""
        if target.replace:
            raise Invalid("CREATE OR REPLACE TABLE is not supported", field="sql")
        project = decision.project(target.ref.project)
        if project is None or not project.at_least("contributor"):
            raise Forbidden(
                "CREATE TABLE ... AS SELECT writes only into a project where you are a "
                f"contributor or owner (not '{target.ref.project}')"
            )

    def _plan(
        self,
        principal: Principal,
        sql: str,
        project: str | None,
        dialect: str,
        *,
        allow_ctas: bool = False,
        engine: Engine | None = None,
    ) -> _Planned:
        """Parse, authorize and bind a statement and choose its engine (``engine``: the one
        asked for, else by size, ADR 40); every outcome is audited."""
        project = project if project is not None else principal.project
        refs: tuple[TableRef, ...] = ()
        try:
            prepared = prepare(sql, dialect=dialect, default_project=project, allow_ctas=allow_ctas)
            refs = prepared.table_refs
            ctas = prepared.ctas
            with self.store.reads() as session:
                decision = resolve_access(
                    session,
                    principal,
                    [(r.project, r.table) for r in refs],
                    project,
                    also=[ctas.ref.project] if ctas is not None else [],
                )
            acting = decision.project(project)
            if ctas is not None:
                self._check_ctas_target(decision, ctas)
            resolved: dict[TableRef, BoundTable] = {}
            grants: dict[str, dict[str, Any]] = {}
            for ref, access in zip(refs, decision.accesses, strict=True):
                if access.asset.source is None:
                    resolved[ref] = bind_lakehouse(self.tables, ref, access)
                else:
                    resolved[ref] = bind_federated(self.store, self._spec, ref, access)
                if access.grant_id is not None:
                    grants[ref.name] = {
                        "grant": access.grant_id,
                        "row_filter": access.row_filter_name,
                        "column_filter": access.column_filter_name,
                    }
            project_id = acting.id if acting is not None else None
            chosen = choose_statement_engine(self.cluster, prepared, resolved, engine)
        except LakeholdError as error:
            self._deny(principal, sql, project, refs, error)
            raise
        assets = sorted({r.name for r in prepared.table_refs})
        return _Planned(
            prepared, resolved, assets, project_id, project, grants, chosen, engine is not None
        )

    def _deny(
        self,
        principal: Principal,
        sql: str,
        project: str | None,
        refs: tuple[TableRef, ...],
        error: LakeholdError,
    ) -> None:
        with self.store.session() as session:
            audit.record(
                session,
                principal,
                "statement",
                allowed=False,
                reason=getattr(error, "audit_reason", None) or error.message,
                project=project,
                sql=sql,
                assets=sorted({r.name for r in refs}),
                details={"error": error.code, "message": error.message},
            )

    def _work(
        self,
        principal: Principal,
        planned: _Planned,
        limit: int | None,
        timeout_seconds: float | None,
        on_fallback: Callable[[], None] | None = None,
    ):
        """The statement's work; ``on_fallback`` is called when a statement the cluster was
        chosen for by size runs in process after all."""
        settings = self.settings
        max_rows = min(limit or settings.max_rows, settings.max_rows)
        if planned.ctas is not None:
            max_rows = settings.max_rows
        timeout = min(
            timeout_seconds or settings.statement_timeout_seconds,
            settings.statement_timeout_seconds,
        )

        def local(cancel: CancelHandle | None) -> QueryResult:
            return run(
                planned.prepared,
                planned.resolved,
                max_rows=max_rows,
                timeout_s=timeout,
                threads=settings.engine_threads,
                memory_limit=settings.engine_memory_limit,
                cancel=cancel,
                scan_root=settings.scan_path,
            )

        def work(cancel: CancelHandle | None = None):
            if planned.engine == "ray":
                result = self._on_cluster(planned, max_rows, timeout, cancel, local, on_fallback)
            else:
                result = local(cancel)
            if planned.ctas is None:
                return result
            return self._create_as(principal, planned, result.table, result.truncated)

        lineage = self.table_service.lineage if planned.ctas is not None else None
        if planned.ctas is not None and lineage is not None:
            prepared = planned.prepared
            args = (prepared.sql, prepared.dialect, planned.ctas.ref, planned.resolved, work)
            return lineage.wrap_ctas(*args, default_project=planned.project)
        return work

    def _on_cluster(
        self,
        planned: _Planned,
        max_rows: int,
        timeout: float,
        cancel: CancelHandle | None,
        local: Callable[[CancelHandle | None], QueryResult],
        on_fallback: Callable[[], None] | None,
    ) -> QueryResult:
        """Run on the Ray cluster; a statement chosen for it by size that the cluster refuses
        as it runs (its partials too large, a worker out of memory) runs in process instead."""
        from lakehold.cluster.statements import run_on_cluster

        cluster = self.cluster
        assert cluster is not None  # the engine was chosen with it
        try:
            return run_on_cluster(
                planned.prepared,
                planned.resolved,
                address=cluster.address,
                max_rows=max_rows,
                timeout_s=timeout,
                memory_limit=cluster.memory_limit,
                cancel=cancel,
                token=cluster.token,
                max_partial_bytes=cluster.max_partial_bytes,
            )
        except Invalid as refused:
            if planned.engine_asked or refused.details.get("field") != "engine":
                raise
            log.info("a statement chosen for the Ray engine runs in process: %s", refused.message)
        if on_fallback is not None:
            on_fallback()
        return local(cancel)

    def _create_as(
        self, principal: Principal, planned: _Planned, table: pa.Table, truncated: bool
    ) -> pa.Table:
        """Write the rows of a CREATE TABLE ... AS SELECT as a new asset; one summary row."""
        from lakehold.catalog.tables import DataSource

        target = planned.ctas
        assert target is not None
        name = target.ref.name
        if truncated:
            raise Invalid(
                f"the SELECT of CREATE TABLE {name} returns more than "
                f"{self.settings.max_rows} rows; nothing was written",
                field="sql",
            )
        created = True
        version = None
        try:
            outcome = self.table_service.create_table(
                principal,
                target.ref.project,
                target.ref.table,
                DataSource(table),
                commit_metadata={SOURCES_KEY: json.dumps(planned.assets)},
            )
            version = outcome.result.version
        except Conflict:
            if not target.if_not_exists:
                raise
            created = False
        with self.store.session() as session:
            audit.record(
                session,
                principal,
                "table.create_as_select",
                allowed=True,
                project=target.ref.project,
                sql=planned.prepared.sql,
                assets=[name, *planned.assets],
                details={
                    "table": name,
                    "sources": planned.assets,
                    "grants": planned.grants,
                    "created": created,
                    "rows": table.num_rows if created else 0,
                },
            )
        return pa.table(
            {
                "table": [name],
                "created": [created],
                "rows": pa.array([table.num_rows if created else 0], pa.int64()),
                "version": pa.array([version], pa.int64()),
            }
        )

    def _record(
        self, principal: Principal, sql: str, dialect: str, planned: _Planned, **fields: object
    ) -> StatementView:
        """Write a statement record and the audit of its admission, in one transaction."""
        values: dict[str, object] = {
            "user_id": principal.user_id,
            "project_id": planned.project_id,
            "sql": sql,
            "dialect": dialect,
            "assets": planned.assets,
            "runner_id": self.runner.runner_id,
            "truncated": False,
            "engine": planned.engine,
            **fields,
        }
        values.setdefault("id", new_id())
        values.setdefault("status", "SUBMITTED")
        values.setdefault("created_at", utcnow())
        admitted = audit.event(
            principal,
            "statement",
            allowed=True,
            project=planned.project,
            sql=sql,
            assets=planned.assets,
            details={
                "statement": values["id"],
                "grants": planned.grants,
                "engine": planned.engine,
                **({"create_table": planned.ctas.ref.name} if planned.ctas else {}),
            },
        )
        # Core rows, not the ORM's unit of work: this runs once per statement.
        self.store.append((Statement, values), (AuditEvent, admitted))
        return StatementView.of(
            Statement(**values), planned.project if planned.project_id else None
        )

    def _set(
        self, statement_id: str, project: str | None = None, **fields: object
    ) -> StatementView | None:
        """Write changed fields of a statement record; the record as it is now (``project``:
        the name of its project, which the caller knows). A record that already ended
        (cancelled from another process) keeps its final state."""
        with self.store.session() as session:
            row = session.get(Statement, statement_id)
            if row is None:
                return None
            if row.status in FINAL:
                return StatementView.of(row, project)
            for name, value in fields.items():
                setattr(row, name, value)
            return StatementView.of(row, project)

    def _on_update(self, statement_id: str, update: StatementUpdate) -> None:
        """Persist a state change reported by the runner (SUBMITTED is already recorded)."""
        if update.state == "SUBMITTED":
            return
        fields = {
            name: getattr(update, name)
            for name in ("started_at", "ended_at", "result_rows", "result_size_bytes", "error")
            if getattr(update, name) is not None
        }
        state = str(update.state)
        view = self._set(statement_id, status=state, truncated=update.truncated, **fields)
        if view is not None:
            self.events.publish(view)

    # -- public -------------------------------------------------------------------------------

    def submit(
        self,
        principal: Principal,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        timeout_seconds: float | None = None,
        read_only: bool = False,
        engine: Engine | None = None,
    ) -> StatementView:
        """Validate and resolve now; run in the background. Returns the statement record.
        ``read_only``: refuse CREATE TABLE ... AS SELECT too (an adapter that only reads);
        ``engine``: ``duckdb`` or ``ray`` (default: chosen by size, ADR 40)."""
        planned = self._plan(
            principal, sql, project, dialect, allow_ctas=not read_only, engine=engine
        )
        recorded = self._record(principal, sql, dialect, planned)
        self.events.submitted(principal.user_id, recorded)
        statement_id = recorded.id

        def fallback() -> None:  # it runs in process after all: its record says so
            self._set(statement_id, engine="duckdb")

        work = self._work(principal, planned, None, timeout_seconds, fallback)
        self.runner.submit(statement_id, work, statement_metrics.observed(planned, self._on_update))
        return recorded  # as submitted (it may have started since: a wait tells)

    def execute(
        self,
        principal: Principal,
        sql: str,
        *,
        project: str | None = None,
        dialect: str = "duckdb",
        limit: int | None = None,
        timeout_seconds: float | None = None,
        engine: Engine | None = None,
        cancel: CancelHandle | None = None,
    ) -> ExecutedStatement:
        """Run a statement and wait for it; the row limit defaults to the sync limit.
        ``cancel`` stops it from another thread (the client went away); it then ends ABORTED.

        Its record is written once at its end unless it runs long or creates a table
        (:mod:`lakehold.governance.statement_record`)."""
        planned = self._plan(principal, sql, project, dialect, allow_ctas=True, engine=engine)
        now = utcnow()
        started = {"id": new_id(), "status": "STARTED", "created_at": now, "started_at": now}

        def write() -> StatementView:
            return self._record(principal, sql, dialect, planned, **started)

        deferred = DeferredRecord(write) if planned.ctas is None else None
        if deferred is None:
            write()  # it creates a table: recorded before it runs

        def end(**fields: object) -> StatementView | None:
            statement_metrics.ended(planned, now, fields)
            if deferred is None or deferred.finish():
                project_name = planned.project if planned.project_id else None
                return self._set(str(started["id"]), project_name, **fields)
            return self._record(principal, sql, dialect, planned, **{**started, **fields})

        ran: dict[str, object] = {}  # engine "duckdb" when the cluster's statement fell back
        limit = limit or self.settings.sync_row_limit
        try:
            out = self._work(
                principal, planned, limit, timeout_seconds, lambda: ran.update(engine="duckdb")
            )(cancel)
        except LakeholdError as error:
            status = "ABORTED" if isinstance(error, Cancelled) else "FAILED"
            end(status=status, ended_at=utcnow(), error=error.message, **ran)
            raise
        except BaseException:
            end(status="FAILED", ended_at=utcnow(), error="internal error", **ran)
            raise
        result = _Result(out, False) if isinstance(out, pa.Table) else out
        statement_id = str(started["id"])
        view = end(
            status="FINISHED",
            ended_at=utcnow(),
            result_rows=result.table.num_rows,
            result_size_bytes=result.table.nbytes,
            truncated=result.truncated,
            **ran,
        )
        if view is None:  # pragma: no cover - a statement record is never deleted
            view = self.describe(principal, statement_id)
        return ExecutedStatement(view, result.table, result.truncated)

    def _owned(self, session: Session, principal: Principal, statement_id: str) -> Statement:
        row = session.get(Statement, statement_id)
        if row is None or not allowed(principal, Action.STATEMENT_READ, row.user_id):
            raise NotFound(f"statement '{statement_id}' not found")
        return row

    def describe(self, principal: Principal, statement_id: str) -> StatementView:
        """Status, timings, row count and error of one of the principal's statements."""
        with self.store.session() as session:
            row = self._owned(session, principal, statement_id)
            found = session.get(Project, row.project_id) if row.project_id else None
            return StatementView.of(row, found.name if found is not None else None)

    def list_statements(self, principal: Principal, *, limit: int = 50) -> list[StatementView]:
        """The principal's recent statements, newest first."""
        with self.store.session() as session:
            query = select(Statement).order_by(Statement.created_at.desc()).limit(limit)
            if not allowed(principal, Action.CATALOG_READ_ALL):
                query = query.where(Statement.user_id == principal.user_id)
            names = dict(session.execute(select(Project.id, Project.name)).all())
            return [
                StatementView.of(r, names.get(r.project_id) if r.project_id else None)
                for r in session.scalars(query)
            ]

    def result(
        self, principal: Principal, statement_id: str, *, offset: int = 0, limit: int = 1000
    ) -> ResultPage:
        """One page of a finished statement's result."""
        view, path = self._result_file(principal, statement_id)
        page = read_page(path, offset, limit)
        total = view.result_rows or 0
        next_offset = offset + page.num_rows if offset + page.num_rows < total else None
        return ResultPage(page, total, next_offset, view.truncated)

    def result_stream(
        self, principal: Principal, statement_id: str, *, max_bytes: int
    ) -> ResultStream:
        """A finished statement's whole result as record batches of about ``max_bytes`` at
        most, read from its stored file as they are consumed."""
        view, path = self._result_file(principal, statement_id)
        schema, batches = read_batches(path, max_bytes)
        return ResultStream(schema, batches, view.result_rows or 0, view.truncated)

    def _result_file(self, principal: Principal, statement_id: str) -> tuple[StatementView, Path]:
        view = self.describe(principal, statement_id)
        if view.status != "FINISHED":
            raise Conflict(
                f"statement '{statement_id}' is {view.status}; results exist once FINISHED",
                status=view.status,
            )
        path = self.runner.result_path(statement_id)
        if not path.exists():
            raise NotFound(f"the result of statement '{statement_id}' has expired")
        return view, path

    def cancel(self, principal: Principal, statement_id: str) -> StatementView:
        """Cancel a statement that has not finished."""
        view = self.describe(principal, statement_id)
        if view.status in FINAL:
            raise Conflict(f"statement '{statement_id}' is already {view.status}")
        if not self.runner.cancel(statement_id):
            self._cancel_elsewhere(principal, statement_id)
        return self.describe(principal, statement_id)

    def _cancel_elsewhere(self, principal: Principal, statement_id: str) -> None:
        """Cancel a statement this process's runner does not hold: one whose process is gone
        ends FAILED ("server restarted"); one of a live process (another API process, or a
        synchronous execution) ends ABORTED in its record, which its runner then keeps."""
        with self.store.session() as session:
            row = self._owned(session, principal, statement_id)
            if row.status in FINAL:
                return  # it ended meanwhile
            from lakehold.catalog.reconcile import SERVER_RESTARTED, statement_gone

            timeout = self.settings.statement_timeout_seconds
            if row.runner_id != self.runner.runner_id and statement_gone(row, timeout):
                row.status, row.error = "FAILED", SERVER_RESTARTED
            else:
                row.status, row.error = "ABORTED", "the statement was cancelled"
            row.ended_at = utcnow()


def _built(given: T | Callable[[], T]) -> T:
    """A collaborator given as it is, or as the function that builds it."""
    return given() if callable(given) else given
