"""The API keeps its OpenAPI contract: schemathesis, bounded, against the real runtime.

Requests generated from ``/openapi.json`` (as the administrator) never get a 5xx, and every
response has a documented status, content type and a body valid against its schema, with its
timestamps in UTC with a ``Z``. Endpoints
that start long work (uploads, crawls, sync runs, connection tests, reindexing, vacuum and
optimize, asynchronous statements, redeliveries) are left out.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lakehold.api.app import create_app
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests import store_templates

LONG_WORK = (
    r"/connections/\{name\}/test$",
    r"/data-sources/\{name\}/runs$",
    r"/sync-jobs/\{name\}/runs$",
    r"/tables$",
    r"/tables/\{table\}/(writes|vacuum|optimize|restore)$",
    r"/catalog/search/reindex$",
    r"/statements$",
    r"/redeliver$",
    r"/statements/events$",  # a stream that never ends
)

TIME_KEY = re.compile(r"(^at$|^timestamp$|_at$|At$|Time$)")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
USER_DATA = re.compile(r"/(query|result)$")  # result rows are the user's values, not ours


def utc_timestamps(_ctx: Any, response: Any, case: Any) -> None:
    """Every timestamp Lakehold writes in a JSON response is UTC with a ``Z``."""
    content_type = response.headers.get("content-type", [""])[0]
    if USER_DATA.search(case.path) or "json" not in content_type or not response.text:
        return  # user data, not JSON, or no body (a 204)
    stack = [response.json()]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and TIME_KEY.search(key) and ISO_TIME.match(item):
                    assert item.endswith("Z"), f"{key}: {item!r} is not UTC with a Z"
                stack.append(item)


@pytest.fixture(autouse=True)
def _node_id(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4.32's lazy schemas read ``Node._nodeid``, which pytest 9.2 no longer has."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the contract is the API's, not the metadata database's."""
    return store_templates.sqlite_url(tmp_path)


@pytest.fixture
def api_schema(runtime: Runtime, admin: Principal):
    """The application's own OpenAPI document, with a little data to find."""
    runtime.catalog.create_domain(admin, "retail", None)
    runtime.catalog.create_project(admin, "shop", "retail", None)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime))


schema = schemathesis.pytest.from_fixture("api_schema").include(
    method=["GET", "POST", "PATCH", "DELETE"]
)
for pattern in LONG_WORK:
    schema = schema.exclude(path_regex=pattern)


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("LAKEHOLD_CONTRACT_EXAMPLES", "5")),  # more to explore
    deadline=None,
    database=None,  # no .hypothesis directory in the work tree
    derandomize=not os.environ.get("LAKEHOLD_CONTRACT_EXAMPLES"),
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_openapi_contract(case, admin_token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            utc_timestamps,
        ],
    )
