"""``lakehold serve`` as a real process: first start prints a token on the terminal (stdout),
never in the logs (stderr: uvicorn and the logging module); requests need it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port, wait_healthy


def test_serve_starts_and_requires_a_token(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "home"
    env = {**os.environ, "LAKEHOLD_HOME": str(home), "LAKEHOLD_PORT": str(port)}
    env.pop("LAKEHOLD_DATABASE_URL", None)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "lakehold.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, alive=lambda: process.poll() is None)
        print(f"cold start to first successful request: {time.monotonic() - started:.2f}s")
        token = (home / "admin_token").read_text().strip()
        assert httpx.get(f"{url}/api/v1/me").status_code == 401
        me = httpx.get(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["username"] == "admin"
        assert oct((home / "admin_token").stat().st_mode & 0o777) == "0o600"
    finally:
        process.terminate()
        output, logs = process.communicate(timeout=10)
    # Printed once, on first start, by the banner (stdout): not by any log record, the access
    # log's included (stderr, ADR 0036).
    banner = [line for line in output.splitlines() if token.split("_", 2)[-1] in line]
    assert banner == [token]
    assert "GET /api/v1/me" in logs and "Started server process" in logs  # logs captured
    assert token.split("_", 2)[-1] not in logs
