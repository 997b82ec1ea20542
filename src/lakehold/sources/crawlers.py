"""Data sources: crawlers that import a connection's tables and views as federated assets.

A data source names a connection of its project, glob patterns of schemas and of table names
to include and exclude, and an optional cron schedule (UTC). Only owners of the project (and
administrators) manage and run data sources; non-members get NotFound, other members
Forbidden. A run records its status, counts and errors; a run on an unreachable source is
stored as failed and raises SourceUnavailable (HTTP 502). What a run changes in the catalog
is written in one transaction (:mod:`lakehold.sources.importer`).
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakehold.connectors import introspect
from lakehold.errors import Conflict, Invalid, LakeholdError, SourceUnavailable
from lakehold.kernel import Action, governed
from lakehold.names import check_sql_name
from lakehold.security.principal import Principal
from lakehold.sources.connections import (
    ConnectionService,
    command_project,
    find_connection,
    owned_project,
)
from lakehold.sources.importer import Importer
from lakehold.sources.lookup import all_named, check_name_free, find_named
from lakehold.sources.schedule import check_cron, next_run
from lakehold.sources.source_reads import discover
from lakehold.store.db import Store
from lakehold.store.models import Project, utcnow
from lakehold.store.sources import Connection, DataSource, DataSourceRun

log = logging.getLogger(__name__)

CRAWL_TIMEOUT_S = 60.0
MAX_PATTERNS, MAX_PATTERN = 50, 200


@dataclass(frozen=True)
class DataSourceView:
    id: str
    project: str
    name: str
    connection: str
    description: str | None
    schemas: list[str]
    include: list[str]
    exclude: list[str]
    schedule: str | None
    enabled: bool
    last_run_at: datetime | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, session: Session, source: DataSource) -> DataSourceView:
        project = session.get(Project, source.project_id)
        connection = session.get(Connection, source.connection_id)
        return cls(
            source.id,
            project.name if project else "",
            source.name,
            connection.name if connection else "",
            source.description,
            list(source.schemas or []),
            list(source.include or []),
            list(source.exclude or []),
            source.schedule,
            source.enabled,
            source.last_run_at,
            source.next_run_at,
            source.created_at,
            source.updated_at,
        )


@dataclass(frozen=True)
class RunView:
    id: str
    data_source: str
    status: str
    trigger: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    tables_added: int
    tables_updated: int
    tables_unchanged: int
    tables_missing: int
    errors: list[dict[str, Any]]

    @classmethod
    def of(cls, run: DataSourceRun, name: str) -> RunView:
        return cls(
            run.id,
            name,
            run.status,
            run.trigger,
            run.created_at,
            run.started_at,
            run.finished_at,
            run.tables_added,
            run.tables_updated,
            run.tables_unchanged,
            run.tables_missing,
            list(run.errors or []),
        )


def check_patterns(values: Any, field: str) -> list[str]:
    """A list of glob patterns; Invalid naming ``field`` otherwise."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or len(values) > MAX_PATTERNS:
        raise Invalid(f"{field} is a list of at most {MAX_PATTERNS} glob patterns", field=field)
    cleaned = []
    for value in values:
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_PATTERN:
            raise Invalid(
                f"each of {field} is a glob pattern of 1 to {MAX_PATTERN} characters", field=field
            )
        cleaned.append(value.strip())
    return list(dict.fromkeys(cleaned))


def find_data_source(session: Session, project: Project, name: str) -> DataSource:
    """The data source ``name`` of ``project``; NotFound otherwise."""
    return find_named(session, DataSource, project, name, "data source", field="data_source")


