"""The Delta Sharing protocol's reads, for a recipient (ADR 37): its shares, their schemas and
tables, a table's version, metadata, data files (a snapshot, at a version or a time, or the
data change files from a version) and change data feed, and the data files themselves.

Every answer is decided by the kernel (``share.read`` on the recipient's grant, see
:mod:`.served`); each query and changes call is audited (``share.query``, ``share.changes``:
who, share, table, version, allowed or denied). File URLs are signed for the grant, the table
and the file (:mod:`.file_urls`); opening one checks the grant again, the path against the
table's root and the file against the table's log.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import select

from lakehold.errors import Forbidden, Invalid, NotFound
from lakehold.governance.sharing.file_urls import FileClaim, FileSigner
from lakehold.governance.sharing.hints import skip_files
from lakehold.governance.sharing.served import ServedTable, granted_share, readable, served_table
from lakehold.governance.sharing.snapshots import SharedSnapshots
from lakehold.kernel import Action, allowed, authorize
from lakehold.kernel.audit import denials, record
from lakehold.lakehouse import delta_log
from lakehold.lakehouse.sharing_reads import TableFile, TableVersion, log_files, table_version
from lakehold.observability import instruments
from lakehold.security.principal import Principal
from lakehold.security.recipients import recipient_principal, token_refusal
from lakehold.store.db import Store
from lakehold.store.models import (
    Asset,
    Share,
    ShareGrant,
    ShareGrantTable,
    ShareTable,
)

T = TypeVar("T")
DEFAULT_PAGE = 500
MAX_PAGE = 1000
_OFFSET = re.compile(r"[0-9]{1,18}")
"""A page token's offset."""
FileKind = Literal["file", "add", "remove", "cdf"]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str | None


@dataclass(frozen=True)
class SharedShare:
    name: str
    id: str


@dataclass(frozen=True)
class SharedSchema:
    name: str
    share: str


@dataclass(frozen=True)
class SharedTable:
    name: str
    schema: str
    share: str
    share_id: str
    id: str


@dataclass(frozen=True)
class QueryRequest:
    """The body of a query (``predicateHints`` are not read: the SQL form is deprecated)."""

    version: int | None = None
    timestamp: str | None = None
    starting_version: int | None = None
    ending_version: int | None = None
    limit_hint: int | None = None
    json_predicate_hints: str | None = None


@dataclass(frozen=True)
class ChangesRequest:
    starting_version: int | None = None
    ending_version: int | None = None
    starting_timestamp: str | None = None
    ending_timestamp: str | None = None
    include_historical_metadata: bool = False


@dataclass(frozen=True)
class FileLine:
    """A data file line of an answer: ``file`` (a snapshot's), ``add``, ``remove`` or ``cdf``."""

    kind: FileKind
    file: TableFile
    version: int | None = None
    timestamp: int | None = None


@dataclass(frozen=True)
class FileScope:
    """What the files of an answer are signed for."""

    grant_id: str
    table_id: str
    snapshot: bool
    token_id: str
    """The recipient token the answer was asked with: its URLs end with it."""


@dataclass(frozen=True)
class TableAnswer:
    """A metadata, query or changes answer: the ``Delta-Table-Version`` header, the metadata
    line (with its version when the request travelled in time), the historical metadata and
    the file lines."""

    version: int
    metadata: TableVersion
    scope: FileScope
    metadata_version: bool = False
    historical: list[TableVersion] = field(default_factory=list)
    lines: list[FileLine] = field(default_factory=list)
    change_data_feed: bool = False
    """The source table records its changes (a filtered snapshot's own metadata does not
    carry the property: the source's says it)."""


