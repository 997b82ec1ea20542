"""A real OpenID provider for the identity tests: panva's certified ``oidc-provider`` (npm,
pinned in ``package.json``/``package-lock.json``) run by node on 127.0.0.1
(``provider.mjs``), and a browser of its pages driven with httpx (login, consent, device
confirmation forms)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.servers import free_port

HERE = Path(__file__).resolve().parent
WEB_CLIENT = "lakehold-web"
WEB_SECRET = "lakehold-web-secret"
CLI_CLIENT = "lakehold-cli"
KEY_ID = "op-signing-key"


def install() -> None:
    """``npm ci`` in this folder when its node_modules are missing (``.ci/run`` installs
    them before the tests; this covers a test run on its own)."""
    if (HERE / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    npm = shutil.which("npm")
    assert npm, "npm is needed to install the test OpenID provider (tests/identity)"
    subprocess.run(
        [npm, "ci", "--silent", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300
    )


@dataclass
class OpenIdProvider:
    """A running provider: its issuer and the private key it signs ID tokens with."""

    issuer: str
    key: RSAKey
    process: subprocess.Popen[bytes] = field(repr=False)

    def sign(self, claims: dict[str, Any], *, key: RSAKey | None = None) -> str:
        """A JWT of ``claims`` signed with the provider's key (or ``key``), RS256."""
        signer = key or self.key
        header = {"alg": "RS256", "typ": "JWT", "kid": signer.kid}
        return jwt.encode(header, claims, signer)

    def id_token(self, audience: str, subject: str = "alice", **claims: Any) -> str:
        """An ID token as the provider would issue it, changed by ``claims`` (a claim given
        as None is left out), signed with ``key=`` when given."""
        key = claims.pop("key", None)
        now = int(time.time())
        values = {"iss": self.issuer, "sub": subject, "aud": audience, "iat": now}
        values |= {"exp": now + 600, "preferred_username": subject, **claims}
        return self.sign({k: v for k, v in values.items() if v is not None}, key=key)


def signing_key(kid: str = KEY_ID) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@contextmanager
def running_provider(
    *, web_providers: tuple[str, ...] = ("local",), device_flow: bool = True
) -> Iterator[OpenIdProvider]:
    """``provider.mjs`` on a free port while the block runs; its discovery answers first."""
    install()
    node = shutil.which("node")
    assert node, "node is needed to run the test OpenID provider (tests/identity)"
    port = free_port()
    key = signing_key()
    env = {
        **os.environ,
        "PORT": str(port),
        "WEB_PROVIDERS": ",".join(web_providers),
        "DEVICE_FLOW": "1" if device_flow else "0",
        "JWKS": json.dumps({"keys": [key.as_dict(private=True)]}),
        "NODE_NO_WARNINGS": "1",
    }
    process = subprocess.Popen(
        [node, str(HERE / "provider.mjs")],
        cwd=HERE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                errors = process.stderr.read().decode() if process.stderr else ""
                raise AssertionError(f"the OpenID provider stopped: {errors}")
            assert time.monotonic() < deadline, "the OpenID provider did not start in 30 s"
            try:
                found = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1)
                if found.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield OpenIdProvider(issuer, key, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- a browser of the provider's pages ----------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str]


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = Form(values.get("action", ""), values.get("method", "get"), {})
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and values.get("name"):
            self._current.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms_of(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class ProviderBrowser:
    """A person at the provider's pages: follows redirects, fills the login form as
    ``login`` (any password), confirms consent and device codes, until a redirect leaves the
    provider for ``until`` (a URL prefix), which it returns without following."""

    def __init__(self, login: str) -> None:
        self.login = login
        self.http = httpx.Client(timeout=10, follow_redirects=False)
        self.pages: list[str] = []

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ProviderBrowser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def visit(self, url: str, *, until: str | None = None, steps: int = 30) -> str:
        """Go to ``url`` and on; returns the URL left for (``until``) or the last page's."""
        response = self.http.get(url)
        for _ in range(steps):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if until is not None and target.startswith(until):
                    return target
                response = self.http.get(target)
                continue
            assert response.status_code == 200, (response.status_code, response.text[:500])
            self.pages.append(response.text)
            forms = [f for f in forms_of(response.text) if f.action]
            if not forms:
                return str(response.url)
            form = forms[0]
            data = dict(form.fields)
            if "login" in data:
                data.update(login=self.login, password="any password")
            action = urljoin(str(response.url), form.action)
            response = self.http.post(action, data=data)
        raise AssertionError(f"no end after {steps} steps at {response.url}")
