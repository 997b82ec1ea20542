"""How the SDK's requests reach a server: the wire format shared by every transport, and the
HTTP transport on the standard library (keep-alive, streamed uploads, no third-party client:
``lakehold domain list`` against a server stays well under half a second)."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from lakehold.client.errors import ServerUnreachable


@dataclass
class Request:
    """One request: ``target`` is the path with its query string."""

    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] | None = None


@dataclass
class Response:
    """One response; header names are lower-case."""

    status: int
    headers: dict[str, str]
    body: bytes


class Transport(Protocol):
    """Sends a request and returns the whole response."""

    def send(self, request: Request) -> Response: ...

    def close(self) -> None: ...


class HttpTransport:
    """HTTP/1.1 to one server over one kept-alive connection (reopened when the server closed
    it). A body given as an iterable of bytes is sent chunked, as it is read."""

    def __init__(self, url: str, *, timeout: float, verify: bool | str = True) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.base_path = parts.path.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port
        self._https = parts.scheme == "https"
        self._timeout = timeout
        self._verify = verify
        self._connection: http.client.HTTPConnection | None = None
        self.url = url.rstrip("/")

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self._https:
                context = ssl.create_default_context(
                    cafile=self._verify if isinstance(self._verify, str) else None
                )
                if self._verify is False:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                self._connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=context
                )
            else:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
        return self._connection

    def send(self, request: Request) -> Response:
        retry = isinstance(request.body, bytes | None)  # a stream cannot be sent twice
        while True:
            connection = self._connect()
            try:
                connection.request(
                    request.method,
                    self.base_path + request.target,
                    body=request.body,
                    headers=request.headers,
                    encode_chunked=not isinstance(request.body, bytes | None),
                )
                raw = connection.getresponse()
                body = raw.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if retry:  # a kept-alive connection the server had closed: once more
                    retry = False
                    continue
                raise ServerUnreachable(f"{self.url} closed the connection") from None
            except TimeoutError:
                self.close()
                raise ServerUnreachable(
                    f"{self.url} did not answer within {self._timeout:g} s"
                ) from None
            except OSError as error:
                self.close()
                reason = error.strerror or error
                raise ServerUnreachable(f"cannot reach {self.url}: {reason}") from None
            headers = {name.lower(): value for name, value in raw.getheaders()}
            if raw.will_close:
                self.close()
            return Response(raw.status, headers, body)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