class SharingReads:
    """The recipient's side of Delta Sharing."""

    def __init__(self, store: Store, snapshots: SharedSnapshots, signer: FileSigner) -> None:
        self.store = store
        self.snapshots = snapshots
        self.signer = signer

    # -- shares, schemas, tables -------------------------------------------------------------

    def list_shares(
        self, principal: Principal, max_results: int | None, page_token: str | None
    ) -> Page[SharedShare]:
        """The shares the recipient holds an approved grant of."""
        with self.store.session() as session:
            rows = session.execute(
                select(Share, ShareGrant)
                .join(ShareGrant, ShareGrant.share_id == Share.id)
                .where(ShareGrant.recipient_id == principal.recipient)
                .where(ShareGrant.status == "approved")
                .order_by(Share.name)
            ).all()
            shares = [
                SharedShare(s.name, s.id)
                for s, grant in rows
                if allowed(principal, Action.SHARE_READ, grant, session=session)
            ]
        return _page(shares, max_results, page_token)

    def get_share(self, principal: Principal, share: str) -> SharedShare:
        with self.store.session() as session:
            found, _ = granted_share(session, principal, share)
            return SharedShare(found.name, found.id)

    def list_schemas(
        self, principal: Principal, share: str, max_results: int | None, page_token: str | None
    ) -> Page[SharedSchema]:
        tables = self._tables(principal, share)
        names = sorted({t.schema for t in tables})
        return _page([SharedSchema(n, tables[0].share) for n in names], max_results, page_token)

    def list_tables(
        self,
        principal: Principal,
        share: str,
        schema: str | None,
        max_results: int | None,
        page_token: str | None,
    ) -> Page[SharedTable]:
        """The tables of a schema of the share (``schema`` None: of every schema)."""
        tables = self._tables(principal, share)
        if schema is not None:
            tables = [t for t in tables if t.schema == schema.lower()]
            if not tables:
                raise NotFound(f"schema '{share}.{schema}' not found")
        return _page(tables, max_results, page_token)

    def _tables(self, principal: Principal, share: str) -> list[SharedTable]:
        with self.store.session() as session:
            found, _ = granted_share(session, principal, share)
            rows = session.scalars(
                select(ShareTable)
                .where(ShareTable.share_id == found.id)
                .order_by(ShareTable.schema_name, ShareTable.name)
            )
            return [SharedTable(t.name, t.schema_name, found.name, found.id, t.id) for t in rows]

    # -- a table -----------------------------------------------------------------------------

    def table_version(
        self,
        principal: Principal,
        share: str,
        schema: str,
        table: str,
        starting_timestamp: str | None = None,
    ) -> int:
        """The table's newest version, or the first at or after ``starting_timestamp``."""
        with self._serving(principal, share, schema, table) as (_, root, latest):
            if starting_timestamp is None:
                return latest
            return _at_or_after(root, _millis(starting_timestamp, "startingTimestamp"), latest)

    def metadata(
        self,
        principal: Principal,
        share: str,
        schema: str,
        table: str,
        *,
        version: int | None = None,
        timestamp: str | None = None,
    ) -> TableAnswer:
        """The table's protocol and metadata at its newest version (or one travelled to)."""
        with self._serving(principal, share, schema, table) as (served, root, latest):
            at = _snapshot_version(root, latest, version, timestamp)
            return TableAnswer(
                at,
                table_version(root, at),
                _scope(served, principal),
                metadata_version=at != latest,
                change_data_feed=_change_data_feed(served),
            )

    def query(
        self, principal: Principal, share: str, schema: str, table: str, request: QueryRequest
    ) -> TableAnswer:
        """The files of a snapshot of the table (its newest version, one at a version or a
        time), or the data change files from ``starting_version``. Audited."""
        with (
            self._audited(principal, "share.query", share, schema, table) as audit,
            self._serving(principal, share, schema, table) as (served, root, latest),
        ):
            audit.served = served
            if request.starting_version is not None:
                if request.version is not None or request.timestamp is not None:
                    raise Invalid(
                        "give startingVersion, or version or timestamp, not both",
                        field="startingVersion",
                    )
                answer = self._from_version(served, root, latest, request, principal)
            else:
                answer = self._snapshot(served, root, latest, request, principal)
            audit.details.update(version=answer.version, files=len(answer.lines))
        instruments.share_read("query", served.project)
        return answer

    def _snapshot(
        self,
        served: ServedTable,
        root: Path,
        latest: int,
        request: QueryRequest,
        principal: Principal,
    ) -> TableAnswer:
        at = _snapshot_version(root, latest, request.version, request.timestamp)
        state = table_version(root, at)
        files = skip_files(state.files, request.json_predicate_hints, request.limit_hint)
        travelled = request.version is not None or request.timestamp is not None
        lines = [
            FileLine(
                "file",
                f,
                version=at if travelled else None,
                timestamp=state.timestamp_ms if travelled else None,
            )
            for f in files
        ]
        return TableAnswer(
            at,
            state,
            _scope(served, principal),
            metadata_version=travelled,
            lines=lines,
            change_data_feed=_change_data_feed(served),
        )

    def _from_version(
        self,
        served: ServedTable,
        root: Path,
        latest: int,
        request: QueryRequest,
        principal: Principal,
    ) -> TableAnswer:
        start = _version_param(request.starting_version, "startingVersion")
        if start > latest:
            raise Invalid(
                f"startingVersion {start} is after the table's latest version {latest}",
                field="startingVersion",
            )
        end = latest
        if request.ending_version is not None:
            end = min(_version_param(request.ending_version, "endingVersion"), latest)
            if end < start:
                raise Invalid("endingVersion is before startingVersion", field="endingVersion")
        lines, historical = _changes(root, start, end, cdf=False, historical=True)
        return TableAnswer(
            start,
            table_version(root, start),
            _scope(served, principal),
            metadata_version=True,
            historical=historical,
            lines=lines,
            change_data_feed=_change_data_feed(served),
        )

    def changes(
        self, principal: Principal, share: str, schema: str, table: str, request: ChangesRequest
    ) -> TableAnswer:
        """The change data feed of versions ``start`` to ``end`` (inclusive), by Delta's own
        rule: a commit's change data files where it wrote some, else its added files as
        inserts and its removed files as deletes. Refused (Invalid) on a table that does not
        record change data. Audited."""
        with (
            self._audited(principal, "share.changes", share, schema, table) as audit,
            self._serving(principal, share, schema, table) as (served, root, latest),
        ):
            audit.served = served
            start, end = self._range(root, latest, request)
            if not _change_data_feed(served):
                raise Invalid(
                    f"cdf is not enabled on table {served.qualified}", field="startingVersion"
                )
            if not self._recorded(served, root, start):
                raise Invalid(
                    f"change data is not recorded for version {start} of {served.qualified}",
                    field="startingVersion",
                )
            lines, historical = _changes(
                root, start, end, cdf=True, historical=request.include_historical_metadata
            )
            answer = TableAnswer(
                start,
                table_version(root, latest),
                _scope(served, principal),
                historical=historical,
                lines=lines,
                change_data_feed=True,
            )
            audit.details.update(version=start, ending_version=end, files=len(lines))
        instruments.share_read("changes", served.project)
        return answer

    def _recorded(self, served: ServedTable, root: Path, start: int) -> bool:
        """Whether the table recorded its changes at version ``start`` (a snapshot's: at the
        source version it reflects, the property being the source's)."""
        if served.filters is None:
            return table_version(root, start).change_data_feed
        source = self.snapshots.source_version_at(served.filters.id, start)
        at = served.catalog_version if source is None else source
        return table_version(served.source, at).change_data_feed

    @staticmethod
    def _range(root: Path, latest: int, request: ChangesRequest) -> tuple[int, int]:
        if request.starting_version is not None:
            start = _version_param(request.starting_version, "startingVersion")
        elif request.starting_timestamp is not None:
            moment = _millis(request.starting_timestamp, "startingTimestamp")
            start = _at_or_after(root, moment, latest)
        else:
            raise Invalid("give startingVersion or startingTimestamp", field="startingVersion")
        if start > latest:
            raise Invalid(
                f"startingVersion {start} is after the table's latest version {latest}",
                field="startingVersion",
            )
        end = latest
        if request.ending_version is not None:
            end = min(_version_param(request.ending_version, "endingVersion"), latest)
        elif request.ending_timestamp is not None:
            moment = _millis(request.ending_timestamp, "endingTimestamp")
            end = min(_version_at(root, moment, "endingTimestamp"), latest)
        if end < start:
            raise Invalid("the ending version is before the starting one", field="endingVersion")
        return start, end

    # -- files -------------------------------------------------------------------------------

    def sign(self, scope: FileScope, path: str) -> tuple[str, int]:
        """The token of a file of an answer, and its expiry (Unix milliseconds)."""
        return self.signer.sign(
            scope.grant_id, scope.table_id, scope.snapshot, path, scope.token_id
        )

    def open_file(self, token: str) -> Path:
        """The data file a signed token opens: Forbidden for a bad or expired token, a grant no
        longer approved (the kernel decides), a path outside the table or a file its log does
        not name; NotFound for a file the table no longer holds (vacuumed)."""
        claim = self.signer.verify(token)
        _relative(claim.path)
        root, latest = self._file_table(claim)
        try:
            if claim.path not in log_files(root, latest):
                raise Forbidden("the file URL does not open a file of this table")
            file = _inside(root, claim.path)
            if not file.is_file():
                raise NotFound("the file is no longer part of the table")
        except Exception:
            self._file_table(claim)  # the grant ended meanwhile (its snapshot removed): 403
            raise
        instruments.share_file_fetched()
        return file

    def _file_table(self, claim: FileClaim) -> tuple[Path, int]:
        with self.store.session() as session:
            grant = session.get(ShareGrant, claim.grant_id)
            table = session.get(ShareTable, claim.table_id)
            if grant is None or table is None or table.share_id != grant.share_id:
                raise Forbidden("the file URL no longer opens: its table or grant is gone")
            refused = token_refusal(session.connection(), claim.token_id, grant.recipient_id)
            if refused is not None:
                raise Forbidden(f"the file URL no longer opens: {refused}")
            authorize(
                recipient_principal(grant.recipient_id, "file-url"),
                Action.SHARE_READ,
                grant,
                session=session,
            )
            asset = session.get(Asset, table.asset_id)
            assert asset is not None
            filters = session.scalar(
                select(ShareGrantTable.id).where(
                    ShareGrantTable.grant_id == grant.id,
                    ShareGrantTable.share_table_id == table.id,
                )
            )
            source, catalog_version = Path(asset.storage_path), asset.current_version
        if claim.snapshot != (filters is not None):
            raise Forbidden("the file URL does not open a file of this table")
        if filters is None:
            return source, catalog_version
        latest = self.snapshots.latest(filters)
        if latest is None:
            raise NotFound("the file is no longer part of the table")
        return self.snapshots.target(filters), latest

    # -- helpers -----------------------------------------------------------------------------

    def _served(self, principal: Principal, share: str, schema: str, table: str) -> ServedTable:
        with self.store.session() as session:
            return served_table(session, principal, share, schema, table)

    @contextmanager
    def _serving(
        self, principal: Principal, share: str, schema: str, table: str
    ) -> Iterator[tuple[ServedTable, Path, int]]:
        """The table as the recipient's grant serves it, the Delta table to read and its newest
        version, for one read. The grant may end, or the table leave the share, while the read
        runs (its snapshot removed under it): the read then fails, or ends, as one begun
        afterwards would (Forbidden, NotFound), never with what reading a removed snapshot
        raised; a snapshot such a read materialised again is removed."""
        served = self._served(principal, share, schema, table)
        try:
            root, latest = readable(served, self.snapshots)
            yield served, root, latest
        except Exception:
            self._served(principal, share, schema, table)  # ended meanwhile: its refusal
            raise
        if served.filters is not None:
            try:
                self._served(principal, share, schema, table)
            except (Forbidden, NotFound):
                self.snapshots.remove([served.filters.id])
                raise

    @contextmanager
    def _audited(
        self, principal: Principal, action: str, share: str, schema: str, table: str
    ) -> Iterator[_Audit]:
        """Audit the call: denied with the reason if it raises, allowed with the version it
        served once it returns."""
        audit = _Audit({"share": share, "schema": schema, "table": table})
        with denials(self.store, principal, action, details=audit.details):
            yield audit
        served = audit.served
        assert served is not None
        with self.store.session() as session:
            record(
                session,
                principal,
                action,
                allowed=True,
                project=served.project,
                assets=[served.asset],
                details={**audit.details, "snapshot": served.snapshot},
                resource=f"share_grant:{served.grant_id}",
            )


