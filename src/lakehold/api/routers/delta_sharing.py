"""The Delta Sharing protocol at ``/delta-sharing`` (ADR 37), for recipients' bearer tokens:
shares, schemas and tables (paged), a table's version, metadata, data files and change data
feed; and the data files themselves at ``/delta-sharing/files/<token>``, opened by a
short-lived signed URL (no bearer token: the signature is the credential).

A profile file's ``endpoint`` is this prefix. Every refusal is the protocol's error JSON,
``{"errorCode", "message"}`` (:mod:`lakehold.api.sharing_errors`), whatever raised it
(:class:`SharingRoute`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from lakehold.api import sharing_errors, sharing_lines
from lakehold.api.deps import RuntimeDep, authenticate_recipient
from lakehold.errors import LakeholdError, NotFound
from lakehold.governance.sharing.reads import (
    ChangesRequest,
    FileScope,
    Page,
    QueryRequest,
    TableAnswer,
)
from lakehold.redaction import Redactor
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

log = logging.getLogger(__name__)

PREFIX = sharing_errors.PREFIX
VERSION_HEADER = "Delta-Table-Version"


class SharingRoute(APIRoute):
    """A route whose every error is a protocol error: Lakehold's typed errors, an unreadable
    request (400 MALFORMED_REQUEST) and HTTP errors alike."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def sharing_handler(request: Request) -> Response:
            try:
                return await handle(request)
            except LakeholdError as error:
                return sharing_errors.of(error, _redactor(request))
            except RequestValidationError as error:
                first = error.errors()[0] if error.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
                message = f"{where}: {first.get('msg')}" if where else "the request is malformed"
                return sharing_errors.response(400, message, "MALFORMED_REQUEST")
            except HTTPException as error:
                return sharing_errors.response(error.status_code, str(error.detail))
            except Exception:  # a bug: logged; the answer names no internals
                log.exception("unexpected error under %s", PREFIX)
                return sharing_errors.response(500, "internal error; see the server log")

        return sharing_handler


def _redactor(request: Request) -> Redactor:
    return Redactor.of(request.app.state.runtime.settings)


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"schema": sharing_errors.SCHEMA}}}
    for code, text in {
        400: "Malformed request or invalid parameter (INVALID_PARAMETER_VALUE, MALFORMED_REQUEST)",
        401: "No, bad, expired or revoked recipient token (UNAUTHENTICATED)",
        403: "The recipient's access is not approved, or a bad file URL (PERMISSION_DENIED)",
        404: "No such share, schema, table or file (RESOURCE_DOES_NOT_EXIST)",
        409: "Conflicts with the current state (RESOURCE_CONFLICT)",
        413: "The request body is too large",
    }.items()
}
_NDJSON = {"description": "Newline-delimited JSON", "content": {"application/x-ndjson": {}}}

router = APIRouter(
    prefix=PREFIX, tags=["Delta Sharing"], route_class=SharingRoute, responses=ERRORS
)


