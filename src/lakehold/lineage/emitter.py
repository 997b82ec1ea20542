"""OpenLineage run events for the jobs Lakehold runs itself: table writes, CTAS, sync jobs.

Every job run is a START event, then COMPLETE (with the output's schema and statistics), FAIL
(with an ``errorMessage`` run facet; the error still propagates) or ABORT (cancelled). Names
come from :mod:`lakehold.lineage.naming`: datasets ``<project>.<table>`` and jobs
``<project>.<operation>.<table>`` in the Lakehold namespace.

Recording lineage never breaks the job: when building or recording an event fails, a warning
is logged and the job goes on. A run started inside another run writing the same table (the
table write inside a CTAS or a sync job) is folded into the outer run: one job wrote the table.

Entry points:

- :func:`recorded_write` -- decorator of the :class:`~lakehold.catalog.tables.TableService`
  writes (create and load, append, overwrite, merge, CDC merge). A table write is short and
  committed in one transaction, so its START is recorded together with its outcome (after the
  commit, with its own start time); a refused write (``Forbidden``, ``NotFound``, an invalid
  name or mode) is not a run and records nothing.
- :meth:`LineageEmitter.wrap_ctas` -- wraps the work of a ``CREATE TABLE ... AS SELECT``:
  inputs are its source tables, with the ``sql`` job facet and ``columnLineage``.
- :meth:`LineageEmitter.emit_sync` -- for sync jobs (see its docstring).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlparse
from urllib.request import url2pathname

import pyarrow as pa
import sqlglot

from lakehold import __version__
from lakehold.errors import Cancelled, Forbidden, Invalid, NotFound
from lakehold.lakehouse.results import WriteResult
from lakehold.lineage.column_lineage import SCHEMA_URL as COLUMN_LINEAGE_URL
from lakehold.lineage.column_lineage import column_lineage
from lakehold.lineage.locations import logical_uri, scrub_text
from lakehold.lineage.naming import dataset_name, job_name
from lakehold.query.arrow_types import duckdb_type
from lakehold.query.model import BoundTable, TableRef

log = logging.getLogger(__name__)

PRODUCER = f"https://github.com/lakehold/lakehold/{__version__}"
RUN_EVENT_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets"
_SCHEMA_URLS = {
    "jobType": f"{_FACETS}/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "sql": f"{_FACETS}/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet",
    "schema": f"{_FACETS}/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "dataSource": f"{_FACETS}/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet",
    "columnLineage": f"{COLUMN_LINEAGE_URL}#/$defs/ColumnLineageDatasetFacet",
    "outputStatistics": (
        f"{_FACETS}/1-0-2/OutputStatisticsOutputDatasetFacet.json"
        "#/$defs/OutputStatisticsOutputDatasetFacet"
    ),
    "errorMessage": f"{_FACETS}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
}
_EXACT_SIZE = frozenset({"CREATE", "OVERWRITE"})
"""Writes whose output is the whole table: the table's size is the size written."""

_REFUSED_FIELDS = frozenset({"project", "table", "name", "mode"})
"""Invalid arguments checked before a write begins (the write is refused, it does not run)."""

T = TypeVar("T")


class Recorder(Protocol):
    """Where events go: :meth:`lakehold.lineage.service.LineageService.record`."""

    def record(self, events: list[dict[str, Any]]) -> int: ...


def facet(kind: str, /, **fields: Any) -> dict[str, Any]:
    """An OpenLineage facet of ``kind`` (e.g. ``schema``) with its producer and schema URL."""
    return {"_producer": PRODUCER, "_schemaURL": _SCHEMA_URLS[kind], **fields}


def schema_facet(schema: pa.Schema) -> dict[str, Any]:
    """The ``schema`` dataset facet of an Arrow schema (DuckDB type names)."""
    fields = [{"name": f.name, "type": duckdb_type(f.type)} for f in schema]
    return facet("schema", fields=fields)


@dataclass(frozen=True)
class InputDataset:
    """An input of a run: a dataset (``namespace``/``name``) and, when known, its schema."""

    namespace: str
    name: str
    schema: pa.Schema | None = None

    def as_dict(self) -> dict[str, Any]:
        facets = {"schema": schema_facet(self.schema)} if self.schema is not None else {}
        return {"namespace": self.namespace, "name": self.name, "facets": facets}


