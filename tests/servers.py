"""Real HTTP servers for tests: the app of a test's runtime on a socket (uvicorn in a thread),
``lakehold serve`` in a process of its own, and waiting for a server to answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

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


@contextmanager
def serve_process(
    env: Mapping[str, str],
    log: Path,
    *,
    args: Sequence[str] = (),
    stdout: Path | None = None,
    seconds: float = 90,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``lakehold serve`` (and ``args``) in a process of its own with ``env`` (whose
    ``LAKEHOLD_PORT`` it listens on), standard error to the file ``log`` (a file, not a pipe
    nobody reads), standard output to ``stdout`` or nowhere: its URL and process once /health
    answers. Stopped with SIGTERM when the block ends; its process group (``--workers``)
    killed if it has not stopped within 30 s."""
    url = f"http://127.0.0.1:{env['LAKEHOLD_PORT']}"
    with log.open("w") as errors, (stdout or Path(os.devnull)).open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "lakehold.cli", "serve", *args],
            env=dict(env),
            stdout=out,
            stderr=errors,
            start_new_session=True,  # its workers in its process group, stopped with it
        )
        try:
            wait_healthy(url, alive=lambda: process.poll() is None, seconds=seconds)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