async def recipient(request: Request) -> Principal:
    """The recipient of the request's bearer token (one with a body was authenticated
    before it was read: ``api.bodies``)."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    return await authenticate_recipient(request)


Recipient = Annotated[Principal, Depends(recipient)]
MaxResults = Annotated[
    int | None, Query(alias="maxResults", description="Items per page, 0 to 1000 (default 500)")
]
PageToken = Annotated[str | None, Query(alias="pageToken", description="A nextPageToken")]
Capabilities = Annotated[
    str | None,
    Header(
        alias=sharing_lines.CAPABILITIES,
        description="responseformat=parquet (default), delta, or both",
    ),
]
_TABLE = "/shares/{share}/schemas/{schema}/tables/{table}"


def _paged(page: Page[Any], item: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"items": [item(i) for i in page.items]}
    if page.next_page_token:
        body["nextPageToken"] = page.next_page_token
    return body


def _table_item(t: Any) -> dict[str, Any]:
    return {"name": t.name, "schema": t.schema, "share": t.share, "shareId": t.share_id, "id": t.id}


@router.get("/shares")
def list_shares(
    runtime: RuntimeDep,
    principal: Recipient,
    max_results: MaxResults = None,
    page: PageToken = None,
) -> dict[str, Any]:
    """The shares granted to the recipient."""
    found = runtime.sharing_reads.list_shares(principal, max_results, page)
    return _paged(found, lambda s: {"name": s.name, "id": s.id})


@router.get("/shares/{share}")
def get_share(share: str, runtime: RuntimeDep, principal: Recipient) -> dict[str, Any]:
    """A share granted to the recipient."""
    found = runtime.sharing_reads.get_share(principal, share)
    return {"share": {"name": found.name, "id": found.id}}


@router.get("/shares/{share}/schemas")
def list_schemas(
    share: str,
    runtime: RuntimeDep,
    principal: Recipient,
    max_results: MaxResults = None,
    page: PageToken = None,
) -> dict[str, Any]:
    """The schemas of a share."""
    found = runtime.sharing_reads.list_schemas(principal, share, max_results, page)
    return _paged(found, lambda s: {"name": s.name, "share": s.share})


@router.get("/shares/{share}/schemas/{schema}/tables")
def list_tables(
    share: str,
    schema: str,
    runtime: RuntimeDep,
    principal: Recipient,
    max_results: MaxResults = None,
    page: PageToken = None,
) -> dict[str, Any]:
    """The tables of a schema of a share."""
    found = runtime.sharing_reads.list_tables(principal, share, schema, max_results, page)
    return _paged(found, _table_item)


@router.get("/shares/{share}/all-tables")
def list_all_tables(
    share: str,
    runtime: RuntimeDep,
    principal: Recipient,
    max_results: MaxResults = None,
    page: PageToken = None,
) -> dict[str, Any]:
    """The tables of every schema of a share."""
    found = runtime.sharing_reads.list_tables(principal, share, None, max_results, page)
    return _paged(found, _table_item)


@router.get(_TABLE + "/version", responses={200: {"description": "The version, in a header"}})
def table_version(
    share: str,
    schema: str,
    table: str,
    runtime: RuntimeDep,
    principal: Recipient,
    starting_timestamp: Annotated[
        str | None,
        Query(
            alias="startingTimestamp",
            description="ISO 8601: the first version at or after it (default: the newest)",
        ),
    ] = None,
) -> Response:
    """The table's version, in the ``Delta-Table-Version`` header."""
    reads = runtime.sharing_reads
    version = reads.table_version(principal, share, schema, table, starting_timestamp)
    return Response(status_code=200, headers={VERSION_HEADER: str(version)})


@router.head(_TABLE, responses={200: {"description": "The version, in a header"}})
def table_version_head(
    share: str, schema: str, table: str, runtime: RuntimeDep, principal: Recipient
) -> Response:
    """The table's newest version, in the ``Delta-Table-Version`` header (deprecated form)."""
    version = runtime.sharing_reads.table_version(principal, share, schema, table)
    return Response(status_code=200, headers={VERSION_HEADER: str(version)})


@router.get(_TABLE + "/metadata", response_class=StreamingResponse, responses={200: _NDJSON})
def table_metadata(
    share: str,
    schema: str,
    table: str,
    request: Request,
    runtime: RuntimeDep,
    principal: Recipient,
    capabilities: Capabilities = None,
    version: Annotated[int | None, Query(description="A version to read")] = None,
    timestamp: Annotated[str | None, Query(description="ISO 8601: the version then")] = None,
) -> Response:
    """The table's protocol and metadata (two lines of newline-delimited JSON)."""
    answer = runtime.sharing_reads.metadata(
        principal, share, schema, table, version=version, timestamp=timestamp
    )
    return _answer(request, runtime, answer, capabilities, with_files=False)