@dataclass
class _Audit:
    details: dict[str, Any]
    served: ServedTable | None = None


def _change_data_feed(served: ServedTable) -> bool:
    """Whether the served table's source records its changes, at the catalog's version."""
    return table_version(served.source, served.catalog_version).change_data_feed


def _scope(served: ServedTable, principal: Principal) -> FileScope:
    if principal.token_id is None:  # pragma: no cover - recipients authenticate with a token
        raise Forbidden("file URLs are given to a recipient's token only")
    return FileScope(served.grant_id, served.table_id, served.snapshot, principal.token_id)


def _changes(
    root: Path, start: int, end: int, *, cdf: bool, historical: bool
) -> tuple[list[FileLine], list[TableVersion]]:
    """The data change lines of versions ``start`` to ``end``, and the metadata of those after
    ``start`` that changed it (``historical``)."""
    lines: list[FileLine] = []
    metadata: list[TableVersion] = []
    for version in range(start, end + 1):
        try:
            commit = delta_log.commit_actions(root, version)
        except NotFound:
            raise Invalid(
                f"version {version} of the table is no longer in its log", field="startingVersion"
            ) from None
        stamp = commit.timestamp_ms
        if historical and version > start and commit.metadata_changed:
            metadata.append(table_version(root, version))
        if cdf and commit.cdc:
            lines.extend(FileLine("cdf", _file(root, a), version, stamp) for a in commit.cdc)
            continue
        if _no_op_merge(commit.info):
            continue
        lines.extend(
            FileLine("add", _file(root, a), version, stamp) for a in commit.adds if a.data_change
        )
        lines.extend(
            FileLine("remove", _file(root, a), version, stamp)
            for a in commit.removes
            if a.data_change
        )
    return lines, metadata


