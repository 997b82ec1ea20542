"""Filtered snapshots: a recipient's own Delta table holding only the granted columns and rows
of a source table, kept in step with it commit by commit (ADR 39).

Semantics of :func:`refresh`:

- The first call creates the snapshot at source version ``up_to``: one commit holding the
  filtered copy of every data file of that version.
- A later call applies each source commit after the last one applied, up to ``up_to``, in
  order: one snapshot commit per source commit that changed the snapshot's files, recording
  the source version (``lakehold.sourceVersion`` in its commit metadata, and a Delta ``txn``
  action of the app id ``lakehold.filtered-snapshot``). A refresh that stops half-way (a
  crash) resumes after the last commit it made; running it again changes nothing.
  Concurrent refreshes of one target are serialised by a file lock beside it.
- File by file: each source data file maps to at most one snapshot file, named by a hash of
  the source path (and of the spec and schema, the *generation*), so removing a source
  file removes its copy without a mapping table. The filter is row-local, so copies of the
  files a commit added and removes of the copies of those it removed are exactly the
  commit's effect on the granted rows. A copy without rows is not written. A source commit
  whose files leave the snapshot's files as they were (it added only rows that are not
  granted) makes no snapshot commit.
- A source commit that changes the snapshot's schema (a new column when every column is
  granted, a type change) is a rebuild: one commit replacing every file by the copies of the
  new version, with the new schema. A spec whose columns or row filter changed rebuilds at
  ``up_to``. A new source column never appears when the granted columns are listed. A full
  overwrite of the source is, file by file, the same: every copy removed, the new ones added.
- Change data feed: the change data files of a source commit (``_change_data``, written when
  the table has ``delta.enableChangeDataFeed``) are copied, filtered and with
  ``_change_type``, to ``_lakehold_cdc/<hash>.parquet`` under the snapshot, and listed in the
  commit's metadata (``lakehold.cdc``); :func:`~lakehold.lakehouse.delta_log.commit_actions`
  returns them as the commit's ``cdc``. With the table's keys (Lakehold's merges record
  them), an update that moves a row out of the granted rows is a ``delete`` and one that moves
  it in an ``insert``. When none of a change commit's changes is granted, the snapshot commit's
  files are marked ``dataChange=false``: the granted rows did not change.
- Removed copies stay on disk (older snapshot versions and change queries read them) until
  :func:`vacuum` deletes those older than its retention. :func:`remove` deletes the whole
  snapshot. Time travel on the snapshot is Delta's own;
  :func:`source_versions` maps its versions to the source versions they reflect.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.lakehouse.delta_log import (
    SNAPSHOT_CDC,
    CommitActions,
    FileAction,
    commit_actions,
    log_versions,
)
from lakehold.lakehouse.filtered_copies import Copier, Projection, SourceFile, partition_row
from lakehold.lakehouse.history import COMMITTER, KEYS, OPERATION
from lakehold.lakehouse.reading import arrow_schema

APP_ID = "lakehold.filtered-snapshot"
"""The Delta ``txn`` app id whose version is the last source version applied."""
SOURCE_VERSION = "lakehold.sourceVersion"
"""Commit metadata: the source version a snapshot commit reflects."""
SPEC = "lakehold.snapshotSpec"
"""Commit metadata: the granted columns and row filter the snapshot was made with."""
CDC_FOLDER = "_lakehold_cdc"
"""The snapshot's folder of filtered change data files (outside the Delta log)."""
_PROGRESS = "_lakehold_progress.json"
_ENGINE = "lakehold.filtered-snapshots"


@dataclass(frozen=True)
class SnapshotSpec:
    """A filtered snapshot to keep: which table, where, and what of it is granted."""

    source: Path
    """The source Delta table (an asset's storage path)."""
    target: Path
    """Where this recipient's filtered copy lives."""
    columns: tuple[str, ...] | None
    """The granted columns; None grants every column, present and future."""
    row_filter: str | None
    """A validated DuckDB boolean expression over the source's columns; None grants every row."""


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did."""

    source_version: int
    """The source version the snapshot now reflects."""
    version: int
    """The snapshot's version."""
    commits: int
    """Snapshot commits made."""
    files_added: int
    files_removed: int
    rows_written: int
    """Rows in the data files written (change data files not counted)."""


