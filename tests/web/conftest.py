"""The portal's shell, served by the real application on a SQLite home (no one signed in)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.config import Settings
from lakehold.runtime import Runtime


@pytest.fixture(scope="package")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An anonymous client of the whole application (API, pages, static files, docs)."""
    home = tmp_path_factory.mktemp("portal")
    runtime = Runtime(Settings(home=home / "home", database_url=f"sqlite:///{home / 'm.db'}"))
    try:
        with TestClient(create_app(runtime)) as http:
            yield http
    finally:
        runtime.close()