def _file(root: Path, action: delta_log.FileAction) -> TableFile:
    size = action.size
    if size is None:  # a remove may leave its size out
        try:
            size = (root / action.path).stat().st_size
        except OSError:
            size = 0
    return TableFile(action.path, size, dict(action.partition_values), action.stats, None)


def _no_op_merge(info: dict[str, Any]) -> bool:
    """A MERGE that changed no row (its files rewritten, no change to serve), as Delta reads
    the change data feed."""
    if str(info.get("operation", "")).upper() != "MERGE":
        return False
    metrics = info.get("operationMetrics") or {}
    return all(
        str(metrics.get(k)) == "0"
        for k in ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted")
    )


def _snapshot_version(root: Path, latest: int, version: int | None, timestamp: str | None) -> int:
    if version is not None and timestamp is not None:
        raise Invalid("give version or timestamp, not both", field="timestamp")
    if version is not None:
        at = _version_param(version, "version")
        if at > latest:
            raise Invalid(
                f"version {at} is after the table's latest version {latest}", field="version"
            )
        return at
    if timestamp is not None:
        return min(_version_at(root, _millis(timestamp, "timestamp"), "timestamp"), latest)
    return latest


def _version_param(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"{name} is a version: a whole number from 0", field=name)
    return value


def _version_at(root: Path, moment: int, name: str) -> int:
    """The last version committed at or before ``moment``; Invalid naming ``name`` before the
    first."""
    try:
        return delta_log.version_at(root, moment)
    except Invalid as error:
        raise Invalid(error.message, field=name) from None


