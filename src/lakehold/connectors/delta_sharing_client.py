"""A client of the Delta Sharing protocol: one provider's endpoint, one share profile's token.

Engine layer: it takes a :class:`ConnectionSpec` of kind ``delta_sharing`` (``params``: the
profile's ``endpoint`` and ``expirationTime``; ``secret``: its bearer token) and plain values,
never a principal. It speaks the REST protocol of delta-io/delta-sharing's ``PROTOCOL.md``:
shares, schemas and tables (paged by ``nextPageToken``), a table's version (the
``Delta-Table-Version`` header), metadata, query and changes (newline-delimited JSON in the
``parquet`` response format: ``protocol``, ``metaData``, then ``file`` lines, or ``add``,
``cdf`` and ``remove`` lines for changes), and downloads a file's pre-signed URL into a
staging folder, streamed, within a byte budget.

Every request goes through the ``transport`` the caller gives (the connection service gives
one that checks each URL against the network allow-list and pins the checked address), never
follows a redirect, and bounds what it reads. The bearer token is sent to the endpoint only,
never to a file URL. Errors are typed, name the connection, and never carry the token or a
file URL (a pre-signed URL is a credential until it expires): the provider's refusals
(401/403/404 and 5xx) are SourceUnavailable with the provider's ``errorCode`` and message, a
rejected parameter (400) Invalid; a table without a change data feed raises
:class:`NoChangeDataFeed`.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa
from deltalake import Schema as DeltaSchema

import lakehold
from lakehold.connectors.attach import ConnectionSpec
from lakehold.connectors.params import token_expiry
from lakehold.errors import Invalid, LakeholdError, SourceUnavailable

TIMEOUT_S = 30.0
PAGE_SIZE = 500
MAX_PAGES = 1000
"""Pages of one listing at most (500 000 items): a provider cannot keep a crawl going."""
MAX_ANSWER_BYTES = 64 * 1024**2
"""The newline-delimited answer of one query or changes call (about 100 000 files)."""
MAX_PAGE_BYTES = 8 * 1024**2
MAX_ERROR_BYTES = 16 * 1024
CHUNK = 1024**2
VERSION_HEADER = "Delta-Table-Version"
_URL = re.compile(r"https?://\S+")


class NoChangeDataFeed(Invalid):
    """The provider has no change data feed for the table (or not over the versions asked)."""


class FileUrlRefused(SourceUnavailable):
    """A file URL was refused (it expired, most often): query again for fresh URLs."""


@dataclass(frozen=True)
class SharedTable:
    """A table of a share, as the protocol names it: ``share.schema.table``."""

    share: str
    schema: str
    name: str

    @classmethod
    def parse(cls, text: str | None, *, field: str = "source_table") -> SharedTable:
        """``share.schema.table``; Invalid naming ``field`` otherwise."""
        parts = (text or "").split(".")
        if len(parts) != 3 or not all(p.strip() and len(p) <= 255 for p in parts):
            raise Invalid(f"a shared table is share.schema.table, not {text!r}", field=field)
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.share}.{self.schema}.{self.name}"

    @property
    def path(self) -> str:
        share, schema, name = (quote(p, safe="") for p in (self.share, self.schema, self.name))
        return f"/shares/{share}/schemas/{schema}/tables/{name}"


@dataclass(frozen=True)
class TableMetadata:
    """A shared table's columns (partition columns included) and its partition columns."""

    schema: pa.Schema
    partition_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class SharedFile:
    """One data file of an answer. ``action``: ``file`` (a query's), ``add`` (rows inserted),
    ``remove`` (rows deleted) or ``cdf`` (change rows with ``_change_type``)."""

    id: str
    action: str
    url: str = field(repr=False)
    partition_values: Mapping[str, str | None]
    size: int
    version: int | None = None
    expires_ms: int | None = None

    def expires_within(self, seconds: float) -> bool:
        """Whether the URL expires within ``seconds`` (by the provider's stated time)."""
        if self.expires_ms is None:
            return False
        return self.expires_ms / 1000 <= datetime.now(UTC).timestamp() + seconds


@dataclass(frozen=True)
class TableAnswer:
    """A query's or a changes call's answer: the version it read, the metadata, the files."""

    version: int
    metadata: TableMetadata
    files: tuple[SharedFile, ...]