class SharingQueryIn(BaseModel):
    """A query's body; every field is optional (``{}``: the newest snapshot). Fields the
    protocol adds later are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    predicate_hints: list[str] | None = Field(
        default=None, alias="predicateHints", description="Deprecated SQL hints (ignored)"
    )
    json_predicate_hints: str | None = Field(
        default=None,
        alias="jsonPredicateHints",
        description="A JSON predicate: files it proves hold no matching row are skipped",
    )
    limit_hint: int | None = Field(
        default=None, alias="limitHint", description="Rows wanted: files past them are skipped"
    )
    version: int | None = Field(default=None, description="The version to read")
    timestamp: str | None = Field(default=None, description="ISO 8601: the version then")
    starting_version: int | None = Field(
        default=None, alias="startingVersion", description="Data change files from it"
    )
    ending_version: int | None = Field(
        default=None, alias="endingVersion", description="With startingVersion: up to it"
    )


@router.post(_TABLE + "/query", response_class=StreamingResponse, responses={200: _NDJSON})
def query_table(
    share: str,
    schema: str,
    table: str,
    request: Request,
    runtime: RuntimeDep,
    principal: Recipient,
    body: Annotated[SharingQueryIn | None, Body()] = None,
    capabilities: Capabilities = None,
) -> Response:
    """The table's data files: protocol, metadata, then one line per file with a signed
    URL. Audited."""
    given = body or SharingQueryIn()
    answer = runtime.sharing_reads.query(
        principal,
        share,
        schema,
        table,
        QueryRequest(
            version=given.version,
            timestamp=given.timestamp,
            starting_version=given.starting_version,
            ending_version=given.ending_version,
            limit_hint=given.limit_hint,
            json_predicate_hints=given.json_predicate_hints,
        ),
    )
    return _answer(request, runtime, answer, capabilities)


@router.get(_TABLE + "/changes", response_class=StreamingResponse, responses={200: _NDJSON})
def table_changes(
    share: str,
    schema: str,
    table: str,
    request: Request,
    runtime: RuntimeDep,
    principal: Recipient,
    capabilities: Capabilities = None,
    starting_version: Annotated[int | None, Query(alias="startingVersion")] = None,
    ending_version: Annotated[int | None, Query(alias="endingVersion")] = None,
    starting_timestamp: Annotated[str | None, Query(alias="startingTimestamp")] = None,
    ending_timestamp: Annotated[str | None, Query(alias="endingTimestamp")] = None,
    include_historical_metadata: Annotated[bool, Query(alias="includeHistoricalMetadata")] = False,
) -> Response:
    """The table's change data feed between two versions or times (inclusive). Audited."""
    answer = runtime.sharing_reads.changes(
        principal,
        share,
        schema,
        table,
        ChangesRequest(
            starting_version=starting_version,
            ending_version=ending_version,
            starting_timestamp=starting_timestamp,
            ending_timestamp=ending_timestamp,
            include_historical_metadata=include_historical_metadata,
        ),
    )
    return _answer(request, runtime, answer, capabilities)


_FILE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The Parquet file", "content": {"application/octet-stream": {}}},
    416: {
        "description": "The Range header asks for bytes past the file's end",
        "content": {"application/json": {"schema": sharing_errors.SCHEMA}},
    },
}


@router.get("/files/{token}", response_class=FileResponse, responses=_FILE)
def fetch_file(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """A data file, by the signed URL a query or changes answer gave (byte ranges served)."""
    path = runtime.sharing_reads.open_file(token)
    try:
        found = os.stat(path)
    except FileNotFoundError:  # vacuumed since it was checked
        raise NotFound("the file is no longer part of the table") from None
    refused = _refused_range(request.headers.get("range"), found.st_size)
    if refused is not None:
        return refused
    return FileResponse(path, media_type="application/octet-stream", stat_result=found)


@router.head("/files/{token}", response_class=FileResponse, responses=_FILE)
def fetch_file_head(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """A data file's size (``Content-Length``), without its bytes."""
    return fetch_file(token, request, runtime)


def _refused_range(header: str | None, size: int) -> Response | None:
    """The protocol's error for a ``Range`` header the file cannot answer (malformed: 400;
    past its end: 416), as :class:`FileResponse` would judge it; None to serve it."""
    if header is None:
        return None
    try:
        FileResponse._parse_range_header(header, size)  # starlette's own rule
    except MalformedRangeHeader as error:
        return sharing_errors.response(400, f"the Range header is not valid: {error.content}")
    except RangeNotSatisfiable:
        refused = sharing_errors.response(
            416,
            f"the Range header asks for bytes past the file's {size}",
            "INVALID_PARAMETER_VALUE",
        )
        refused.headers["Content-Range"] = f"bytes */{size}"
        return refused
    return None


@router.api_route(
    "/{rest:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
def unknown(rest: str) -> Response:
    """Anything else under the prefix: the protocol's not-found error."""
    raise NotFound("no such Delta Sharing resource on this server")


def _answer(
    request: Request,
    runtime: Runtime,
    answer: TableAnswer,
    capabilities: str | None,
    *,
    with_files: bool = True,
) -> Response:
    fmt = sharing_lines.response_format(capabilities)
    base = (runtime.settings.public_url or str(request.base_url)).rstrip("/") + PREFIX
    reads = runtime.sharing_reads

    def sign(scope: FileScope, path: str) -> tuple[str, int]:
        token, expires = reads.sign(scope, path)
        return f"{base}/files/{token}", expires

    lines = "".join(sharing_lines.table_lines(answer, fmt, sign, with_files=with_files))
    headers = {
        VERSION_HEADER: str(answer.version),
        sharing_lines.CAPABILITIES: f"responseformat={fmt}",
    }
    return Response(lines, media_type=sharing_lines.MEDIA_TYPE, headers=headers)