def _at_or_after(root: Path, moment: int, latest: int) -> int:
    """The first version committed at or after ``moment`` (version 0's time or before: the
    first version in the log); Invalid after the latest version."""
    try:
        at = delta_log.version_at(root, moment)
    except Invalid:
        versions = delta_log.log_versions(root)
        return versions[0] if versions else 0
    if delta_log.commit_actions(root, at).timestamp_ms < moment:
        at += 1
    if at > latest:
        raise Invalid(
            "the timestamp is after the table's latest version", field="startingTimestamp"
        )
    return at


def _millis(text: str, name: str) -> int:
    """An ISO 8601 timestamp (``2022-01-01T00:00:00Z``; without a zone: UTC) in Unix ms."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise Invalid(
            f"{name} is an ISO 8601 timestamp such as 2022-01-01T00:00:00Z", field=name
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _relative(path: str) -> None:
    """Forbidden unless ``path`` is relative and stays below where it starts: no absolute
    path, no ``..`` or ``.`` segment, no backslash, no NUL."""
    parts = PurePosixPath(path).parts
    if (
        not parts
        or PurePosixPath(path).is_absolute()
        or any(p in ("..", ".") for p in parts)
        or "\\" in path
        or "\x00" in path
    ):
        raise Forbidden("the file URL does not open a file of this table")


def _inside(root: Path, relative: str) -> Path:
    """The file at ``relative`` below ``root`` (checked by :func:`_relative`); Forbidden when
    a symbolic link takes it out of ``root``."""
    _relative(relative)
    try:
        real_root = root.resolve(strict=True)
        candidate = (real_root / relative).resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound("the file is no longer part of the table") from None
    if not candidate.is_relative_to(real_root):
        raise Forbidden("the file URL does not open a file of this table")
    return candidate


def _page(items: Sequence[T], max_results: int | None, page_token: str | None) -> Page[T]:
    """One page of ``items``: ``max_results`` (0 to 1000; default 500) from the offset the
    token carries."""
    if max_results is not None and (max_results < 0 or max_results > MAX_PAGE):
        raise Invalid(f"maxResults is 0 to {MAX_PAGE}", field="maxResults")
    size = DEFAULT_PAGE if max_results is None else max_results
    start = _offset(page_token) if page_token else 0
    end = start + size
    token = _token(end) if end < len(items) else None
    return Page(list(items[start:end]), token)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    kind, _, value = text.partition(":")
    # ASCII digits only, and few: str.isdigit() also takes '²', which int() refuses
    if kind != "o" or not _OFFSET.fullmatch(value):
        raise Invalid("pageToken is not a token this server gave", field="pageToken")
    return int(value)
