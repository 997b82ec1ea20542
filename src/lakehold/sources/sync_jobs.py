"""Sync jobs: copy a table or query of a project's connection into a lakehouse table.

A job reads one connection of its project and writes one table of the same project: a full
run overwrites the target (or creates it), so rows gone from the source go from the target;
an incremental run reads the rows whose watermark is above the last one and applies them as
one CDC merge on the key columns through :class:`TableService` (the asset's columns, counts
and search document stay current). Rows failing a check go to ``<target>_errors``. A
``delta_sharing`` connection's job reads a shared table (``share.schema.table``) by its
version (:mod:`lakehold.connectors.shared_tables`; :mod:`lakehold.sources.source_reads` picks
the reader by kind).

Exactly-once by idempotence. The watermark advances only in the metadata transaction that
records the run as succeeded, after the target's Delta commit. A crash between the two leaves
the old watermark, so the next run reads the same changes again (plus newer ones) and merges
them again; a merge on keys is idempotent: an upsert of a row already stored rewrites nothing
(rows are rewritten only when a value differs), a delete of an absent key deletes nothing, and
each key carries only its latest change. So nothing is lost (the watermark never runs ahead of
the target) and nothing is duplicated (keys are unique in the target). The error table is an
append-only log: after such a crash it may hold a rejected row twice, with two run ids.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.service import readable_project
from lakehold.catalog.tables import DataSource, TableService, WriteMode
from lakehold.connectors.attach import ConnectionSpec
from lakehold.connectors.sync_engine import OPERATION, Progress, SyncBatch, SyncDefinition
from lakehold.errors import Conflict, Invalid, LakeholdError, NotFound
from lakehold.kernel import Action, audit, governed
from lakehold.lakehouse.results import WriteResult
from lakehold.lineage.naming import source_dataset
from lakehold.names import check_sql_name
from lakehold.observability import instruments, tracing
from lakehold.security.principal import Principal
from lakehold.sources.connections import ConnectionService, command_project, owned_project
from lakehold.sources.lookup import all_named, check_name_free, find_named
from lakehold.sources.schedule import next_run
from lakehold.sources.source_reads import read, validate
from lakehold.sources.sync_fields import (
    ERRORS_SUFFIX,
    READS_SOURCE,
    RESETS_WATERMARK,
    check_changes,
    check_fields,
    definition_of,
    fields_of,
)
from lakehold.sources.sync_views import SyncJobView, SyncRunView
from lakehold.store.db import Store
from lakehold.store.models import Asset, Project, User, as_utc, utcnow
from lakehold.store.sync import SyncJob, SyncRun

log = logging.getLogger("lakehold.sync")


@dataclass(frozen=True)
class _Plan:
    """What one run needs, read from the job before any I/O."""

    job_id: str
    name: str
    project: str
    target: str
    connection_id: str
    definition: SyncDefinition
    watermark: str | None


@dataclass(frozen=True)
class _Outcome:
    batch: SyncBatch
    result: WriteResult | None


def find_job(session: Session, project: Project, name: str) -> SyncJob:
    """The sync job ``name`` of ``project``; NotFound otherwise."""
    return find_named(session, SyncJob, project, name, "sync job", field="name")


class SyncJobService:
    """Create, change, run and schedule sync jobs; their run history."""

    def __init__(
        self, store: Store, table_service: TableService, connections: ConnectionService
    ) -> None:
        self.store = store
        self.table_service = table_service
        self.connections = connections
        self._running: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    # -- jobs ---------------------------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        project: str,
        name: str,
        *,
        connection: str,
        target_table: str,
        source_table: str | None = None,
        source_query: str | None = None,
        mode: str = "incremental",
        watermark_column: str | None = None,
        key_columns: list[str] | None = None,
        delete_column: str | None = None,
        operation_column: str | None = None,
        not_null_columns: list[str] | None = None,
        schedule: str | None = None,
        description: str | None = None,
    ) -> SyncJobView:
        """A new job; its columns are checked against the source (which must be reachable)."""
        details = {"sync_job": name}
        with governed(
            self.store, principal, "sync_job.create", project=project, details=details
        ) as command:
            session = command.session
            found = command_project(command, project, Action.SYNC_JOB_MANAGE)
            check_sql_name("name", name)
            check_name_free(session, SyncJob, found, name, "sync job")
            job = SyncJob(project_id=found.id, name=name, created_by=principal.user_id)
            self._apply(
                session,
                found,
                job,
                {
                    "description": description,
                    "connection": connection,
                    "source_table": source_table,
                    "source_query": source_query,
                    "target_table": target_table,
                    "mode": mode,
                    "watermark_column": watermark_column,
                    "key_columns": key_columns or [],
                    "delete_column": delete_column,
                    "operation_column": operation_column,
                    "not_null_columns": not_null_columns or [],
                    "schedule": schedule,
                },
            )
            session.add(job)
            session.flush()
            command.details.update(target=job.target_table, mode=job.mode)
            return SyncJobView.of(session, job)

    def list(self, principal: Principal, project: str) -> list[SyncJobView]:
        """The project's sync jobs (members)."""
        with self.store.session() as session:
            found = readable_project(session, principal, project)
            jobs = all_named(session, SyncJob, found)
            return [SyncJobView.of(session, job) for job in jobs]

    def get(self, principal: Principal, project: str, name: str) -> SyncJobView:
        """One sync job (members)."""
        with self.store.session() as session:
            found = readable_project(session, principal, project)
            return SyncJobView.of(session, find_job(session, found, name))

    def update(
        self, principal: Principal, project: str, name: str, changes: dict[str, Any]
    ) -> SyncJobView:
        """Change the given fields (a None value clears an optional one). Giving a source table
        clears the query and the other way round; changing the connection, the source or the
        watermark column forgets the last watermark (the next run reads everything)."""
        completed = check_changes(changes)
        details = {"sync_job": name, "fields": sorted(changes)}
        with governed(
            self.store, principal, "sync_job.update", project=project, details=details
        ) as command:
            session = command.session
            found = command_project(command, project, Action.SYNC_JOB_MANAGE)
            job = find_job(session, found, name)
            current = fields_of(session, job)
            merged = {**current, **completed}
            if merged == current:
                return SyncJobView.of(session, job)
            reset = any(merged[f] != current[f] for f in RESETS_WATERMARK)
            source_changed = any(merged[f] != current[f] for f in READS_SOURCE)
            self._apply(session, found, job, merged, check_source=source_changed)
            if reset:
                job.last_watermark = None
            job.updated_at = utcnow()
            return SyncJobView.of(session, job)

    def delete(self, principal: Principal, project: str, name: str) -> None:
        """Delete a job and its run history; the target table stays."""
        details = {"sync_job": name}
        with governed(
            self.store, principal, "sync_job.delete", project=project, details=details
        ) as command:
            found = command_project(command, project, Action.SYNC_JOB_MANAGE)
            job = find_job(command.session, found, name)
            if self._running[job.id].locked():
                raise Conflict(f"sync job '{project}.{name}' is running", field="name")
            command.session.delete(job)

    def runs(
        self, principal: Principal, project: str, name: str, limit: int = 50
    ) -> builtins.list[SyncRunView]:
        """The job's runs, newest first (members)."""
        if limit < 1:
            raise Invalid("limit must be at least 1", field="limit")
        with self.store.session() as session:
            job = find_job(session, readable_project(session, principal, project), name)
            rows = session.scalars(
                select(SyncRun)
                .where(SyncRun.job_id == job.id)
                .order_by(SyncRun.started_at.desc(), SyncRun.id)
                .limit(limit)
            )
            return [SyncRunView.of(session, run, job.name) for run in rows]

    def _apply(
        self,
        session: Session,
        project: Project,
        job: SyncJob,
        values: dict[str, Any],
        *,
        check_source: bool = True,
    ) -> None:
        """Check ``values`` (every editable field) and set them on ``job``; with
        ``check_source`` the source is read (``LIMIT 0``) to check the named columns."""
        checked = check_fields(session, project, job, values)
        if check_source:
            spec = self.connections.spec(checked.connection.id)
            validate(self.connections, spec, checked.definition)
        checked.apply_to(job)

    # -- runs ---------------------------------------------------------------------------------

    @tracing.spanned("lakehold.sync.run", SyncRunView.span_attributes)
    def run(
        self,
        principal: Principal,
        project: str,
        name: str,
        *,
        progress: Progress | None = None,
        trigger: str = "manual",
    ) -> SyncRunView:
        """Run the job now and return the recorded run. A failed run is recorded too (status
        failed, error message) and its error raised: SourceUnavailable when the source is down;
        the watermark then stays where it was."""
        # not governed(): the run reads the source and writes the target outside any
        # transaction, and its allowed record carries the outcome (run, rows, target), written
        # with the watermark by _succeed; the refusals of the decision are audited here
        details = {"sync_job": name}
        with audit.denials(self.store, principal, "sync_job.run", project=project, details=details):
            with self.store.session() as session:
                found = owned_project(session, principal, project, Action.SYNC_JOB_MANAGE)
                job_id = find_job(session, found, name).id
            lock = self._running[job_id]
            if not lock.acquire(blocking=False):
                raise Conflict(f"sync job '{project}.{name}' is already running", field="name")
        try:
            plan, run_id = self._start(principal, job_id, trigger)
            started = time.monotonic()
            try:
                outcome = self._execute(principal, plan, run_id, progress)
                view = self._succeed(principal, plan, run_id, outcome, started)
                instruments.sync_run(plan.project, True, outcome.batch.rows.num_rows)
                return view
            except Exception as error:
                self._fail(run_id, error, started)
                instruments.sync_run(plan.project, False)
                if isinstance(error, LakeholdError):
                    raise
                raise LakeholdError(f"sync job '{project}.{name}' failed: {error}") from error
        finally:
            lock.release()

    def run_due(self, now: datetime | None = None) -> builtins.list[SyncRunView]:
        """Run every scheduled job whose time has come, as its creator; each job's next time
        is claimed first (row lock on PostgreSQL), so two schedulers never run one job twice.
        A failing job is logged and recorded; the others still run."""
        runs = []
        for principal, project, name in self._claim_due(now or utcnow()):
            try:
                runs.append(self.run(principal, project, name, trigger="schedule"))
            except LakeholdError as error:
                log.warning("scheduled sync job %s.%s failed: %s", project, name, error.message)
        return runs

    def _claim_due(self, now: datetime) -> builtins.list[tuple[Principal, str, str]]:
        now = as_utc(now) or utcnow()
        due = []
        with self.store.session() as session:
            jobs = session.scalars(
                select(SyncJob)
                .where(SyncJob.schedule.is_not(None))
                .with_for_update(skip_locked=True)
            ).all()
            for job in jobs:
                planned = as_utc(job.next_run_at)
                if planned is not None and planned > now:
                    continue
                job.next_run_at = next_run(job.schedule, now)
                if planned is None:  # never planned: plan only
                    continue
                user = session.get(User, job.created_by)
                project = session.get(Project, job.project_id)
                if user is None or project is None:
                    continue
                principal = Principal(user.id, user.username, user.is_admin)
                due.append((principal, project.name, job.name))
        return due

    def _start(self, principal: Principal, job_id: str, trigger: str) -> tuple[_Plan, str]:
        """Record the run as running; the plan is read in the same transaction."""
        with self.store.session() as session:
            job = session.get(SyncJob, job_id)
            if job is None:
                raise NotFound("the sync job was deleted", field="name")
            project = session.get(Project, job.project_id)
            assert project is not None  # the job's project (jobs cascade with it)
            run = SyncRun(
                job_id=job.id,
                mode=job.mode,
                trigger=trigger,
                run_by=principal.user_id,
                watermark_before=job.last_watermark,
            )
            session.add(run)
            session.flush()
            plan = _Plan(
                job.id,
                job.name,
                project.name,
                job.target_table,
                job.connection_id,
                definition_of(job),
                job.last_watermark,
            )
            return plan, run.id

    def _execute(
        self, principal: Principal, plan: _Plan, run_id: str, progress: Progress | None
    ) -> _Outcome:
        """Read the source, write the target, then the rejected rows."""
        spec = self.connections.spec(plan.connection_id)
        batch = read(self.connections, spec, plan.definition, plan.watermark, progress)
        result = self._write_target_with_lineage(principal, plan, batch, spec)
        if batch.rejected.num_rows:
            rejected = _error_rows(batch.rejected, run_id)
            self._write_table(principal, plan.project, plan.target + ERRORS_SUFFIX, rejected)
        return _Outcome(batch, result)

    def _write_target_with_lineage(
        self, principal: Principal, plan: _Plan, batch: SyncBatch, spec: ConnectionSpec
    ) -> WriteResult | None:
        """The target write, recorded as one OpenLineage run of job ``<project>.sync.<table>``
        reading the source object (the write inside it folds into it)."""
        emitter = self.table_service.lineage
        if emitter is None:
            return self._write_target(principal, plan, batch)
        namespace, name = source_dataset(spec.kind, spec.params, plan.definition.source_table)
        with emitter.emit_sync(
            plan.project, plan.target, source_namespace=namespace, source_name=name
        ):
            return self._write_target(principal, plan, batch)

    def _write_target(
        self, principal: Principal, plan: _Plan, batch: SyncBatch
    ) -> WriteResult | None:
        keys = list(plan.definition.key_columns) or None
        if not self._exists(plan.project, plan.target):
            upserts = batch.as_cdc().filter(pc.not_equal(batch.operations, "D"))
            return self.table_service.create_table(
                principal,
                plan.project,
                plan.target,
                DataSource(upserts.drop_columns([OPERATION])),
                keys=keys,
                description=f"Synchronized by sync job '{plan.name}'",
            ).result
        if plan.definition.mode == "full" or batch.replace:
            return self._write_table(principal, plan.project, plan.target, batch.rows, "overwrite")
        if batch.rows.num_rows == 0:
            return None
        return self.table_service.write(
            principal,
            plan.project,
            plan.target,
            DataSource(batch.as_cdc()),
            mode="cdc",
            keys=keys,
            op_column=OPERATION,
        ).result

    def _write_table(
        self,
        principal: Principal,
        project: str,
        name: str,
        rows: pa.Table,
        mode: WriteMode = "append",
    ) -> WriteResult:
        """Write ``rows`` to table ``name`` (appending or overwriting), creating it if needed."""
        if not self._exists(project, name):
            return self.table_service.create_table(
                principal, project, name, DataSource(rows)
            ).result
        return self.table_service.write(
            principal,
            project,
            name,
            DataSource(rows),
            mode=mode,
        ).result

    def _exists(self, project: str, table: str) -> bool:
        with self.store.session() as session:
            return (
                session.scalar(
                    select(Asset.id)
                    .join(Project, Project.id == Asset.project_id)
                    .where(Project.name == project, Asset.name == table)
                )
                is not None
            )

    def _succeed(
        self, principal: Principal, plan: _Plan, run_id: str, outcome: _Outcome, started: float
    ) -> SyncRunView:
        """Record the run as succeeded and advance the watermark, in one transaction."""
        batch, result = outcome.batch, outcome.result
        with self.store.session() as session:
            run = session.get(SyncRun, run_id)
            assert run is not None, "the sync run was deleted"  # with its job, mid-run
            job = session.get(SyncJob, plan.job_id)
            run.status = "succeeded"
            run.rows_read, run.rows_rejected = batch.rows_read, batch.rejected.num_rows
            if result is not None:
                run.rows_inserted = result.rows_inserted
                run.rows_updated = result.rows_updated
                run.rows_deleted = result.rows_deleted
                run.table_version = result.version
            run.watermark_after = batch.watermark
            _finish(run, started)
            if job is not None:
                job.last_watermark = batch.watermark
            audit.record(
                session,
                principal,
                "sync_job.run",
                allowed=True,
                project=plan.project,
                assets=[f"{plan.project}.{plan.target}"],
                details={"run": run_id, "rows_read": run.rows_read, "rejected": run.rows_rejected},
            )
            return SyncRunView.of(session, run, job.name if job else "")

    def _fail(self, run_id: str, error: Exception, started: float) -> None:
        message = (
            error.message
            if isinstance(error, LakeholdError)
            else f"{type(error).__name__}: {error}"
        )
        with self.store.session() as session:
            run = session.get(SyncRun, run_id)
            if run is not None:
                run.status, run.error = "failed", message[:4000]
                _finish(run, started)


def _finish(run: SyncRun, started: float) -> None:
    run.finished_at = utcnow()
    run.duration_seconds = round(time.monotonic() - started, 3)


def _error_rows(rejected: pa.Table, run_id: str) -> pa.Table:
    """Rejected rows with the run that rejected them and when."""
    now = pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC"))
    count = rejected.num_rows
    return rejected.append_column(
        "_sync_run_id", pa.repeat(pa.scalar(run_id), count)
    ).append_column("_rejected_at", pa.repeat(now, count))
