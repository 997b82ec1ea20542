"""A real ``lakehold serve`` in another process, for the metrics tests that need one: its own
home, the test's metadata database, a free port; stopped (SIGTERM) when the block ends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lakehold.observability.multiprocess import ENV
from tests.servers import free_port, serve_process


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
    args = ("--workers", str(workers))
    with serve_process(env, folder / "serve.log", args=args, seconds=180) as (url, process):
        token = (home / "admin_token").read_text().strip()
        yield Served(url, port, home, token, process.pid)
