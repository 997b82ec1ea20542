"""HTTP over a Unix domain socket: how the CLI reaches its home's warm process (ADR 42)."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
from collections.abc import Iterator

from lakehold.client.transport import HttpTransport

HOST = "lakehold.local"
MAX_ADDRESS = 100
"""Bytes of a socket path that fit every platform's ``sun_path`` (104 on macOS, 108 Linux)."""


@contextlib.contextmanager
def short_path(path: str) -> Iterator[str]:
    """An address for the socket at ``path`` that fits ``sun_path``: the path itself, or on
    Linux, for a longer one, the path through ``/proc/self/fd`` of its open directory."""
    if len(os.fsencode(path)) <= MAX_ADDRESS or not os.path.isdir("/proc/self/fd"):
        yield path
        return
    directory = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{directory}/{os.path.basename(path)}"
    finally:
        os.close(directory)


class _UnixConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection to the socket at ``path``."""

    def __init__(self, path: str, *, timeout: float) -> None:
        super().__init__(HOST, timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            with short_path(self._path) as address:
                sock.connect(address)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class UnixTransport(HttpTransport):
    """The SDK's HTTP transport, to a server listening on the Unix socket ``path``."""

    def __init__(self, path: str, *, timeout: float) -> None:
        super().__init__(f"http://{HOST}", timeout=timeout)
        self.socket_path = path
        self.url = f"unix:{path}"  # as errors name it

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = _UnixConnection(self.socket_path, timeout=self._timeout)
        return self._connection
