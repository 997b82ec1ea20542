"""Table intents: a create or drop is recorded before its Delta commit and completed with the
catalog change, so a crash between the two leaves a record a reconciler can act on.

    create: intent (pending) -> Delta commit -> asset + intent done   (one transaction)
    drop:   intent (pending) -> asset deleted + folder to trash + intent done -> trash emptied

:func:`settle` finishes or rolls back one pending intent whose process is gone: a created
table whose Delta commit exists is adopted into the catalog, else its partial folder is
removed; a drop is finished (folder and asset removed).
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold import process
from lakehold.catalog.search import index_asset
from lakehold.errors import Conflict
from lakehold.lakehouse import folders
from lakehold.lakehouse.results import Snapshot
from lakehold.lakehouse.tables import DeltaTables
from lakehold.query.arrow_types import duckdb_type
from lakehold.store.db import Store
from lakehold.store.models import Asset, AssetColumn, Project, TableIntent, as_utc, utcnow

log = logging.getLogger(__name__)

PENDING, DONE, ROLLED_BACK = "pending", "done", "rolled_back"
STALE_AFTER = timedelta(hours=1)
"""An intent of a process on another host (whose liveness this host cannot see) is taken as
abandoned after this long."""


def refresh_asset(asset: Asset, snapshot: Snapshot) -> bool:
    """Copy the technical metadata of a Delta snapshot onto the asset and its columns; False
    (nothing changed) if the asset already describes a newer version."""
    if asset.current_version is not None and snapshot.version < asset.current_version:
        return False
    existing = {c.name: c for c in asset.columns}
    kept: list[AssetColumn] = []
    for ordinal, field in enumerate(snapshot.schema):
        column = existing.get(field.name) or AssetColumn(name=field.name)
        column.data_type = duckdb_type(field.type)
        column.nullable, column.ordinal = field.nullable, ordinal
        kept.append(column)
    asset.columns = kept
    asset.row_count = snapshot.num_rows
    asset.size_bytes = snapshot.size_bytes
    asset.current_version = snapshot.version
    asset.updated_at = utcnow()
    index_asset(asset)
    return True


def begin(
    store: Store,
    kind: str,
    project: Project,
    table: str,
    path: Path,
    *,
    user_id: str | None,
    details: dict[str, Any] | None = None,
) -> str:
    """Record a pending intent (committed before anything touches the folder); its id."""
    with store.session() as session:
        intent = TableIntent(
            kind=kind,
            project_id=project.id,
            table_name=table,
            storage_path=str(path),
            state=PENDING,
            runner_id=str(process.current()),
            user_id=user_id,
            details=details or {},
        )
        session.add(intent)
        session.flush()
        return intent.id


def end(session: Session, intent_id: str, state: str) -> None:
    """Mark the intent done or rolled back (in the caller's transaction)."""
    intent = session.get(TableIntent, intent_id)
    if intent is not None and intent.state == PENDING:
        intent.state, intent.ended_at = state, utcnow()


def still_pending(session: Session, intent_id: str) -> bool:
    """Lock the intent (PostgreSQL: its row) and tell whether it is still pending, i.e. not
    settled meanwhile by a reconciler that took its process for dead."""
    query = select(TableIntent.state).where(TableIntent.id == intent_id).with_for_update()
    return session.scalar(query) == PENDING


def roll_back(store: Store, intent_id: str) -> None:
    with store.session() as session:
        end(session, intent_id, ROLLED_BACK)


def owner_gone(intent: TableIntent) -> bool:
    """True when the process that recorded the intent no longer runs (or, on another host,
    the intent is older than :data:`STALE_AFTER`)."""
    alive = process.alive(intent.runner_id)
    if alive is None:
        return utcnow() - as_utc(intent.created_at) > STALE_AFTER
    return not alive


def pending_for(session: Session, path: Path | str) -> list[TableIntent]:
    query = select(TableIntent).where(
        TableIntent.storage_path == str(path), TableIntent.state == PENDING
    )
    return list(session.scalars(query.order_by(TableIntent.created_at)))


def settle_dead(store: Store, tables: DeltaTables, path: Path, *, besides: str = "") -> None:
    """Settle the pending intents on ``path`` (other than ``besides``) whose process is gone;
    Conflict while a live process is still creating or dropping a table there."""
    with store.session() as session:
        others = [i for i in pending_for(session, path) if i.id != besides]
    for other in others:
        if not owner_gone(other):
            name = folders.relative(tables.root, path).replace("/", ".")
            raise Conflict(f"table '{name}' is being changed by another request")
        log.warning("%s", settle(store, tables, other.id))


def settle(store: Store, tables: DeltaTables, intent_id: str) -> str:
    """Finish or roll back one pending intent (its process is gone); what was done."""
    with store.session() as session:
        intent = session.get(TableIntent, intent_id, with_for_update=True)
        if intent is None or intent.state != PENDING:
            return f"intent {intent_id} was already settled"
        path = Path(intent.storage_path)
        name = f"{folders.relative(tables.root, path).replace('/', '.')}"
        if intent.kind == "drop":
            return _finish_drop(session, tables, intent, path, name)
        return _settle_create(session, tables, intent, path, name)


def _finish_drop(
    session: Session, tables: DeltaTables, intent: TableIntent, path: Path, name: str
) -> str:
    # Only the asset the drop was for: if it is gone (dropped again since), a folder now at
    # the path belongs to a newer table and stays; the old data is already in the trash.
    asset = session.get(Asset, (intent.details or {}).get("asset_id") or "")
    if asset is not None:
        session.delete(asset)
        session.flush()
        tables.move_to_trash(path, intent.id)
    end(session, intent.id, DONE)
    session.flush()
    tables.empty_trash(intent.id)
    return f"finished dropping {name}"


def _settle_create(
    session: Session, tables: DeltaTables, intent: TableIntent, path: Path, name: str
) -> str:
    asset = session.scalar(select(Asset).where(Asset.storage_path == str(path)))
    if asset is not None:  # the catalog change committed; only the intent was left
        end(session, intent.id, DONE)
        return f"{name} was already in the catalog"
    if folders.latest_version(path) is None or not _readable(tables, path):
        shutil.rmtree(path, ignore_errors=True)
        tables.forget(path)
        end(session, intent.id, ROLLED_BACK)
        return f"rolled back the create of {name} (removed its partial folder)"
    details = intent.details or {}
    snapshot = tables.snapshot(path, version=folders.latest_version(path))
    asset = Asset(
        project_id=intent.project_id,
        name=intent.table_name,
        description=details.get("description"),
        tags=list(details.get("tags") or []),
        storage_path=str(path),
        key_columns=list(details.get("keys") or []),
        created_by=intent.user_id,
        current_version=-1,
    )
    session.add(asset)
    refresh_asset(asset, snapshot)
    end(session, intent.id, DONE)
    session.flush()
    return f"adopted {name} into the catalog (version {snapshot.version})"


def _readable(tables: DeltaTables, path: Path) -> bool:
    try:
        tables.snapshot(path)
    except Exception:  # a torn first commit: nothing readable was created
        log.info("partial table folder %s is not a readable Delta table", path.name)
        return False
    return True
