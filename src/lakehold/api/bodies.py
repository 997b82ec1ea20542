"""Bounded request bodies: every body but an upload's (:mod:`lakehold.api.uploads`) or a
self-bounded one is at most ``LAKEHOLD_MAX_JSON_BYTES`` (413), nested at most
``LAKEHOLD_MAX_JSON_DEPTH`` deep (400), with a ``sql`` text of at most
``LAKEHOLD_MAX_SQL_CHARS`` (400): :class:`BodyLimits`, a middleware. A request with a body is
authenticated before any of it is read (401), so that no one without a token can make the
server receive one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehold.api.deps import SCIM_PATH, SHARING_PATH, authenticate_first
from lakehold.config import Settings
from lakehold.errors import Invalid, LakeholdError
from lakehold.kernel import requests

UPLOAD_PATHS = re.compile(r"^/api/v1/projects/[^/]+/tables(/[^/]+/writes)?/?$")
"""Bodies bounded by :class:`UploadRoute` (``LAKEHOLD_MAX_UPLOAD_BYTES``)."""
SELF_BOUNDED_PATHS = re.compile(r"^/api/v1/lineage(/batch)?/?$")
"""Bodies their endpoint reads itself, bounded (OpenLineage ingest, ADR 0015)."""
OPEN_PATHS = re.compile(r"^/(health|openapi\.json|docs|redoc|api/v1/auth/oidc)(/.*)?$")
"""What answers without a token (``routers.health``, the OpenAPI document and its pages, the
exchange of an OpenID Connect ID token for a token: ``routers.oidc``)."""
PAGE_PATHS = re.compile(r"^/(?!api/|scim/|delta-sharing/)")
"""The portal's pages (``lakehold.web``): signed in by their own dependency (a session cookie
and its CSRF token, or a token) once their body, bounded as any other, is read; the sign-in
form is read from anyone."""


class TooLarge(LakeholdError):
    """A request body beyond its configured limit."""

    status_code = 413
    exit_code = 2
    code = "too_large"


def too_large(limit: int, setting: str) -> TooLarge:
    return TooLarge(
        f"the request body is larger than {limit} bytes ({setting})", field="body", limit=setting
    )


def _body_headers(scope: Scope) -> tuple[str, bool, str | None]:
    """The request's Content-Length (``""`` without one), whether it is chunked (sends a
    Transfer-Encoding), and its Content-Type: the first of each, read in one pass."""
    length: str | None = None
    content_type: str | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            if length is None:
                length = value.decode("latin-1")
        elif name == b"content-type":
            if content_type is None:
                content_type = value.decode("latin-1")
        elif name == b"transfer-encoding":
            chunked = True
    return length or "", chunked, content_type


class BodyLimits:
    """ASGI middleware: a request with a body (but an upload, which ``UploadRoute``
    authenticates) and a path that is not open is authenticated first (401, nothing read).
    Then every body but an upload's or a self-bounded one is read (at most
    ``max_json_bytes``: 413, from Content-Length up front or while reading), checked (JSON
    depth, ``sql`` length: 400 naming the field) and handed on."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        try:
            check_no_nul(path, scope.get("query_string", b""))
        except LakeholdError as error:
            await _refuse(error, scope, receive, send)
            return
        if not path or UPLOAD_PATHS.match(path):
            await self.app(scope, receive, send)
            return
        self_bounded = SELF_BOUNDED_PATHS.match(path) is not None
        declared, chunked, content_type = _body_headers(scope)
        has_body = chunked or declared.strip() not in ("", "0")
        try:
            if has_body and not OPEN_PATHS.match(path) and not PAGE_PATHS.match(path):
                await authenticate_first(Request(scope))
            if not self_bounded:
                body, more = await self._read(declared, receive)
                if body:
                    self._check(content_type, body)
        except LakeholdError as error:
            await _refuse(error, scope, receive, send)
            return
        if self_bounded:
            await self.app(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive() if more else {"type": "http.disconnect"}

        await self.app(scope, replay, send)

    async def _read(self, declared: str, receive: Receive) -> tuple[bytes, bool]:
        """The whole body (and whether the client may still send a disconnect); ``declared``:
        its Content-Length."""
        limit = self.settings.max_json_bytes
        if declared.isdigit() and int(declared) > limit:
            raise too_large(limit, "LAKEHOLD_MAX_JSON_BYTES")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b"".join(chunks), False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit, "LAKEHOLD_MAX_JSON_BYTES")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), True

    def _check(self, content_type: str | None, body: bytes) -> None:
        if "json" not in (content_type if content_type is not None else "application/json").lower():
            return
        if self._passes_unparsed(body):
            return
        try:
            value = json.loads(body)
        except RecursionError:
            value = None
            depth = self.settings.max_json_depth + 1
        except (ValueError, UnicodeDecodeError):
            return  # the endpoint says where the JSON is broken
        else:
            depth = json_depth(value, self.settings.max_json_depth)
            if depth <= self.settings.max_json_depth:
                _check_no_nul_in_json(value)
        if depth > self.settings.max_json_depth:
            raise Invalid(
                f"the JSON body is nested deeper than {self.settings.max_json_depth} levels "
                "(LAKEHOLD_MAX_JSON_DEPTH)",
                field="body",
                limit="LAKEHOLD_MAX_JSON_DEPTH",
            )
        sql = value.get("sql") if isinstance(value, dict) else None
        if isinstance(sql, str) and len(sql) > self.settings.max_sql_chars:
            raise Invalid(
                f"sql is longer than {self.settings.max_sql_chars} characters "
                "(LAKEHOLD_MAX_SQL_CHARS)",
                field="sql",
                limit="LAKEHOLD_MAX_SQL_CHARS",
            )

    def _passes_unparsed(self, body: bytes) -> bool:
        """Whether ``body`` passes :meth:`_check` whatever it holds, so that it need not be
        parsed twice (here and by its endpoint; a statement's body, most of all). It does
        when it has no NUL byte (so it is UTF-8, the only JSON encoding without one, and a NUL
        character could come only as the escape ``\\u0000``) nor that escape, at most as many
        ``{`` and ``[`` as the depth limit (each level of nesting opens one), and at most as
        many bytes as a ``sql`` text may have characters."""
        settings = self.settings
        return (
            len(body) <= settings.max_sql_chars
            and body.count(b"{") + body.count(b"[") <= settings.max_json_depth
            and b"\x00" not in body
            and b"\\u0000" not in body
        )