def refresh(spec: SnapshotSpec, *, up_to: int) -> RefreshResult:
    """Bring the snapshot of ``spec`` to source version ``up_to`` (see the module's text).

    Invalid (field ``up_to``) if the source has no such version, (field ``columns``) if no
    granted column is in the source or a listed one is unknown when the snapshot is created,
    (field ``row_filter``) if the filter does not apply to the source's columns."""
    source, target = Path(spec.source).absolute(), Path(spec.target).absolute()
    spec = SnapshotSpec(source, target, spec.columns, spec.row_filter)
    versions = log_versions(source)
    if not versions or not 0 <= up_to <= versions[-1]:
        raise Invalid(f"the source table has no version {up_to}", field="up_to")
    with _locked(target):
        return _Refresh(spec).run(up_to)


def source_versions(target: Path) -> dict[int, int]:
    """Each snapshot version (whose commit is still in its log) -> the source version it
    reflects."""
    table = _open(Path(target).absolute())
    if table is None:
        raise NotFound("the filtered snapshot does not exist")
    return {
        int(commit["version"]): int(commit[SOURCE_VERSION])
        for commit in table.history()
        if commit.get(SOURCE_VERSION) is not None
    }


def source_version(target: Path) -> int | None:
    """The source version the snapshot reflects (None if there is no snapshot): the last
    source commit applied, or a later one whose commits changed nothing granted."""
    target = Path(target).absolute()
    table = _open(target)
    return None if table is None else _applied(target, table, _spec_of(target, table))


def vacuum(target: Path, retention_hours: int) -> int:
    """Delete the snapshot's data files that no version younger than ``retention_hours`` needs
    (copies its refreshes removed); how many. Delta's own rule picks them (a dry-run vacuum);
    they are deleted here, under the snapshot's lock, without a commit: the snapshot's versions
    stay those of its refreshes. Older versions can no longer be read."""
    target = Path(target).absolute()
    with _locked(target):
        table = _open(target)
        if table is None:
            return 0
        removable = table.vacuum(
            retention_hours=retention_hours, dry_run=True, enforce_retention_duration=False
        )
        deleted, root = 0, target.resolve()
        for name in removable:
            path = _absolute(target, str(name))
            if root not in path.resolve().parents:
                continue  # never outside the snapshot
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted += 1
    return deleted


def remove(target: Path) -> None:
    """Delete the snapshot, its history and its change files (nothing if there is none)."""
    target = Path(target).absolute()
    with _locked(target, release=True):
        shutil.rmtree(target, ignore_errors=True)


# -- one refresh ------------------------------------------------------------------------------


@dataclass
class _Counts:
    commits: int = 0
    files_added: int = 0
    files_removed: int = 0
    rows_written: int = 0


@dataclass
class _State:
    """The snapshot as the refresh goes: its table, the source version applied, its Delta
    schema (JSON) and its active files (path -> size)."""

    table: DeltaTable
    applied: int
    schema: str
    active: dict[str, int] = field(default_factory=dict)


_Source = tuple[str, SourceFile, bool]
"""A source data file to copy: its log path, the file, and its action's ``dataChange``."""


