"""A real Ray cluster for the tests and the Ray benchmarks (``benchmarks/ray_engines.py``,
``benchmarks/ray_table_jobs.py``): ``ray start --head`` on loopback, in a process group of
its own, with free ports and a private temporary folder; stopped (and the driver
disconnected) at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakehold.cluster import ray_client

CPUS = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def ray_cluster(cpus: int = CPUS) -> Iterator[str]:
    """The address (``127.0.0.1:<port>``) of a fresh head node with ``cpus`` CPUs."""
    folder = Path(tempfile.mkdtemp(prefix="lhray-", dir="/tmp"))  # socket paths stay short
    port = _free_port()
    ray = Path(sys.executable).with_name("ray")
    command = [
        str(ray), "start", "--head", "--block", "--disable-usage-stats",
        "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", str(cpus),
        "--include-dashboard", "false", "--dashboard-port", str(_free_port()),
        "--dashboard-agent-listen-port", str(_free_port()), "--temp-dir", str(folder),
    ]  # fmt: skip
    log = (folder / "start.log").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "start.log").read_text(errors="replace")[-2000:])
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        ray_client.disconnect()
        process.terminate()  # `ray start --block` stops the node's processes
        try:
            process.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left
            process.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
