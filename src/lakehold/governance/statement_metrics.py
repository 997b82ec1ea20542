"""A governed statement's end, as metrics (``lakehold_statement_*``, ADR 33).

The project is the statement's acting project when it resolved, else the one project of the
tables it read (its label capped by ``project_label``); the scanned bytes are the sizes of the
data files of the table versions it was bound to (from the Delta log, known at bind time: what
it could read, not what DuckDB's pruning left of it). An asynchronous statement reports
through its runner's updates (:func:`observed`), a synchronous one as it ends (:func:`ended`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from lakehold.observability import instruments
from lakehold.query.model import BoundTable, TableRef
from lakehold.query.statements import OnUpdate, StatementUpdate
from lakehold.store.models import utcnow

FINAL = frozenset({"FINISHED", "FAILED", "ABORTED"})


class Planned(Protocol):
    """What the statement service planned (``statements._Planned``)."""

    @property
    def project(self) -> str | None: ...
    @property
    def project_id(self) -> str | None: ...
    @property
    def resolved(self) -> Mapping[TableRef, BoundTable]: ...
    @property
    def assets(self) -> list[str]: ...
    @property
    def engine(self) -> str: ...


def _project(planned: Planned) -> str | None:
    """The acting project, else the one project every table read belongs to (an owner's
    statement over their own tables names no project), else none."""
    if planned.project_id:
        return planned.project
    owners = {name.split(".", 1)[0] for name in planned.assets}
    return owners.pop() if len(owners) == 1 else None


def _scanned(planned: Planned) -> int:
    return sum(bound.size_bytes for bound in planned.resolved.values())


def observed(planned: Planned, on_update: OnUpdate) -> OnUpdate:
    """``on_update``, recording the statement's end first (an asynchronous statement)."""

    def update(statement_id: str, change: StatementUpdate) -> None:
        if change.state in FINAL:
            ended_at = change.ended_at or utcnow()
            started = change.started_at
            instruments.statement_ended(
                _project(planned),
                str(change.state),
                queued_s=((started or ended_at) - change.submitted_at).total_seconds(),
                run_s=(ended_at - started).total_seconds() if started else None,
                rows=change.result_rows,
                scanned_bytes=_scanned(planned),
                engine=planned.engine,
            )
        on_update(statement_id, change)

    return update


def ended(planned: Planned, started_at: datetime, fields: Mapping[str, object]) -> None:
    """A synchronous statement, started at ``started_at`` (it did not wait), ended with the
    record ``fields`` (``status``, ``result_rows``)."""
    rows = fields.get("result_rows")
    instruments.statement_ended(
        _project(planned),
        str(fields["status"]),
        queued_s=0.0,
        run_s=(utcnow() - started_at).total_seconds(),
        rows=rows if isinstance(rows, int) else None,
        scanned_bytes=_scanned(planned),
        engine=str(fields.get("engine") or planned.engine),  # a fallback ran in process
    )
