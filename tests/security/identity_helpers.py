"""Helpers of the identity-core tests: a second process on the same database, a clock for the
credential cache, browsers signed in to the portal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.config import Settings
from lakehold.runtime import Runtime
from tests.web.browsers import sign_in

PASSWORD = "correct horse battery"


class Ticks:
    """A monotonic clock the tests move (for :class:`CredentialCache`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def other_process(settings: Settings) -> Iterator[tuple[Runtime, Ticks]]:
    """Another API process on the same metadata database (its own runtime, engine and
    credential cache), whose cache clock the test moves."""
    runtime = Runtime(settings.model_copy())
    ticks = Ticks()
    runtime.security.cache.clock = ticks
    try:
        yield runtime, ticks
    finally:
        runtime.close()


@contextmanager
def api(runtime: Runtime, token: str | None = None) -> Iterator[TestClient]:
    """An HTTP client of ``runtime``'s app, as ``token``."""
    with TestClient(create_app(runtime)) as http:
        if token:
            http.headers["Authorization"] = f"Bearer {token}"
        yield http


@contextmanager
def browser(runtime: Runtime, username: str, password: str = PASSWORD) -> Iterator[TestClient]:
    """A browser (HTTPS, redirects not followed) signed in to ``runtime``'s portal."""
    with TestClient(
        create_app(runtime), base_url="https://testserver", follow_redirects=False
    ) as http:
        assert sign_in(http, username, password).status_code == 303
        yield http


def signed_in(http: TestClient) -> bool:
    """Whether the browser's session still opens a page (else: sent to sign in)."""
    response = http.get("/sessions")
    if response.status_code == 200:
        return True
    assert response.status_code == 303 and "/login" in response.headers["location"], response
    return False
