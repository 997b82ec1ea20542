"""``GET /metrics``: who may read it (administrators, ``metrics`` tokens that work nowhere
else), what it answers (Prometheus text, scrape-time gauges), and the ``metrics`` scope as the
API and the CLI issue it. SQLite and PostgreSQL."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lakehold import __version__
from lakehold.api.app import create_app
from lakehold.cli.main import app
from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.security.service import METRICS_ONLY
from tests.ops.samples import sample, value_in
from tests.sharing import new_user


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def metrics_token(client: TestClient, name: str = "prometheus") -> str:
    issued = client.post("/api/v1/tokens", json={"name": name, "scopes": ["metrics"]})
    assert issued.status_code == 201, issued.text
    assert issued.json()["scopes"] == ["metrics"]
    return issued.json()["value"]


def test_no_token_401_other_tokens_403_admins_and_metrics_tokens_200(
    client: TestClient, anonymous: TestClient, runtime: Runtime, admin
) -> None:
    assert anonymous.get("/metrics").status_code == 401
    assert anonymous.get("/metrics", headers=bearer("lh_abc_notatoken")).status_code == 401
    _, user_token = new_user(runtime, admin, "ana")
    refused = anonymous.get("/metrics", headers=bearer(user_token))
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "only administrators and tokens with the 'metrics' scope may read the metrics"
    )
    denied = sample("lakehold_decisions_total", action="metrics.read", outcome="denied")
    allowed = sample("lakehold_decisions_total", action="metrics.read", outcome="allowed")

    as_admin = client.get("/metrics")
    assert as_admin.status_code == 200
    assert as_admin.headers["content-type"].startswith("text/plain; version=")
    as_scope = anonymous.get("/metrics", headers=bearer(metrics_token(client)))
    assert as_scope.status_code == 200
    assert sample("lakehold_decisions_total", action="metrics.read", outcome="allowed") == (
        allowed + 2
    )
    assert sample("lakehold_decisions_total", action="metrics.read", outcome="denied") == denied
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_a_metrics_token_works_at_metrics_only(
    client: TestClient, anonymous: TestClient, runtime: Runtime, admin
) -> None:
    token = metrics_token(client)
    for method, path in (
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/projects"),
        ("POST", "/api/v1/query"),
        ("GET", "/scim/v2/Users"),
    ):
        answer = anonymous.request(method, path, headers=bearer(token), json={"sql": "select 1"})
        assert answer.status_code == 403, (path, answer.text)
        if not path.startswith("/scim"):
            assert answer.json()["message"] == METRICS_ONLY
    page = anonymous.get("/account", headers=bearer(token))  # nor the portal
    assert page.status_code == 403
    assert runtime.security.authenticate(token, metrics=True).scopes == {"metrics"}

    scim = client.post(
        "/api/v1/tokens", json={"name": "idp", "scopes": ["scim"], "identity_provider": "okta"}
    ).json()["value"]
    assert anonymous.get("/metrics", headers=bearer(scim)).status_code == 403


def test_only_administrators_issue_it_and_it_holds_no_other_scope(
    client: TestClient, anonymous: TestClient, runtime: Runtime, admin
) -> None:
    _, user_token = new_user(runtime, admin, "ana")
    asked = anonymous.post(
        "/api/v1/tokens", json={"name": "mine", "scopes": ["metrics"]}, headers=bearer(user_token)
    )
    assert asked.status_code == 403
    assert "only administrators may grant the 'metrics' scope" in asked.json()["message"]
    mixed = client.post(
        "/api/v1/tokens",
        json={"name": "both", "scopes": ["metrics", "lineage:write"], "namespaces": ["a://b"]},
    )
    assert mixed.status_code == 400
    assert mixed.json()["field"] == "scopes"
    assert mixed.json()["message"] == "a 'metrics' token holds no other scope"


def test_scrape_time_values_build_and_warehouse_disk(client: TestClient, runtime: Runtime) -> None:
    text = client.get("/metrics").text
    assert value_in(text, "lakehold_build_info", version=__version__) == 1.0
    usage = shutil.disk_usage(runtime.settings.warehouse_path)
    free = value_in(text, "lakehold_warehouse_disk_free_bytes")
    assert value_in(text, "lakehold_warehouse_disk_size_bytes") == usage.total
    assert free is not None and 0 < free <= usage.total
    # the exposition is the Prometheus text format prometheus-client's parser reads back
    assert "# TYPE lakehold_http_requests_total counter" in text
    assert "_created" not in text


def test_the_cli_issues_a_metrics_token(tmp_path, database_url: str) -> None:
    home = tmp_path / "cli-home"
    env = {"LAKEHOLD_HOME": str(home), "LAKEHOLD_DATABASE_URL": database_url, "LAKEHOLD_TOKEN": ""}
    issued = CliRunner().invoke(
        app, ["token", "create", "prometheus", "--scope", "metrics"], env=env
    )
    assert issued.exit_code == 0, issued.output
    value = issued.output.strip().splitlines()[-1]
    listed = CliRunner().invoke(app, ["token", "list"], env=env)
    assert "prometheus" in listed.output and "metrics" in listed.output
    runtime = Runtime(Settings(home=home, database_url=database_url))
    try:
        with TestClient(create_app(runtime, recover=False)) as http:
            assert http.get("/metrics", headers=bearer(value)).status_code == 200
            assert http.get("/api/v1/me", headers=bearer(value)).status_code == 403
    finally:
        runtime.close()
    assert value not in listed.output
