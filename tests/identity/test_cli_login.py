"""``lakehold login --provider`` against a real server and the real OpenID provider: the
CLI (a process of its own) prints where to sign in, a person signs in there (httpx driving
the provider's pages), and the CLI ends with a working Lakehold token in its profile."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lakehold.runtime import Runtime
from tests.identity.provider import ProviderBrowser
from tests.servers import served

URL = re.compile(r"open (http\S+)")


@pytest.fixture
def server(runtime: Runtime, admin_token: str) -> Iterator[str]:
    with served(runtime) as url:
        yield url


class Login:
    """``lakehold login`` running in a process of its own, its output read as it comes."""

    def __init__(self, args: list[str], config: Path) -> None:
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(config),
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "1000",
        }
        for name in ("LAKEHOLD_URL", "LAKEHOLD_TOKEN", "LAKEHOLD_HOME", "LAKEHOLD_PROFILE"):
            env.pop(name, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lakehold.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._url = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if URL.search(line):
                self._url.set()

    def sign_in_url(self) -> str:
        """The URL the CLI asks the person to open (once it has printed it)."""
        deadline = time.monotonic() + 60
        while not self._url.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(("no sign-in URL", self.finish(1)))
        found = [URL.search(line) for line in self.lines]
        return next(match.group(1) for match in found if match)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)
        errors = self.process.stderr.read() if self.process.stderr else ""
        return self.process.returncode, "".join(self.lines), errors


def saved_token(config: Path, profile: str = "default") -> dict:
    return tomllib.loads((config / "lakehold" / "profiles.toml").read_text())[profile]


@pytest.mark.parametrize("flow", ["device", "loopback"])
def test_login_ends_with_a_working_token_in_the_profile(
    server: str, tmp_path: Path, flow: str
) -> None:
    login = Login(
        ["login", "--provider", "local", "--url", server, "--flow", flow, "--no-browser"],
        tmp_path,
    )
    with ProviderBrowser("alice") as person:
        person.visit(login.sign_in_url())  # and on to the CLI's loopback page, or "success"
        last_page = person.pages[-1]
    code, out, errors = login.finish()

    assert code == 0, (out, errors)
    assert "signed in as alice" in out
    if flow == "device":
        assert "confirm the code" in out and "Sign-in Success" in last_page
    else:
        assert "you may close this window" in last_page
    profile = saved_token(tmp_path)
    assert profile["url"] == server
    me = httpx.get(f"{server}/api/v1/me", headers={"Authorization": f"Bearer {profile['token']}"})
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_login_into_a_named_profile_with_auto_flow(server: str, tmp_path: Path) -> None:
    # auto: the provider offers the device grant, so that is what the CLI uses
    login = Login(["--profile", "work", "login", "--provider", "local", "--url", server], tmp_path)
    url = login.sign_in_url()
    assert "/device" in url
    with ProviderBrowser("bob") as person:
        person.visit(url)
    code, out, errors = login.finish()
    assert code == 0, (out, errors)
    assert saved_token(tmp_path, "work")["token"].startswith("lh_")


def test_login_with_an_unknown_provider_says_which_exist(server: str, tmp_path: Path) -> None:
    code, _, errors = Login(["login", "--provider", "okta", "--url", server], tmp_path).finish()
    assert code == 4
    assert "no sign-in provider 'okta'" in errors and "local, strict" in errors


def test_a_person_the_provider_may_not_create_gets_no_token(server: str, tmp_path: Path) -> None:
    login = Login(
        ["login", "--provider", "strict", "--url", server, "--flow", "loopback", "--no-browser"],
        tmp_path,
    )
    with ProviderBrowser("bob") as person:
        person.visit(login.sign_in_url())
    code, _, errors = login.finish()
    assert code == 3
    assert "no Lakehold account" in errors
    assert not (tmp_path / "lakehold" / "profiles.toml").exists()