@dataclass
class JobRun:
    """One run in progress; the job reports what it wrote with :meth:`wrote`."""

    project: str
    table: str
    operation: str
    job_type: str
    inputs: Sequence[InputDataset] = ()
    sql: str | None = None
    column_lineage: dict[str, Any] | None = None
    location: str | None = None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    schema: pa.Schema | None = None
    row_count: int | None = None
    size: int | None = None

    def wrote(self, result: WriteResult) -> None:
        """Record the outcome of a table write: the schema after it, rows and bytes written."""
        self.schema = result.snapshot.schema
        self.row_count = (self.row_count or 0) + result.rows_inserted + result.rows_updated
        if result.operation in _EXACT_SIZE:
            self.size = result.snapshot.size_bytes


_active: contextvars.ContextVar[JobRun | None] = contextvars.ContextVar(
    "lakehold_lineage_run", default=None
)


class LineageEmitter:
    """Builds and records the run events of Lakehold's own jobs in ``namespace``."""

    def __init__(self, recorder: Recorder, namespace: str) -> None:
        self.recorder = recorder
        self.namespace = namespace

    # -- runs -----------------------------------------------------------------------------------

    @contextmanager
    def run(self, current: JobRun, *, defer_start: bool = False) -> Iterator[JobRun]:
        """START ``current``, run the body, then COMPLETE, FAIL or ABORT it.

        Inside a run writing the same table, yields that run instead and records nothing.
        With ``defer_start`` the START is recorded with the outcome, and a refusal records
        nothing."""
        outer = _active.get()
        if outer is not None and (outer.project, outer.table) == (current.project, current.table):
            yield outer
            return
        token = _active.set(current)
        pending = [self._safe_event("START", current)]
        if not defer_start:
            self._record(pending)
            pending = []
        try:
            yield current
        except BaseException as error:
            if not (defer_start and _is_refusal(error)):
                kind = "ABORT" if isinstance(error, Cancelled) else "FAIL"
                self._record([*pending, self._safe_event(kind, current, error)])
            raise
        else:
            self._record([*pending, self._safe_event("COMPLETE", current)])
        finally:
            _active.reset(token)

    def table_write(
        self, project: str, table: str, operation: str, location: str | None = None
    ) -> AbstractContextManager[JobRun]:
        """The run of one table write (deferred START, see the module docstring)."""
        current = JobRun(project, table, operation, "WRITE", location=location)
        return self.run(current, defer_start=True)

    def wrap_ctas(
        self,
        sql: str,
        dialect: str,
        target: TableRef,
        sources: Mapping[TableRef, BoundTable],
        work: Callable[..., T],
        default_project: str | None = None,
    ) -> Callable[..., T]:
        """``work`` (which runs the SELECT and creates ``target``) as one CTAS run."""
        inputs = {ref.name: _visible(bound) for ref, bound in sources.items()}

        @functools.wraps(work)
        def wrapped(*args: Any, **kwargs: Any) -> T:
            current = JobRun(
                target.project,
                target.table,
                "ctas",
                "CTAS",
                inputs=[InputDataset(self.namespace, n, s) for n, s in inputs.items()],
                sql=sql,
                column_lineage=self._column_lineage(sql, dialect, inputs, default_project),
            )
            with self.run(current):
                return work(*args, **kwargs)

        return wrapped

    def emit_sync(
        self,
        project: str,
        table: str,
        *,
        source_namespace: str,
        source_name: str,
        source_schema: pa.Schema | None = None,
        location: str | None = None,
    ) -> AbstractContextManager[JobRun]:
        """The run of a sync job copying an external dataset into ``project.table``.

        ``source_namespace``/``source_name`` name the external dataset the OpenLineage way
        (e.g. ``postgres://db.example.com:5432`` and ``shop.public.orders``). Use as::

            with emitter.emit_sync("sales", "orders", source_namespace=..., source_name=...) as run:
                outcome = table_service.write(...)  # folded into this run
                run.wrote(outcome.result)  # only needed when not written through TableService
        """
        source = InputDataset(source_namespace, source_name, source_schema)
        current = JobRun(project, table, "sync", "SYNC", inputs=[source], location=location)
        return self.run(current)

    # -- events ---------------------------------------------------------------------------------

    def _record(self, events: list[dict[str, Any] | None]) -> None:
        built = [e for e in events if e is not None]
        try:
            if built:
                self.recorder.record(built)
        except Exception:
            log.warning("could not record lineage events", exc_info=True)

    def _safe_event(
        self, kind: str, current: JobRun, error: BaseException | None = None
    ) -> dict[str, Any] | None:
        try:
            return self._event(kind, current, error)
        except Exception:
            log.warning("could not build a lineage event", exc_info=True)
            return None

    def _event(
        self, kind: str, current: JobRun, error: BaseException | None = None
    ) -> dict[str, Any]:
        run_facets: dict[str, Any] = {}
        if error is not None:
            message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            message = _without_location(str(message), current)
            run_facets["errorMessage"] = facet(
                "errorMessage", message=message, programmingLanguage="PYTHON"
            )
        job_facets = {
            "jobType": facet(
                "jobType", processingType="BATCH", integration="LAKEHOLD", jobType=current.job_type
            )
        }
        if current.sql is not None:
            job_facets["sql"] = facet("sql", query=current.sql)
        when = current.started if kind == "START" else datetime.now(UTC)
        return {
            "eventType": kind,
            "eventTime": when.isoformat().replace("+00:00", "Z"),
            "run": {"runId": current.run_id, "facets": run_facets},
            "job": {
                "namespace": self.namespace,
                "name": job_name(current.project, current.operation, current.table),
                "facets": job_facets,
            },
            "inputs": [i.as_dict() for i in current.inputs],
            "outputs": [self._output(kind, current)],
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT_URL,
        }

    def _output(self, kind: str, current: JobRun) -> dict[str, Any]:
        source = {"name": self.namespace, **({"uri": current.location} if current.location else {})}
        facets: dict[str, Any] = {"dataSource": facet("dataSource", **source)}
        if current.schema is not None:
            facets["schema"] = schema_facet(current.schema)
        if current.column_lineage is not None:
            facets["columnLineage"] = facet("columnLineage", **current.column_lineage)
        output: dict[str, Any] = {
            "namespace": self.namespace,
            "name": dataset_name(current.project, current.table),
            "facets": facets,
        }
        if kind == "COMPLETE" and current.row_count is not None:
            statistics = {"rowCount": current.row_count}
            if current.size is not None:
                statistics["size"] = current.size
            output["outputFacets"] = {"outputStatistics": facet("outputStatistics", **statistics)}
        return output

    def _column_lineage(
        self,
        sql: str,
        dialect: str,
        inputs: Mapping[str, pa.Schema],
        default_project: str | None,
    ) -> dict[str, Any] | None:
        try:
            return column_lineage(
                sql,
                {name: schema.names for name, schema in inputs.items()},
                namespace=self.namespace,
                dialect=dialect,
                default_project=default_project,
            )
        except (sqlglot.errors.SqlglotError, ValueError, KeyError):
            log.warning("could not compute the column lineage of a CTAS", exc_info=True)
            return None


