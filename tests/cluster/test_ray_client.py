"""Joining a Ray cluster: the missing extra, an unreachable address, token authentication."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from lakehold.cluster import ray_client
from lakehold.errors import Invalid, SourceUnavailable
from tests.cluster.ray_cluster import ray_cluster

TOKEN = "0123456789abcdef0123456789abcdef"


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(Invalid) as missing:
        ray_client.connect("127.0.0.1:6379")
    assert missing.value.details == {"field": "engine"}
    assert "pip install 'lakehold[ray]'" in missing.value.message


def test_an_unreachable_cluster_is_refused_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens on it once closed
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as refused:
        ray_client.connect(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 10
    assert refused.value.message.startswith(f"the Ray cluster at 127.0.0.1:{port} could not be")


def test_a_cluster_that_requires_a_token() -> None:
    """The coordinator joins with the token it is given, which stays out of its environment
    (a process of its own: Ray keeps a driver's authentication mode once it is set)."""
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as env:  # the cluster's, not this process's
            env.setenv("RAY_AUTH_MODE", "token")
            env.setenv("RAY_AUTH_TOKEN", TOKEN)
            address = stack.enter_context(ray_cluster())
        script = textwrap.dedent(
            f"""
            import os
            from lakehold.cluster import ray_client
            from lakehold.cluster.task import partial
            import pyarrow as pa

            ray = ray_client.connect({address!r}, {TOKEN!r})
            assert "RAY_AUTH_TOKEN" not in os.environ and "RAY_AUTH_MODE" not in os.environ
            stream = ray.get(ray_client.remote(partial).remote("SELECT 1", "SELECT 42 AS x", None))
            print(pa.ipc.open_stream(stream).read_all().to_pylist())
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip().splitlines()[-1] == "[{'x': 42}]"
