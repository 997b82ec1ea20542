"""One authenticated conversation with a server: requests in, typed values or typed errors
out."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

import msgspec

from lakehold import __version__
from lakehold.client.credentials import ClientCredentials
from lakehold.client.errors import error_from
from lakehold.client.transport import Request, Response, Transport

T = TypeVar("T")


def _query(params: Mapping[str, Any] | None) -> str:
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return "?" + urlencode(pairs) if pairs else ""


class Session:
    """Sends requests with the token and a request id; decodes JSON into the given type.
    With ``credentials`` (a service principal's client id and secret) the token is theirs,
    exchanged and renewed as needed; a request refused with 401 is sent again once with a
    fresh one (when its body can be sent twice)."""

    def __init__(
        self,
        transport: Transport,
        token: str | None,
        credentials: ClientCredentials | None = None,
    ) -> None:
        self.transport = transport
        self.token = token
        self.credentials = credentials
        self.request_id: str | None = None
        """Sent with every request when set (the CLI: one id for one command)."""
        self.last_request_id: str | None = None

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | Iterable[bytes] | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
    ) -> Response:
        """The response of a request; an error status raises its typed error."""
        request_id = self.request_id or uuid.uuid4().hex
        headers = {
            "Accept": accept,
            "User-Agent": f"lakehold-client/{__version__}",
            "X-Request-ID": request_id,
        }
        token = self.credentials.token(self.transport) if self.credentials else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        if isinstance(body, bytes):
            headers["Content-Length"] = str(len(body))
        elif body is None and method in {"POST", "PUT", "PATCH"}:
            headers["Content-Length"] = "0"
        response = self.transport.send(Request(method, path + _query(params), headers, body))
        if response.status == 401 and self.credentials and isinstance(body, bytes | None):
            self.credentials.forget(token or "")  # revoked or expired early: once more
            headers["Authorization"] = f"Bearer {self.credentials.token(self.transport)}"
            response = self.transport.send(Request(method, path + _query(params), headers, body))
        self.last_request_id = response.headers.get("x-request-id", request_id)
        if response.status >= 400:
            raise error_from(response.status, response.body)
        return response

    def call(
        self,
        method: str,
        path: str,
        into: type[T],
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> T:
        """A JSON request whose JSON answer is decoded as ``into`` (``None``: ignored)."""
        body = None if json is None else msgspec.json.encode(json)
        response = self.send(
            method,
            path,
            params=params,
            body=body,
            content_type="application/json" if body is not None else None,
        )
        if into is None or not response.body:
            return None  # type: ignore[return-value]
        return msgspec.json.decode(response.body, type=into)

    def upload(
        self,
        method: str,
        path: str,
        into: type[T],
        *,
        fields: Mapping[str, str | None],
        file: tuple[str, Iterable[bytes]],
    ) -> T:
        """A multipart form: text ``fields`` then ``file`` (a name and its bytes, streamed)."""
        boundary = f"lakehold-{uuid.uuid4().hex}"
        response = self.send(
            method,
            path,
            body=_multipart(boundary, fields, file),
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        return msgspec.json.decode(response.body, type=into)

    def close(self) -> None:
        self.transport.close()


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")


def _multipart(
    boundary: str, fields: Mapping[str, str | None], file: tuple[str, Iterable[bytes]]
) -> Iterator[bytes]:
    for name, value in fields.items():
        if value is None:
            continue
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
            f"{value}\r\n"
        ).encode()
    filename, chunks = file
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{_quoted(filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    yield from chunks
    yield f"\r\n--{boundary}--\r\n".encode()
