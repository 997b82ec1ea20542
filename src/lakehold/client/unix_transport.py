"""HTTP over a Unix domain socket: how the CLI reaches its home's warm process (ADR 42)."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lakehold.client.transport import HttpTransport

HOST = "lakehold.local"
MAX_ADDRESS = 100
"""Bytes of a socket path that fit every platform's ``sun_path`` (104 on macOS, 108 Linux)."""


@dataclass(frozen=True)
class Peer:
    """Who listens at the other end of a connected socket, as the kernel says."""

    uid: int
    pid: int | None  # None where the platform does not tell


def peer_of(sock: socket.socket) -> Peer | None:
    """The process at the other end of the connected Unix socket ``sock`` (Linux
    ``SO_PEERCRED``; macOS ``LOCAL_PEERCRED`` and ``LOCAL_PEERPID``); None elsewhere."""
    if sys.platform.startswith("linux"):
        credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        pid, uid, _ = struct.unpack("3i", credentials)  # struct ucred
        return Peer(uid, pid)
    if sys.platform == "darwin":  # SOL_LOCAL 0; LOCAL_PEERCRED 1 (struct xucred); LOCAL_PEERPID 2
        uid = struct.unpack_from("=Ii", sock.getsockopt(0, 1, 76))[1]
        return Peer(uid, struct.unpack("i", sock.getsockopt(0, 2, 4))[0])
    return None


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
    """An HTTP/1.1 connection on the socket ``open_socket`` gives."""

    def __init__(self, open_socket: Callable[[], socket.socket], *, timeout: float) -> None:
        super().__init__(HOST, timeout=timeout)
        self._open_socket = open_socket

    def connect(self) -> None:
        self.sock = self._open_socket()


class UnixTransport(HttpTransport):
    """The SDK's HTTP transport, to a server listening on the Unix socket ``path``. A
    subclass may check who listens before anything is sent (:meth:`verify`)."""

    def __init__(self, path: str, *, timeout: float) -> None:
        super().__init__(f"http://{HOST}", timeout=timeout)
        self.socket_path = path
        self.url = f"unix:{path}"  # as errors name it

    def open_socket(self) -> socket.socket:
        """A socket connected to the server, that :meth:`verify` accepted; OSError if none."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self._timeout)
        try:
            with short_path(self.socket_path) as address:
                sock.connect(address)
            self.verify(sock)
        except OSError:
            sock.close()
            raise
        return sock

    def verify(self, sock: socket.socket) -> None:
        """Raise OSError to refuse the connected ``sock``: here any server is accepted."""

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = _UnixConnection(self.open_socket, timeout=self._timeout)
        return self._connection