class _Refresh:
    def __init__(self, spec: SnapshotSpec) -> None:
        self.spec = spec
        self.key = _spec_key(spec)
        self.counts = _Counts()

    def run(self, up_to: int) -> RefreshResult:
        target = self.spec.target
        table = _open(target)
        if table is None:
            state = self._create(up_to)
        else:
            applied = _applied(target, table, self.key)
            state = _State(table, applied, table.schema().to_json(), _active_files(table))
            if _spec_of(target, table) != self.key:
                self._sync(state, max(up_to, state.applied), new_spec=True)
            elif up_to > state.applied:
                self._advance(state, up_to)
        self._save_progress(state)
        return RefreshResult(
            source_version=state.applied,
            version=state.table.version(),
            commits=self.counts.commits,
            files_added=self.counts.files_added,
            files_removed=self.counts.files_removed,
            rows_written=self.counts.rows_written,
        )

    # -- the snapshot's creation and rebuilds -----------------------------------------------

    def _create(self, version: int) -> _State:
        source = DeltaTable(str(self.spec.source), version=version)
        projection = self._projection(source, creating=True)
        adds = self._copies(projection, _active_sources(source))
        schema = DeltaSchema.from_arrow(projection.copy_schema)
        self.spec.target.mkdir(parents=True, exist_ok=True)
        create_table_with_add_actions(
            str(self.spec.target),
            schema,
            adds,
            mode="error",
            commit_properties=self._commit(version, "CREATE"),
        )
        self._counted(adds, removed=0)
        table = DeltaTable(str(self.spec.target))
        return _State(table, version, schema.to_json(), {a.path: a.size for a in adds})

    def _sync(self, state: _State, version: int, *, new_spec: bool = False) -> None:
        """Make the snapshot the filtered copy of source ``version`` in one commit: with a
        new spec or schema every file is replaced (a rebuild), else only the files that
        differ are removed and added (after the log of commits to apply was cleaned up)."""
        source = DeltaTable(str(self.spec.source), version=version)
        projection = self._projection(source)
        schema = _delta_schema(projection)
        generation = _generation(self.key, projection)
        sources = _active_sources(source)
        if new_spec or schema != state.schema:
            adds = self._copies(projection, sources)
            self._write(state, version, adds, [], "REBUILD", schema=schema)
            return
        wanted = {_copy_name(generation, source[0]): source for source in sources}
        adds = self._copies(projection, [s for n, s in wanted.items() if n not in state.active])
        removes = [
            _remove(n, state.active[n], True) for n in sorted(state.active) if n not in wanted
        ]
        self._write(state, version, adds, removes, "SYNC")

    # -- applying source commits --------------------------------------------------------------

    def _advance(self, state: _State, up_to: int) -> None:
        try:
            source = DeltaTable(str(self.spec.source), version=state.applied)
        except DeltaError:  # that version's log was cleaned up: catch up at once
            self._sync(state, up_to)
            return
        projection = self._projection(source)
        for version in range(state.applied + 1, up_to + 1):
            try:
                actions = commit_actions(self.spec.source, version)
            except NotFound:  # its log entry was cleaned up: catch up at once
                self._sync(state, up_to)
                return
            if actions.metadata_changed:
                source = DeltaTable(str(self.spec.source), version=version)
                projection = self._projection(source)
                if _delta_schema(projection) != state.schema:
                    self._sync(state, version)
                    continue
            self._apply(state, projection, actions)

    def _apply(self, state: _State, projection: Projection, actions: CommitActions) -> None:
        """One source commit: copies of the files it added, removes of the copies of those it
        removed, a filtered copy of its change data; one commit if anything changed."""
        generation = _generation(self.key, projection)
        removes = []
        for action in actions.removes:
            name = _copy_name(generation, action.path)
            if name in state.active:
                removes.append(_remove(name, state.active[name], action.data_change))
        sources = [(a.path, self._source_file(a, projection), a.data_change) for a in actions.adds]
        changed = [self._source_file(a, projection) for a in actions.cdc]
        files = [s[1].path for s in sources] + [s.path for s in changed]
        with Copier(projection, files) as copier, ThreadPoolExecutor(1) as aside:
            pending = None
            if changed:  # beside the data files' copies
                pending = aside.submit(self._change_copies, copier, generation, changed, actions)
            adds = self._copies(projection, sources, copier)
            changes = pending.result() if pending is not None else []
        if changed and not changes:  # no granted row changed: its files were only rewritten
            adds = [dataclasses.replace(a, data_change=False) for a in adds]
            removes = [_remove(r.path, r.size, False) for r in removes]
        if adds or removes or changes:
            self._write(state, actions.version, adds, removes, "APPLY", changes=changes)
        state.applied = actions.version

    def _change_copies(
        self,
        copier: Copier,
        generation: str,
        sources: Sequence[SourceFile],
        actions: CommitActions,
    ) -> list[dict[str, object]]:
        """The filtered copy of the commit's change data files ``sources``, as recorded in
        the snapshot commit's metadata (none if no change is granted)."""
        keys: list[str] = json.loads(actions.info.get(KEYS) or "[]")
        paths = sorted(a.path for a in actions.cdc)
        name = f"{CDC_FOLDER}/{_copy_name(generation, chr(0).join(paths))}"
        copy = copier.copy_changes(sources, keys, self.spec.target / name)
        return [] if copy is None else [{"path": name, "size": copy.size, "rows": copy.rows}]

    # -- writing --------------------------------------------------------------------------

    def _copies(
        self, projection: Projection, sources: Sequence[_Source], copier: Copier | None = None
    ) -> list[AddAction]:
        """The add actions of the non-empty filtered copies of ``sources`` (made by
        ``copier``, else by one that may read them)."""
        if copier is None:
            with Copier(projection, [s[1].path for s in sources]) as copier:
                return self._copies(projection, sources, copier)
        generation = _generation(self.key, projection)
        names = [_copy_name(generation, path) for path, _, _ in sources]
        jobs = [
            (source, self.spec.target / name)
            for (_, source, _), name in zip(sources, names, strict=True)
        ]
        adds = []
        now = _now()
        for (_, _, data_change), name, copy in zip(
            sources, names, copier.copy_files(jobs), strict=True
        ):
            if copy is not None:
                adds.append(AddAction(name, copy.size, {}, now, data_change, copy.stats))
                self.counts.rows_written += copy.rows
        return adds

    def _write(
        self,
        state: _State,
        version: int,
        adds: list[AddAction],
        removes: list[RemoveAction],
        operation: str,
        *,
        schema: str | None = None,
        changes: list[dict[str, object]] | None = None,
    ) -> None:
        """Commit one snapshot version reflecting source ``version``; with a new ``schema``,
        the commit replaces every file (``adds`` only)."""
        extra = {SNAPSHOT_CDC: json.dumps(changes)} if changes else None
        actions: list[AddAction | RemoveAction] = [*adds, *removes]
        try:
            state.table.create_write_transaction(
                actions,
                mode="append" if schema is None else "overwrite",
                schema=DeltaSchema.from_json(schema or state.schema),
                commit_properties=self._commit(version, operation, extra),
            )
        except CommitFailedError:
            raise Conflict("another writer changed the filtered snapshot; refresh again") from None
        state.table.update_incremental()
        self._counted(adds, removed=len(state.active) if schema is not None else len(removes))
        if schema is not None:
            state.schema, state.active = schema, {}
        for remove in removes:
            state.active.pop(remove.path, None)
        state.active.update({a.path: a.size for a in adds})
        state.applied = version

    def _commit(
        self, version: int, operation: str, extra: dict[str, str] | None = None
    ) -> CommitProperties:
        metadata = {
            **(extra or {}),
            SOURCE_VERSION: str(version),
            SPEC: self.key,
            COMMITTER: _ENGINE,
            OPERATION: f"SNAPSHOT {operation}",
        }
        return CommitProperties(
            custom_metadata=metadata, app_transactions=[Transaction(APP_ID, version)]
        )

    def _counted(self, adds: Sequence[AddAction], *, removed: int) -> None:
        self.counts.commits += 1
        self.counts.files_added += len(adds)
        self.counts.files_removed += removed

    # -- helpers ------------------------------------------------------------------------------

    def _projection(self, source: DeltaTable, *, creating: bool = False) -> Projection:
        schema = arrow_schema(source)
        names = schema.names
        if self.spec.columns is None:
            columns = tuple(names)
        else:
            granted = set(self.spec.columns)
            unknown = sorted(granted - set(names))
            if creating and unknown:
                raise Invalid(f"granted column {unknown[0]!r} is not in the table", field="columns")
            columns = tuple(n for n in names if n in granted)
        if not columns:
            raise Invalid("no granted column is in the table", field="columns")
        return Projection(schema=schema, columns=columns, row_filter=self.spec.row_filter)

    def _source_file(self, action: FileAction, projection: Projection) -> SourceFile:
        return SourceFile(
            _absolute(self.spec.source, action.path),
            partition_row(projection.schema, action.partition_values),
        )

    def _save_progress(self, state: _State) -> None:
        """Remember a source version past the last commit made (its commits changed nothing
        granted), so that the next refresh does not read them again."""
        progress_file = self.spec.target / _PROGRESS
        if state.table.transaction_version(APP_ID) == state.applied:
            progress_file.unlink(missing_ok=True)
            return
        progress = {"version": state.table.version(), "spec": self.key, "applied": state.applied}
        aside = self.spec.target / f".{_PROGRESS}.tmp"
        aside.write_text(json.dumps(progress), encoding="utf-8")
        os.replace(aside, progress_file)