def _visible(bound: BoundTable) -> pa.Schema:
    """The columns of a bound table the statement could see (a grant may narrow them)."""
    if bound.columns is None:
        return bound.schema
    granted = {c.lower() for c in bound.columns}
    return pa.schema([f for f in bound.schema if f.name.lower() in granted])


def _location(tables: Any, project: str, table: str) -> str | None:
    """The storage URI of a table, when its name is valid."""
    try:
        return Path(tables.path_for(project, table)).resolve().as_uri()
    except Invalid:
        return None


def _without_location(message: str, current: JobRun) -> str:
    """An error message without the table's storage location (ADR 0015): whoever may see the
    run may not be an owner of the table, so the logical name stands in for it."""
    if not current.location:
        return message
    locations = [current.location]
    if current.location.startswith("file://"):
        locations.append(url2pathname(urlparse(current.location).path))
    return scrub_text(message, locations, logical_uri(current.project, current.table))


def _is_refusal(error: BaseException) -> bool:
    """A request refused before the job began: not a run of the job."""
    if isinstance(error, Forbidden | NotFound):
        return True
    return isinstance(error, Invalid) and error.details.get("field") in _REFUSED_FIELDS


def recorded_write(operation: str | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a ``TableService`` write ``(self, principal, project, name, data, ...)`` so
    that it is one lineage run of ``self.lineage`` (when set); ``operation`` defaults to the
    ``mode`` argument. The method returns an outcome with a ``result`` (WriteResult)."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
            emitter: LineageEmitter | None = getattr(self, "lineage", None)
            if emitter is None:
                return method(self, *args, **kwargs)
            bound = signature.bind(self, *args, **kwargs).arguments
            project, name = bound["project"], bound["name"]
            with emitter.table_write(
                project, name, operation or bound["mode"], _location(self.tables, project, name)
            ) as current:
                outcome = method(self, *args, **kwargs)
                current.wrote(outcome.result)  # type: ignore[attr-defined]
                return outcome

        return wrapper

    return decorate
