"""A real ``lakehold serve`` (one per test module, demo source off) and headless Chromium
sessions on it (reused by the module's tests, each with its own profile).

``portal``: the server (``portal.api(token)`` is an HTTP client of its API, ``portal.new_user``
creates a user with a password). ``open_browser(name)``: a new browser session, quit after the
module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.browser.chromium import CHROMEDRIVER, CHROMIUM, Browser, start_chromium
from tests.servers import free_port, wait_healthy


@dataclass
class Portal:
    url: str
    home: Path
    admin_token: str

    def api(self, token: str | None = None) -> httpx.Client:
        """A client of the API (the administrator's unless ``token`` says otherwise)."""
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=60)

    def new_user(self, username: str, password: str) -> str:
        """Create ``username`` with ``password`` (as the administrator); a token of theirs."""
        with self.api() as admin:
            body = {"username": username, "password": password}
            created = admin.post("/users", json=body)
            assert created.status_code == 201, created.text
            token = admin.post("/tokens", json={"name": f"{username}-test", "username": username})
            assert token.status_code == 201, token.text
            return token.json()["value"]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """``lakehold serve`` on 127.0.0.1 with a fresh SQLite home, stopped after the module;
    fails the module if the server logged an internal error."""
    home = tmp_path_factory.mktemp("portal") / "home"
    port = free_port()
    env = {
        **os.environ,
        "LAKEHOLD_HOME": str(home),
        "LAKEHOLD_PORT": str(port),
        "LAKEHOLD_DEMO_SOURCE": "off",
    }
    for name in ("LAKEHOLD_DATABASE_URL", "LAKEHOLD_URL", "LAKEHOLD_TOKEN", "LAKEHOLD_PROFILE"):
        env.pop(name, None)
    log_path = home.parent / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lakehold.cli", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, alive=lambda: process.poll() is None, seconds=90)
            yield Portal(url, home, (home / "admin_token").read_text().strip())
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    lines = log_path.read_text().splitlines()
    internal = [line for line in lines if "Traceback" in line or "internal error" in line]
    assert not internal, "\n".join(lines[-80:])


@pytest.fixture(scope="module")
def open_browser(
    portal: Portal, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Browser]]:
    """``open_browser(name)``: a new headless Chromium session on ``portal``."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        missing = "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    opened: list[Browser] = []

    def open_one(name: str) -> Browser:
        profile = tmp_path_factory.mktemp(f"chromium-{name}")
        browser = Browser(start_chromium(profile), portal.url, name)
        opened.append(browser)
        return browser

    yield open_one
    for browser in opened:
        browser.driver.quit()
