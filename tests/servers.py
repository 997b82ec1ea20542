"""Real HTTP servers for tests: the app of a test's runtime on a socket (uvicorn in a thread),
and waiting for a server to answer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from lakehold.api.app import create_app
from lakehold.runtime import Runtime


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(
    url: str, *, alive: Callable[[], bool] = lambda: True, seconds: float = 60
) -> None:
    """Return once ``url``/health answers 200; fail when ``alive()`` turns false or time runs
    out."""
    deadline = time.monotonic() + seconds
    while True:
        assert alive(), "the server stopped"
        assert time.monotonic() < deadline, f"{url} did not answer within {seconds:g} s"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)


@contextmanager
def served(runtime: Runtime) -> Iterator[str]:
    """The application of ``runtime`` on a real socket while the block runs: its URL."""
    port = free_port()
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, alive=thread.is_alive, seconds=30)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
