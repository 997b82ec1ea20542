"""A real ``lakehold serve`` in another process, for the metrics tests that need one: its own
home, the test's metadata database, a free port; stopped (SIGTERM) when the block ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lakehold.observability.multiprocess import ENV
from tests.servers import free_port, wait_healthy


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    home: Path
    admin_token: str
    pid: int
    """The process started: with ``--workers``, the parent of the workers."""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}


@contextmanager
def lakehold_serve(folder: Path, database_url: str, *, workers: int = 1) -> Iterator[Served]:
    """``lakehold serve --workers N`` with its home in ``folder``, answering /health."""
    home, port = folder / "home", free_port()
    env = {
        **os.environ,
        "LAKEHOLD_HOME": str(home),
        "LAKEHOLD_PORT": str(port),
        "LAKEHOLD_DATABASE_URL": database_url,
    }
    for name in ("LAKEHOLD_URL", "LAKEHOLD_TOKEN", "LAKEHOLD_PROFILE", "LAKEHOLD_WORKERS", ENV):
        env.pop(name, None)
    with (folder / "serve.log").open("w") as log:  # a file, not a pipe nobody reads
        process = subprocess.Popen(
            [sys.executable, "-m", "lakehold.cli", "serve", "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # its workers in its process group, stopped with it
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, alive=lambda: process.poll() is None, seconds=180)
            token = (home / "admin_token").read_text().strip()
            yield Served(url, port, home, token, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