class ByteBudget:
    """Bytes a read may still download; Invalid once it would go beyond."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, count: int, what: str) -> None:
        self.used += count
        if self.used > self.limit:
            raise Invalid(
                f"{what} is larger than {self.limit} bytes (LAKEHOLD_MAX_UPLOAD_BYTES)",
                field="source_table",
            )


class SharingClient:
    """The protocol, for one connection; close it (or use it as a context manager)."""

    def __init__(
        self,
        spec: ConnectionSpec,
        *,
        staging: Path,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.staging = staging
        self.endpoint = str(spec.params["endpoint"]).rstrip("/")
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout_s,
            follow_redirects=False,
            headers={"User-Agent": f"Lakehold/{lakehold.__version__} Delta-Sharing-Consumer"},
        )

    def __enter__(self) -> SharingClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- listings -------------------------------------------------------------------------

    def shares(self) -> list[str]:
        """The names of the shares the profile may read."""
        return [str(item["name"]) for item in self._pages("/shares")]

    def tables(self, share: str) -> list[SharedTable]:
        """Every table of every schema of ``share``."""
        path = f"/shares/{quote(share, safe='')}/all-tables"
        return [
            SharedTable(str(i.get("share") or share), str(i["schema"]), str(i["name"]))
            for i in self._pages(path)
        ]

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"maxResults": PAGE_SIZE}
            if token:
                params["pageToken"] = token
            body = self._json("GET", path, params=params)
            items = body.get("items") or []
            if not isinstance(items, list):
                raise self._garbled("a listing's items are not a list")
            yield from (i for i in items if isinstance(i, dict) and "name" in i)
            token = body.get("nextPageToken") or None
            if token is None:
                return
            if token in seen:
                raise self._garbled("a listing repeats its page token")
            seen.add(token)
        raise self._garbled(f"a listing has more than {MAX_PAGES} pages")

    # -- a table --------------------------------------------------------------------------

    def version(self, table: SharedTable) -> int:
        """The table's newest version."""
        with self._send("GET", table.path + "/version", what=str(table)) as response:
            return self._version_of(response)

    def metadata(self, table: SharedTable) -> TableMetadata:
        """The table's columns and partition columns, at its newest version."""
        with self._send("GET", table.path + "/metadata", what=str(table)) as response:
            return self._lines(response)[0]

    def query(self, table: SharedTable, version: int | None = None) -> TableAnswer:
        """The table's files at ``version`` (None: the newest)."""
        body = {} if version is None else {"version": version}
        with self._send("POST", table.path + "/query", what=str(table), json=body) as response:
            return self._answer(response)

    def changes(self, table: SharedTable, starting: int, ending: int) -> TableAnswer:
        """The change data files from version ``starting`` to ``ending`` (inclusive)."""
        params = {"startingVersion": starting, "endingVersion": ending}
        with self._send("GET", table.path + "/changes", what=str(table), params=params) as answer:
            return self._answer(answer)

    def download(self, file: SharedFile, folder: Path, budget: ByteBudget) -> Path:
        """The file's bytes streamed into ``folder`` (no bearer token sent: the URL is its own
        credential); FileUrlRefused when the URL is refused (expired)."""
        target = folder / f"{secrets.token_hex(8)}.parquet"
        what = f"file {file.id}"
        try:
            with self._http.stream("GET", file.url) as response:
                if response.status_code in (400, 401, 403, 410):
                    raise FileUrlRefused(
                        f"connection {self.name!r}: the provider refused the URL of {what} "
                        f"(HTTP {response.status_code})"
                    )
                if response.status_code != 200:
                    raise self._refusal(response, what)
                written = 0
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        budget.take(len(chunk), "the shared table")
                        written += len(chunk)
                        out.write(chunk)
        except httpx.HTTPError as error:
            raise self._unreachable(error) from None
        if file.size and written != file.size:
            raise self._garbled(f"{what} has {written} bytes, not the {file.size} announced")
        return target

    # -- requests and answers -------------------------------------------------------------

    @contextmanager
    def _send(
        self, method: str, path: str, *, what: str | None = None, **kwargs: Any
    ) -> Iterator[httpx.Response]:
        """The open response to a protocol request, its refusal raised; closed afterwards."""
        self._check_expiry()
        headers = {"Authorization": f"Bearer {self.spec.secret or ''}"}
        request = self._http.build_request(method, self.endpoint + path, headers=headers, **kwargs)
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as error:
            raise self._unreachable(error) from None
        try:
            if response.status_code != 200:
                raise self._refusal(response, what)
            yield response
        finally:
            response.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        with self._send(method, path, **kwargs) as response:
            body = json.loads(self._read(response, MAX_PAGE_BYTES))
        if not isinstance(body, dict):
            raise self._garbled("an answer is not a JSON object")
        return body

    def _read(self, response: httpx.Response, limit: int) -> bytes:
        data = bytearray()
        try:
            for chunk in response.iter_bytes(CHUNK):
                data += chunk
                if len(data) > limit:
                    raise self._garbled(f"an answer is longer than {limit} bytes")
        except httpx.HTTPError as error:
            raise self._unreachable(error) from None
        return bytes(data)

    def _answer(self, response: httpx.Response) -> TableAnswer:
        version = self._version_of(response)
        return TableAnswer(version, *self._lines(response))

    def _lines(self, response: httpx.Response) -> tuple[TableMetadata, tuple[SharedFile, ...]]:
        """The metadata and the files of a newline-delimited answer (its protocol checked)."""
        metadata: TableMetadata | None = None
        files: list[SharedFile] = []
        for line in self._read(response, MAX_ANSWER_BYTES).splitlines():
            if not line.strip():
                continue
            try:
                action = json.loads(line)
            except ValueError:
                raise self._garbled("an answer line is not JSON") from None
            if not isinstance(action, dict):
                raise self._garbled("an answer line is not a JSON object")
            if "protocol" in action:
                self._check_protocol(action["protocol"])
            elif "metaData" in action and metadata is None:
                metadata = self._metadata(action["metaData"])
            for kind in ("file", "add", "cdf", "remove"):
                if kind in action:
                    files.append(self._file(kind, action[kind]))
        if metadata is None:
            raise self._garbled("an answer has no metaData line")
        return metadata, tuple(files)

    def _version_of(self, response: httpx.Response) -> int:
        text = response.headers.get(VERSION_HEADER, "")
        if not text.strip().isdigit():
            raise self._garbled(f"an answer has no {VERSION_HEADER} header")
        return int(text)

    def _check_protocol(self, protocol: Any) -> None:
        needed = protocol.get("minReaderVersion", 1) if isinstance(protocol, dict) else None
        if not isinstance(needed, int) or needed > 1:
            raise SourceUnavailable(
                f"connection {self.name!r}: the table needs a Delta Sharing reader version "
                f"{needed!r}; Lakehold reads version 1"
            )

    def _metadata(self, body: Any) -> TableMetadata:
        try:
            schema = pa.schema(DeltaSchema.from_json(body["schemaString"]).to_arrow())
            partitions = tuple(str(c) for c in body.get("partitionColumns") or ())
        except Exception as error:  # a missing key, or a schema delta-rs cannot read
            kind = type(error).__name__
            raise self._garbled(f"a table's metadata cannot be read ({kind})") from None
        return TableMetadata(schema, partitions)

    def _file(self, kind: str, body: Any) -> SharedFile:
        try:
            values = body.get("partitionValues") or {}
            return SharedFile(
                id=str(body["id"]),
                action=kind,
                url=str(body["url"]),
                partition_values={str(k): None if v is None else str(v) for k, v in values.items()},
                size=int(body.get("size") or 0),
                version=int(body["version"]) if body.get("version") is not None else None,
                expires_ms=int(body["expirationTimestamp"])
                if body.get("expirationTimestamp") is not None
                else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._garbled(f"a {kind} line cannot be read") from None

    # -- errors ---------------------------------------------------------------------------

    def _check_expiry(self) -> None:
        expiry = self.spec.params.get("expirationTime")
        if expiry is None:
            return
        at = token_expiry(expiry)
        if at <= datetime.now(UTC):
            raise SourceUnavailable(
                f"connection {self.name!r}: the share profile's token expired at "
                f"{at.isoformat()}; ask the provider for a new profile and update the connection"
            )

    def _refusal(self, response: httpx.Response, what: str | None) -> LakeholdError:
        status = response.status_code
        code, message = self._error_body(response)
        said = f" ({code}: {message})" if code or message else ""
        about = f" {what}" if what else ""
        if status == 400 and "cdf" in message.lower():
            return NoChangeDataFeed(
                f"connection {self.name!r}: the provider has no change data feed for{about}{said}",
                field="source_table",
            )
        if status == 400:
            return Invalid(
                f"connection {self.name!r}: the provider refused the request for{about}{said}",
                field="source_table",
            )
        reason = {
            401: "refused the share profile's token",
            403: f"denies access to{about or ' it'}",
            404: f"has no{about or ' such resource'}",
        }.get(status, f"failed (HTTP {status})" + (f" on{about}" if what else ""))
        return SourceUnavailable(f"connection {self.name!r}: the provider {reason}{said}")

    def _error_body(self, response: httpx.Response) -> tuple[str, str]:
        try:
            raw = next(response.iter_bytes(MAX_ERROR_BYTES), b"")
            body = json.loads(raw[:MAX_ERROR_BYTES])
        except (ValueError, httpx.HTTPError):
            return "", ""
        if not isinstance(body, dict):
            return "", ""
        return self._clean(body.get("errorCode")), self._clean(body.get("message"))

    def _clean(self, value: Any) -> str:
        """Text from the provider, for a message: one line, short, no token, no URL."""
        text = " ".join(str(value or "").split())
        if self.spec.secret:
            text = text.replace(self.spec.secret, "***")
        return _URL.sub("<url>", text)[:300]

    def _unreachable(self, error: httpx.HTTPError) -> SourceUnavailable:
        detail = self._clean(str(error)) or type(error).__name__
        return SourceUnavailable(
            f"connection {self.name!r} (delta_sharing) is unavailable: {detail}"
        )

    def _garbled(self, what: str) -> SourceUnavailable:
        return SourceUnavailable(
            f"connection {self.name!r}: the provider's answer is not the protocol's: {what}"
        )
