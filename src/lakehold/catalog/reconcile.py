"""The reconciler: after a crash, bring the catalog and the warehouse back into agreement.

It runs when a serving process starts (cheap when there is nothing to do: one query per
step and one directory listing per table) and from ``lakehold doctor`` (report) and
``lakehold doctor --repair``. In order:

1. pending table intents of dead processes are finished or rolled back (:mod:`.intents`);
2. orphan table folders (a ``_delta_log`` the catalog does not know, no intent) are moved to
   ``.quarantine/<project>/<table>-<timestamp>``: never deleted;
3. assets whose catalog version lags the Delta log are refreshed from the log;
4. statements whose process is gone are marked FAILED ("server restarted");
5. the trash of finished drops is emptied.

Reports name tables as ``project.table`` and folders relative to the warehouse, never by
server paths.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lakehold import process
from lakehold.catalog import intents
from lakehold.lakehouse import folders
from lakehold.lakehouse.tables import DeltaTables
from lakehold.store.db import Store
from lakehold.store.models import Asset, Project, Statement, TableIntent, as_utc, utcnow

log = logging.getLogger(__name__)

LAKEHOUSE_TABLE = "lakehouse_table"
SERVER_RESTARTED = "server restarted"
RUNNING = ("SUBMITTED", "STARTED")


@dataclass(frozen=True)
class Finding:
    kind: str
    """intent, orphan, stale, missing, statement or trash."""
    subject: str
    action: str
    """What was done (with repair) or would be done."""


@dataclass
class ReconcileReport:
    repaired: bool
    findings: list[Finding] = field(default_factory=list)

    def add(self, kind: str, subject: str, action: str) -> None:
        self.findings.append(Finding(kind, subject, action))

    def to_dict(self) -> dict[str, Any]:
        return {"repaired": self.repaired, "findings": [asdict(f) for f in self.findings]}


def statement_gone(row: Statement, timeout_seconds: float) -> bool:
    """Whether a SUBMITTED or STARTED statement has no process running it any more."""
    age = (utcnow() - as_utc(row.created_at)).total_seconds()
    return process.gone(row.runner_id, age, timeout_seconds + 60)


class Reconciler:
    """Checks (and with ``repair`` fixes) the catalog against the warehouse."""

    def __init__(self, store: Store, tables: DeltaTables, *, statement_timeout_seconds: float):
        self.store = store
        self.tables = tables
        self.statement_timeout_seconds = statement_timeout_seconds

    def run(self, *, repair: bool) -> ReconcileReport:
        report = ReconcileReport(repaired=repair)
        for step in (self._intents, self._orphans, self._lagging, self._statements, self._trash):
            step(report, repair)
        for finding in report.findings:
            log.warning("reconcile %s %s: %s", finding.kind, finding.subject, finding.action)
        return report

    def _name(self, path: Path | str) -> str:
        return folders.relative(self.tables.root, path).replace("/", ".")

    def _intents(self, report: ReconcileReport, repair: bool) -> None:
        with self.store.session() as session:
            query = select(TableIntent).where(TableIntent.state == intents.PENDING)
            query = query.order_by(TableIntent.created_at)
            pending = [i for i in session.scalars(query) if intents.owner_gone(i)]
        for intent in pending:
            subject = self._name(intent.storage_path)
            if repair:
                report.add("intent", subject, intents.settle(self.store, self.tables, intent.id))
            else:
                report.add("intent", subject, f"would settle the interrupted {intent.kind}")

    def _explained(self, folder: Path) -> bool:
        """Whether an asset or a pending intent accounts for a table folder (asked per folder,
        after seeing it: a create records its intent before it makes the folder)."""
        project, table = folder.parent.name, folder.name
        with self.store.session() as session:
            asset = session.scalar(
                select(Asset.id)
                .join(Project, Project.id == Asset.project_id)
                .where(Asset.asset_type == LAKEHOUSE_TABLE)
                .where(
                    (Asset.storage_path == str(folder))
                    | ((Project.name == project) & (Asset.name == table))
                )
                .limit(1)
            )
            return asset is not None or bool(intents.pending_for(session, folder))

    def _orphans(self, report: ReconcileReport, repair: bool) -> None:
        for folder in folders.table_folders(self.tables.root):
            if self._explained(folder):
                continue
            subject = self._name(folder)
            if not repair:
                report.add("orphan", subject, "would move the folder to the quarantine")
                continue
            moved = folders.quarantine(self.tables.root, folder)
            self.tables.forget(folder)
            where = folders.relative(self.tables.root, moved)
            report.add("orphan", subject, f"moved the folder to {where}")

    def _lagging(self, report: ReconcileReport, repair: bool) -> None:
        with self.store.session() as session:
            rows = session.execute(
                select(Asset.id, Asset.storage_path, Asset.current_version).where(
                    Asset.asset_type == LAKEHOUSE_TABLE
                )
            ).all()
        for asset_id, path, version in rows:
            latest = folders.latest_version(Path(path))
            subject = self._name(path)
            if latest is None:
                report.add("missing", subject, "the catalog lists a table whose folder is gone")
                continue
            if version is not None and latest <= version:
                continue
            action = f"catalog at version {version}, Delta log at {latest}"
            if repair:
                snapshot = self.tables.snapshot(Path(path), version=latest)
                with self.store.session() as session:
                    asset = session.scalar(
                        select(Asset).where(Asset.id == asset_id).with_for_update()
                    )
                    if asset is not None:
                        intents.refresh_asset(asset, snapshot)
                action += f": refreshed ({snapshot.num_rows} rows)"
            report.add("stale", subject, action)

    def _statements(self, report: ReconcileReport, repair: bool) -> None:
        me = str(process.current())
        with self.store.session() as session:
            query = select(Statement).where(Statement.status.in_(RUNNING))
            for row in session.scalars(query):
                if row.runner_id == me or not statement_gone(row, self.statement_timeout_seconds):
                    continue
                if repair:
                    row.status, row.error, row.ended_at = "FAILED", SERVER_RESTARTED, utcnow()
                verb = "marked" if repair else "would mark"
                report.add("statement", row.id, f"{verb} FAILED: its process is gone")

    def _trash(self, report: ReconcileReport, repair: bool) -> None:
        trash = self.tables.root / folders.TRASH
        if not trash.is_dir():
            return
        for entry in sorted(trash.iterdir()):
            with self.store.session() as session:
                intent = session.get(TableIntent, entry.name)
                if intent is not None and intent.state == intents.PENDING:
                    continue  # a drop in progress (or one the intents step could not settle)
            if repair:
                self.tables.empty_trash(entry.name)
            report.add("trash", entry.name, "emptied" if repair else "would empty")