# -- the snapshot's state -----------------------------------------------------------------------


def _open(target: Path) -> DeltaTable | None:
    if not DeltaTable.is_deltatable(str(target)):
        return None
    return DeltaTable(str(target))


def _applied(target: Path, table: DeltaTable, key: str | None) -> int:
    """The last source version applied: the snapshot's ``txn``, or the progress file's when
    it was written at the snapshot's current version with the same spec."""
    applied = table.transaction_version(APP_ID)
    if applied is None:
        raise Invalid("the target is a Delta table that is not a filtered snapshot", field="target")
    try:
        progress = json.loads((target / _PROGRESS).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return applied
    if progress.get("version") == table.version() and progress.get("spec") == key:
        return max(applied, int(progress["applied"]))
    return applied


def _spec_of(target: Path, table: DeltaTable) -> str | None:
    """The spec the snapshot's latest commit was made with."""
    return commit_actions(target, table.version()).info.get(SPEC)


def _active_files(table: DeltaTable) -> dict[str, int]:
    adds = pa.table(table.get_add_actions(flatten=False))
    paths, sizes = adds.column("path").to_pylist(), adds.column("size_bytes").to_pylist()
    return {unquote(path): size for path, size in zip(paths, sizes, strict=True)}


def _active_sources(source: DeltaTable) -> list[_Source]:
    """The data files of the source at its loaded version."""
    adds = pa.table(source.get_add_actions(flatten=False))
    root = Path(unquote(urlparse(source.table_uri).path))
    paths = [unquote(path) for path in adds.column("path").to_pylist()]
    if "partition" not in adds.column_names:
        return [(path, SourceFile(_absolute(root, path)), True) for path in paths]
    partitions = adds.column("partition").combine_chunks()
    return [
        (path, SourceFile(_absolute(root, path), _one_row(partitions, i)), True)
        for i, path in enumerate(paths)
    ]


def _one_row(partitions: pa.StructArray, row: int) -> pa.Table:
    return pa.Table.from_struct_array(partitions.slice(row, 1))


# -- names, actions, locks ----------------------------------------------------------------------


def _spec_key(spec: SnapshotSpec) -> str:
    columns = None if spec.columns is None else list(spec.columns)
    text = json.dumps({"columns": columns, "row_filter": spec.row_filter}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _delta_schema(projection: Projection) -> str:
    return DeltaSchema.from_arrow(projection.copy_schema).to_json()


def _generation(key: str, projection: Projection) -> str:
    """What the copies' content depends on besides their source file: spec and schema."""
    return hashlib.sha256(f"{key}\0{_delta_schema(projection)}".encode()).hexdigest()[:32]


def _copy_name(generation: str, source_path: str) -> str:
    """The snapshot file holding the copy of the source file at ``source_path``."""
    digest = hashlib.sha256(f"{generation}\0{source_path}".encode()).hexdigest()[:40]
    return f"{digest}.parquet"


def _absolute(root: Path, path: str) -> Path:
    if path.startswith("file:"):
        return Path(unquote(urlparse(path).path))
    return Path(path) if os.path.isabs(path) else root / path


def _remove(path: str, size: int | None, data_change: bool) -> RemoveAction:
    return RemoveAction(path, data_change, _now(), size, {})


def _now() -> int:
    return int(time.time() * 1000)


@contextlib.contextmanager
def _locked(target: Path, *, release: bool = False) -> Iterator[None]:
    """Hold the exclusive lock of ``target`` (a file beside it); ``release`` deletes the lock
    file before letting go (a waiter then sees it replaced and locks the new one)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    while True:
        handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.fstat(handle).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(handle)
    try:
        yield
    finally:
        if release:
            lock.unlink(missing_ok=True)
        os.close(handle)
