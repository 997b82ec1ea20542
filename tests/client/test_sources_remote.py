"""Connections, data sources and sync jobs through the SDK and the CLI against a real server,
reading real PostgreSQL and MariaDB sources as a project owner (not an administrator)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from lakehold.errors import NotFound, SourceUnavailable
from tests.sources import conftest as source_fixtures
from tests.sources.conftest import NETWORK_ALLOW, SourceDb
from tests.sources.test_sync_jobs import insert, ts

pg_source = source_fixtures.pg_source  # the fixtures of federated-source tests
mysql_source = source_fixtures.mysql_source
accounts = source_fixtures.accounts

PASSWORD = "remote-pass-Zt47"
#: product, tables imported, password (PostgreSQL's trust ignores it; MariaDB's reader has none)
SOURCES = {"pg_source": ("PostgreSQL", 3, PASSWORD), "mysql_source": ("MariaDB", 2, None)}


@pytest.fixture(scope="module")
def owner(server) -> str:
    """A token of ``owner``, a user who is no administrator, once the administrator has put
    the test servers on the served process's network allow-list (through the API: the
    server is another process) and made the domain ``Sales``."""
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    for rule in NETWORK_ALLOW:
        allowed = httpx.post(
            f"{server.url}/api/v1/network-rules", json={"rule": rule}, headers=headers
        )
        assert allowed.status_code == 201, allowed.text
    domain = httpx.post(f"{server.url}/api/v1/domains", json={"name": "Sales"}, headers=headers)
    assert domain.status_code == 201, domain.text
    return server.new_user("owner")


@pytest.mark.parametrize("source_name", list(SOURCES))
def test_connection_crawl_and_federated_query(
    sdk, remote_cli, owner: str, source_name: str, request: pytest.FixtureRequest
) -> None:
    source: SourceDb = request.getfixturevalue(source_name)
    product, imported, password = SOURCES[source_name]
    project = f"sales_{source.kind}"
    lh = sdk(owner)
    lh.projects.create(project, "Sales")

    created = lh.connections.create(
        project, "src", source.kind, dict(source.params), password=password
    )
    assert (created.project, created.kind) == (project, source.kind)
    assert created.has_secret == (password is not None)
    shown = remote_cli("connection", "show", f"{project}.src", "--json", token=owner)
    assert json.loads(shown)[0]["params"]["user"] == source.params["user"]
    assert PASSWORD not in shown
    tested = lh.connections.test(project, "src")
    assert tested.ok and product in tested.version and tested.tables >= 3
    assert product in remote_cli("connection", "test", f"{project}.src", token=owner)

    remote_cli(
        "datasource", "create", f"{project}.crawl", "--connection", "src",
        "--schema", source.schema, "--exclude", "tmp_*", "--schedule", "0 3 * * *", token=owner,
    )  # fmt: skip
    assert "0 3 * * *" in remote_cli("datasource", "list", project, token=owner)
    run = json.loads(remote_cli("datasource", "run", f"{project}.crawl", "--json", token=owner))
    assert (run[0]["status"], run[0]["tables_added"]) == ("succeeded", imported)
    assert [r.id for r in lh.data_sources.runs(project, "crawl")] == [run[0]["id"]]
    assert lh.data_sources.get(project, "crawl").last_run_at is not None

    figures = lh.sql(
        f"select count(*) as n, sum(amount) as total, max(customer) as last from {project}.orders"
    ).to_pylist()
    assert figures == [{"n": 2, "total": Decimal("170.50"), "last": "bob"}]

    lh.connections.update(project, "src", description="the shop", password="other-secret")
    listed = remote_cli("connection", "list", project, "--json", token=owner)
    assert [(c["description"], c["has_secret"]) for c in json.loads(listed)] == [("the shop", True)]
    assert "other-secret" not in listed
    remote_cli("datasource", "delete", f"{project}.crawl", token=owner)
    remote_cli("connection", "delete", f"{project}.src", token=owner)
    with pytest.raises(NotFound):
        lh.connections.get(project, "src")


def test_sync_job_runs_and_history(sdk, remote_cli, owner: str, accounts: SourceDb) -> None:
    lh = sdk(owner)
    lh.projects.create("crm", "Sales")
    lh.connections.create("crm", "pg", "postgresql", dict(accounts.params))
    insert(
        accounts,
        f"(1, 'Acme', 'Manufacturing', 1000, false, {ts(1)})",
        f"(2, 'Globex', 'Energy', 2000, false, {ts(2)})",
    )
    created = remote_cli(
        "sync", "create", "crm.accounts", "--connection", "pg", "--table",
        f"{accounts.schema}.account", "--target", "account", "--watermark", "last_modified",
        "--key", "id", "--delete-column", "is_deleted", token=owner,
    )  # fmt: skip
    assert "created sync job crm.accounts -> account" in created
    first = remote_cli("sync", "run", "crm.accounts", token=owner)
    assert "succeeded" in first and "2 read, 2 inserted" in first

    insert(accounts, f"(3, 'Initech', 'Software', 300.50, false, {ts(3)})")
    accounts.execute(
        f"UPDATE {{schema}}.account SET is_deleted = true, last_modified = {ts(4)} WHERE id = 1"
    )
    second = lh.sync_jobs.run("crm", "accounts")
    assert (second.status, second.rows_read, second.rows_inserted, second.rows_deleted) == (
        "succeeded", 2, 1, 1,
    )  # fmt: skip
    assert second.watermark_after == "2024-01-04 10:00:00+00:00"

    history = json.loads(remote_cli("sync", "runs", "crm.accounts", "--json", token=owner))
    assert [r["rows_inserted"] for r in history] == [1, 2] and history[0]["id"] == second.id
    assert [r.rows_inserted for r in lh.sync_jobs.runs("crm", "accounts", limit=1)] == [1]
    shown = json.loads(remote_cli("sync", "show", "crm.accounts", "--json", token=owner))
    assert shown["last_watermark"] == second.watermark_after
    rows = lh.sql("select id, annual_revenue from crm.account order by id").to_pylist()
    assert rows == [
        {"id": 2, "annual_revenue": Decimal("2000.00")},
        {"id": 3, "annual_revenue": Decimal("300.50")},
    ]

    job = lh.sync_jobs.update("crm", "accounts", schedule="*/15 * * * *", description="CRM")
    assert job.next_run_at is not None and job.description == "CRM"
    assert "*/15 * * * *" in remote_cli("sync", "list", "crm", token=owner)
    remote_cli("sync", "delete", "crm.accounts", token=owner)
    assert lh.sync_jobs.list("crm") == []


def test_errors_and_exit_codes(sdk, remote_cli, server, owner: str) -> None:
    lh = sdk(owner)
    lh.projects.create("ops", "Sales")
    params = {"host": "127.0.0.1", "port": 1, "database": "x", "user": "u"}
    lh.connections.create("ops", "down", "mysql", params)
    with pytest.raises(SourceUnavailable) as raised:
        lh.connections.test("ops", "down")
    assert "'down'" in raised.value.message and raised.value.details["request_id"]
    assert "'down'" in remote_cli("connection", "test", "ops.down", token=owner, code=8)
    lh.data_sources.create("ops", "crawl", "down")
    assert "'down'" in remote_cli("datasource", "run", "ops.crawl", token=owner, code=8)
    [failed] = lh.data_sources.runs("ops", "crawl")
    assert failed.status == "failed"
    bad = remote_cli("connection", "create", "ops.x", "--kind", "oracle", token=owner, code=2)
    assert "kind" in bad
    remote_cli("connection", "show", "ops.down", token=server.new_user("outsider"), code=4)
    assert "server's host" in remote_cli("connection", "rotate-key", code=2)