class DataSourceService:
    """Manage data sources and run them (on demand, or when due)."""

    def __init__(self, store: Store, connections: ConnectionService) -> None:
        self.store = store
        self.connections = connections
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    # -- management ----------------------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        project: str,
        name: str,
        connection: str,
        *,
        schemas: list[str] | None = None,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        schedule: str | None = None,
        enabled: bool = True,
        description: str | None = None,
    ) -> DataSourceView:
        """A data source crawling ``connection`` of ``project``."""
        details = {"data_source": name}
        with governed(
            self.store, principal, "data_source.create", project=project, details=details
        ) as command:
            session = command.session
            found = command_project(command, project, Action.DATA_SOURCE_MANAGE)
            check_sql_name("name", name)
            target = find_connection(session, found, connection)
            check_name_free(session, DataSource, found, name, "data source")
            cron = check_cron(schedule)
            source = DataSource(
                project_id=found.id,
                connection_id=target.id,
                name=name,
                description=description,
                schemas=check_patterns(schemas, "schemas"),
                include=check_patterns(include, "include"),
                exclude=check_patterns(exclude, "exclude"),
                schedule=cron,
                enabled=bool(enabled),
                next_run_at=next_run(cron, utcnow()) if enabled else None,
                created_by=principal.user_id,
            )
            session.add(source)
            session.flush()
            view = DataSourceView.of(session, source)
            command.project, command.details["connection"] = view.project, view.connection
            return view

    def list(self, principal: Principal, project: str) -> list[DataSourceView]:
        with self.store.session() as session:
            found = owned_project(session, principal, project, Action.DATA_SOURCE_READ)
            rows = all_named(session, DataSource, found)
            return [DataSourceView.of(session, s) for s in rows]

    def get(self, principal: Principal, project: str, name: str) -> DataSourceView:
        with self.store.session() as session:
            found = owned_project(session, principal, project, Action.DATA_SOURCE_READ)
            return DataSourceView.of(session, find_data_source(session, found, name))

    def update(
        self, principal: Principal, project: str, name: str, **changes: Any
    ) -> DataSourceView:
        """Change ``schemas``, ``include``, ``exclude``, ``schedule`` ('' removes it),
        ``enabled`` or ``description``; None leaves a field as it is."""
        unknown = set(changes) - {
            "schemas",
            "include",
            "exclude",
            "schedule",
            "enabled",
            "description",
        }
        if unknown:
            raise Invalid(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        details = {"data_source": name}
        with governed(
            self.store, principal, "data_source.update", project=project, details=details
        ) as command:
            session = command.session
            found = command_project(command, project, Action.DATA_SOURCE_MANAGE)
            source = find_data_source(session, found, name)
            for field in ("schemas", "include", "exclude"):
                if changes.get(field) is not None:
                    setattr(source, field, check_patterns(changes[field], field))
            if changes.get("schedule") is not None:
                source.schedule = check_cron(changes["schedule"])
            if changes.get("enabled") is not None:
                source.enabled = bool(changes["enabled"])
            if changes.get("description") is not None:
                source.description = changes["description"]
            source.next_run_at = next_run(source.schedule, utcnow()) if source.enabled else None
            source.updated_at = utcnow()
            view = DataSourceView.of(session, source)
            command.project, command.details["connection"] = view.project, view.connection
            return view

    def delete(self, principal: Principal, project: str, name: str) -> None:
        """Delete a data source and its runs; the assets it imported stay."""
        details = {"data_source": name}
        with governed(
            self.store, principal, "data_source.delete", project=project, details=details
        ) as command:
            session = command.session
            found = command_project(command, project, Action.DATA_SOURCE_MANAGE)
            source = find_data_source(session, found, name)
            view = DataSourceView.of(session, source)
            session.delete(source)
            session.flush()
            command.project, command.details["connection"] = view.project, view.connection

    def runs(
        self, principal: Principal, project: str, name: str, *, limit: int = 20
    ) -> builtins.list[RunView]:
        """The latest runs of a data source, newest first."""
        with self.store.session() as session:
            found = owned_project(session, principal, project, Action.DATA_SOURCE_READ)
            source = find_data_source(session, found, name)
            rows = session.scalars(
                select(DataSourceRun)
                .where(DataSourceRun.data_source_id == source.id)
                .order_by(DataSourceRun.created_at.desc(), DataSourceRun.id)
                .limit(max(1, min(limit, 1000)))
            )
            return [RunView.of(r, name) for r in rows]

    # -- running -------------------------------------------------------------------------------

    def run(self, principal: Principal, project: str, name: str) -> RunView:
        """Crawl a data source now; SourceUnavailable (after the failed run is stored) when
        its connection cannot be reached."""
        # decided (and audited) in a short transaction; the crawl reaches the source outside
        # it, and its outcome is stored on the run
        details = {"data_source": name}
        with governed(
            self.store, principal, "data_source.run", project=project, details=details
        ) as command:
            found = command_project(command, project, Action.DATA_SOURCE_RUN)
            source_id = find_data_source(command.session, found, name).id
        view, error = self._crawl(source_id, "manual", principal)
        if error is not None:
            if isinstance(error, SourceUnavailable):
                raise SourceUnavailable(
                    f"data source '{name}' run failed: {error.message}", run=view.id
                )
            raise error
        return view

    def run_due(self, now: datetime | None = None) -> int:
        """Run every enabled data source whose ``next_run_at`` has come; how many ran."""
        now = now or datetime.now(UTC)
        with self.store.session() as session:
            due = session.execute(
                select(DataSource.id, DataSource.schedule, DataSource.next_run_at).where(
                    DataSource.enabled.is_(True),
                    DataSource.next_run_at.is_not(None),
                    DataSource.next_run_at <= now,
                )
            ).all()
        count = 0
        for source_id, schedule, planned in due:
            assert planned is not None  # selected where next_run_at IS NOT NULL
            if self._claim(source_id, planned, next_run(schedule, now)):
                self._crawl(source_id, "schedule", None)
                count += 1
        return count

    def _claim(self, source_id: str, planned: datetime, following: datetime | None) -> bool:
        """Move ``next_run_at`` on, unless another process already did (compare-and-set)."""
        with self.store.session() as session:
            result = session.execute(
                update(DataSource)
                .where(DataSource.id == source_id, DataSource.next_run_at == planned)
                .values(next_run_at=following)
                .execution_options(synchronize_session=False)
            )
            assert isinstance(result, CursorResult)  # an UPDATE's result has a rowcount
            return result.rowcount == 1

    def _crawl(
        self, source_id: str, trigger: str, principal: Principal | None
    ) -> tuple[RunView, LakeholdError | None]:
        """Run a crawl; the run, and the error it failed with (stored on the run)."""
        with self._locks[source_id]:
            with self.store.session() as session:
                source = session.get(DataSource, source_id)
                assert source is not None  # found just before (a concurrent delete fails the crawl)
                name = source.name
                run = DataSourceRun(
                    data_source_id=source_id,
                    status="running",
                    trigger=trigger,
                    created_by=principal.user_id if principal else None,
                    started_at=utcnow(),
                )
                session.add(run)
                session.flush()
                run_id, user_id = run.id, principal.user_id if principal else source.created_by
                patterns = (list(source.schemas), list(source.include), list(source.exclude))
                connection_id = source.connection_id
            try:
                spec = self.connections.spec(connection_id)
                found = discover(self.connections, spec, patterns, CRAWL_TIMEOUT_S)
                return self._finish(run_id, name, user_id, found), None
            except LakeholdError as error:
                log.warning("data source %s run %s failed: %s", name, run_id, error.message)
                return self._fail(run_id, name, error.message), error
            except IntegrityError:  # another process imported the same tables meanwhile
                conflict = Conflict(f"data source '{name}' ran concurrently; run it again")
                return self._fail(run_id, name, conflict.message), conflict
            except Exception as error:  # stored on the run, then reported as a bug
                self._fail(run_id, name, f"internal error ({type(error).__name__})")
                raise

    def _finish(self, run_id: str, name: str, user_id: str, found: introspect.Discovery) -> RunView:
        now = utcnow()
        with self.store.session() as session:
            run = session.get(DataSourceRun, run_id)
            assert run is not None  # stored by _crawl (a concurrent delete fails the crawl)
            source = session.get(DataSource, run.data_source_id)
            assert source is not None  # the run's source (its runs cascade with it)
            connection = session.get(Connection, source.connection_id)
            assert connection is not None  # the source's connection (sources cascade with it)
            counts = Importer(session, source, connection, user_id).apply(found.tables, now)
            run.status = "succeeded"
            run.finished_at = now
            run.tables_added, run.tables_updated = counts.added, counts.updated
            run.tables_unchanged, run.tables_missing = counts.unchanged, counts.missing
            run.errors = found.errors
            source.last_run_at = now
            return RunView.of(run, name)

    def _fail(self, run_id: str, name: str, message: str) -> RunView:
        with self.store.session() as session:
            run = session.get(DataSourceRun, run_id)
            assert run is not None  # stored by _crawl (a concurrent delete fails the crawl)
            run.status, run.finished_at = "failed", utcnow()
            run.errors = [{"message": message}]
            source = session.get(DataSource, run.data_source_id)
            assert source is not None  # the run's source (its runs cascade with it)
            source.last_run_at = run.finished_at
            return RunView.of(run, name)
