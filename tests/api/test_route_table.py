"""The in-process app of a path holds the routers of every route that could answer it (ADR 26),
and answers as the full app does: errors, body limits, request ids."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts

from lakehold.api.app import ROUTERS, create_app
from lakehold.api.inprocess import InProcessTransport
from lakehold.api.route_table import PREFIXES, routers_for
from lakehold.client.transport import Request, Response
from lakehold.config import Settings
from lakehold.runtime import Runtime
from tests import store_templates

ROUTER_PACKAGE = "lakehold.api.routers."
PARAM = re.compile(r"\{[^}]+\}")


@pytest.fixture(scope="module")
def full_routes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, re.Pattern[str], str]]:
    """Every route of the full app: its path, its regex, and its router module's name (or the
    module of a route outside the routers: the portal, the OpenAPI document)."""
    home = tmp_path_factory.mktemp("routes") / "home"
    runtime = Runtime(
        Settings(home=home, database_url=store_templates.sqlite_url(home.parent, "m.db"))
    )
    try:
        app = create_app(runtime, recover=False)
        routes = []
        for context in iter_route_contexts(app.routes):
            endpoint = context.endpoint
            module = getattr(endpoint, "__module__", None) or type(context.route).__name__
            name = module.removeprefix(ROUTER_PACKAGE) if module.startswith(ROUTER_PACKAGE) else ""
            routes.append((context.path, context.path_regex, name or f"<{module}>"))
        return routes
    finally:
        runtime.close()


def _samples(routes: list[tuple[str, re.Pattern[str], str]]) -> set[str]:
    """Paths that each route answers, its parameters filled with every literal segment of any
    route (so that a value equal to another route's segment is tried), ``x`` and ``x/y``."""
    words = {"x", "x/y"} | {
        segment for path, _, _ in routes for segment in path.split("/") if "{" not in segment
    }
    words.discard("")
    return {
        sample
        for path, regex, _ in routes
        for word in words
        if regex.match(sample := PARAM.sub(word, path))
    }


def test_every_route_is_in_the_table_with_its_router(full_routes) -> None:
    for path, _, module in full_routes:
        if module.startswith("<"):
            continue
        found = routers_for(PARAM.sub("x", path))
        assert found is not None and module in found, (path, module, found)


def test_a_path_gets_every_router_that_could_answer_it(full_routes) -> None:
    for sample in _samples(full_routes):
        found = routers_for(sample)
        assert routers_for(sample + "/") == found  # a redirect to the slashless path, as served
        if found is None:
            continue  # the full app
        answering = {module for _, regex, module in full_routes if regex.match(sample)}
        assert answering <= set(found), (sample, answering, found)


def test_the_table_names_routers_of_the_app() -> None:
    named = {name for routers in PREFIXES.values() for name in routers}
    assert named <= set(ROUTERS)
    assert routers_for("/") is None
    assert routers_for("/openapi.json") is None
    assert routers_for("/api/v1/domains") == ("domains",)
    assert routers_for("/api/v1/projects/p/assets/a/filters/f") == ("filters",)


class _FullApp(InProcessTransport):
    """The same transport, every request served by the full app."""

    def app_for(self, path: str):  # type: ignore[no-untyped-def]
        if "full" not in self.__dict__:
            self.__dict__["full"] = create_app(self.runtime, recover=False)
        return self.__dict__["full"]


def _seen(response: Response) -> tuple[int, dict, dict[str, str]]:
    body = json.loads(response.body) if response.body else {}
    kept = ("content-type", "x-request-id", "www-authenticate", "location")
    return response.status, body, {k: v for k, v in response.headers.items() if k in kept}


def test_the_partial_app_answers_as_the_full_app(tmp_path: Path, database_url: str) -> None:
    settings = Settings(home=tmp_path / "home", database_url=database_url, max_json_bytes=2048)
    runtime = Runtime(settings)
    try:
        created = runtime.security.bootstrap()
        assert created is not None
        auth = {"Authorization": f"Bearer {created[1]}", "X-Request-ID": "req-12345678"}
        json_auth = {**auth, "Content-Type": "application/json"}
        partial, full = InProcessTransport(runtime), _FullApp(runtime)
        create = Request("POST", "/api/v1/domains", json_auth, b'{"name": "Sales"}')
        assert partial.send(create).status == 201
        assert _seen(partial.send(create)) == _seen(full.send(create))  # 409, named
        requests = [
            Request("GET", "/api/v1/domains", auth),
            Request("GET", "/api/v1/domains/", auth),  # redirected
            Request("GET", "/api/v1/domains", {"X-Request-ID": "req-12345678"}),  # 401
            Request("POST", "/api/v1/domains", json_auth, b'{"name": "A", "colour": 1}'),
            Request("POST", "/api/v1/domains", json_auth, b'{"name": "' + b"a" * 4096 + b'"}'),
            Request("POST", "/api/v1/domains", json_auth, b'{"name": '),
            Request("DELETE", "/api/v1/domains", auth),  # 405
            Request("GET", "/api/v1/projects/nowhere", auth),  # 404 from the service
            Request("GET", "/api/v1/projects/nowhere/assets/a/lineage", auth),
            Request("GET", "/api/v1/statements/socket", auth),  # HTTP: statements' route
            Request("GET", "/api/v1/nothing/here", auth),  # the full app
        ]
        answers = [_seen(partial.send(request)) for request in requests]
        assert answers == [_seen(full.send(request)) for request in requests]
        assert [status for status, _, _ in answers] == [
            200, 307, 401, 400, 413, 400, 405, 404, 404, 404, 404
        ]  # fmt: skip
        assert all(headers["x-request-id"] == "req-12345678" for _, _, headers in answers)
        assert partial.app_for("/api/v1/domains/") is partial.app_for("/api/v1/domains")
    finally:
        runtime.close()
