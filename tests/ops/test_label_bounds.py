"""Label values are bounded: project names up to a cap per process, fixed vocabularies
everywhere else; no statement text, user name, token or secret reaches the exposition."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pyarrow as pa
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from lakehold.catalog.tables import DataSource
from lakehold.errors import LakeholdError
from lakehold.kernel import Action
from lakehold.kernel.access import STATEMENT_DECISION
from lakehold.observability.instruments import SHARE_READ_KINDS
from lakehold.observability.metrics import OTHER_PROJECT, PROJECT_LABEL_CAP
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.lineage.events import dataset, run_event
from tests.ops.samples import parsed
from tests.sharing import new_user
from tests.sources.conftest import READER, SOURCES_DB, ensure_sources_database
from tests.webhook_receiver import receiver

CAPPED = """
import json
from prometheus_client import generate_latest
from lakehold.observability import instruments
from lakehold.observability.metrics import PROJECT_LABEL_CAP
for i in range(PROJECT_LABEL_CAP + 25):
    with instruments.table_commit(f"project_{i}", "append"):
        pass
text = generate_latest().decode()
print(json.dumps([line for line in text.splitlines()
                  if line.startswith("lakehold_table_writes_total{")]))
"""


def test_project_labels_are_capped_per_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CAPPED], capture_output=True, text=True, check=True
    )
    lines = json.loads(done.stdout)
    projects = set(re.findall(r'project="([^"]*)"', "\n".join(lines)))
    assert len(projects) == PROJECT_LABEL_CAP + 1
    assert OTHER_PROJECT in projects and "project_0" in projects
    assert f"project_{PROJECT_LABEL_CAP}" not in projects
    other = next(line for line in lines if f'project="{OTHER_PROJECT}"' in line)
    assert other.endswith(" 25.0")


USER = "zora_quietly"
SQL_MARKER = "needle_5e1f"
SECRET = "webhook-secret-kept-quiet-91"
JOB = "job_marker_88"


@pytest.fixture
def scenario(runtime: Runtime, admin: Principal) -> list[str]:
    """A small story run through the services: a user's project, tables, reads and failures,
    lineage, a webhook, a connection; what must never appear in the metrics."""
    runtime.network.allow(admin, "127.0.0.1:*", description="test receivers")
    user, token = new_user(runtime, admin, USER)
    runtime.catalog.create_domain(admin, "Ops")
    runtime.catalog.create_project(user, "hush_project", "Ops")
    rows = pa.table({"id": [1, 2], "note": ["a", "b"]})
    runtime.table_service.create_table(user, "hush_project", "notes", DataSource(rows))
    runtime.table_service.write(user, "hush_project", "notes", DataSource(rows), mode="append")
    runtime.statements.execute(
        user, f"select id, '{SQL_MARKER}' as m from notes", project="hush_project"
    )
    for bad in (f"select {SQL_MARKER} from notes", f"select * from {SQL_MARKER}"):
        with pytest.raises(LakeholdError):
            runtime.statements.execute(user, bad, project="hush_project")
    runtime.lineage.ingest(
        admin, [run_event("COMPLETE", JOB, outputs=[dataset("postgres://db", "public.t")])]
    )
    password = "conn-password-never-seen"
    ensure_sources_database()
    created = runtime.connections.create(
        admin,
        "hush_project",
        "sources_db",
        "postgresql",
        {"host": "127.0.0.1", "port": 5432, "database": SOURCES_DB, "user": READER},
        password=password,
    )
    assert runtime.connections.spec(created.id).kind == "postgresql"  # its secret decrypted
    with receiver() as endpoint:
        runtime.webhooks.create(user, endpoint.url, SECRET, project="hush_project")
        runtime.webhooks.deliver_due()
    return [USER, SQL_MARKER, SECRET, JOB, token, token.split("_", 2)[-1], password, "notes"]


def test_nothing_secret_or_user_chosen_but_project_names(
    scenario: list[str], client: TestClient, admin_token: str
) -> None:
    assert client.get("/api/v1/projects/hush_project").status_code == 200
    assert client.get(f"/api/v1/{SQL_MARKER}/{USER}").status_code == 404
    text = client.get("/metrics").text
    for secret in [*scenario, admin_token, admin_token.split("_", 2)[-1]]:
        assert secret not in text, secret
    routes = {context.path for context in iter_route_contexts(client.app.routes)}
    known = {
        "action": {a.value for a in Action} | {STATEMENT_DECISION},
        "state": {"FINISHED", "FAILED", "ABORTED", "checked_out", "idle"},
        "outcome": {"allowed", "denied", "accepted", "refused", "succeeded", "failed"}
        | {"delivered", "retry"},
        "operation": {
            "create",
            "append",
            "overwrite",
            "merge",
            "cdc",
            "restore",
            "optimize",
            "vacuum",
        },
        "method": {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"},
        "engine": {"duckdb", "ray"},
        "kind": {*SHARE_READ_KINDS, "other"},
        "route": routes | {"unmatched"},
    }
    seen = set()
    for (name, labels), _ in parsed(text).items():
        if not name.startswith("lakehold_"):
            continue
        for key, value in labels:
            seen.add(key)
            if key == "status":
                assert value.isdigit()
            elif key == "key_id":
                assert re.fullmatch(r"[0-9a-f]{8}", value)
            elif key in known:
                assert value in known[key], (name, key, value)
            else:  # names chosen by users, each capped per process
                assert key in ("project", "connection", "version", "le"), (name, key)
    assert {"project", "route", "action", "key_id", "operation"} <= seen