async def _refuse(error: LakeholdError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``error`` with the standard error body (``api.errors``), before the app runs;
    under ``/scim/v2``, a SCIM error; under ``/delta-sharing``, a Delta Sharing error."""
    if scope.get("path", "").startswith(SCIM_PATH):
        from lakehold.api import scim_errors  # scim2-models: loaded by SCIM requests only

        await scim_errors.of(error)(scope, receive, send)
        return
    if scope.get("path", "").startswith(SHARING_PATH):  # the protocol's errors (ADR 37)
        from lakehold.api import sharing_errors

        await sharing_errors.of(error)(scope, receive, send)
        return
    headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
    body = {**error.to_dict(), "request_id": requests.current()}
    response = JSONResponse(body, status_code=error.status_code, headers=headers)
    await response(scope, receive, send)


def json_depth(value: Any, limit: int) -> int:
    """The nesting depth of a parsed JSON value (a scalar: 0), counted up to ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


NUL = "\x00"
NUL_REFUSED = "a NUL character (\\u0000) is not allowed in text"


def check_no_nul(path: str, query: bytes) -> None:
    """Invalid when the URL's path or query holds a NUL character: no name or value Lakehold
    stores or looks up may hold one (PostgreSQL refuses it in any text), so the request is
    refused before anything reads or writes."""
    if NUL in path:
        raise Invalid(f"{NUL_REFUSED} (the URL's path)", field="path")
    if b"\x00" in query or b"%00" in query:
        raise Invalid(f"{NUL_REFUSED} (the URL's query)", field="query")


def _check_no_nul_in_json(value: Any) -> None:
    """Invalid, naming the field, when a key or string of a JSON body holds a NUL character."""
    stack: list[tuple[Any, str]] = [(value, "body")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                raise Invalid(NUL_REFUSED, field=where)
        elif isinstance(item, dict):
            for key, child in item.items():
                name = key if where == "body" else f"{where}.{key}"
                if NUL in key:
                    raise Invalid(NUL_REFUSED, field=where)
                stack.append((child, name))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
