"""Users, tokens, the network allow-list, the audit log and lineage through the SDK and the CLI
against a real server."""

from __future__ import annotations

import json

import pytest

from lakehold.errors import Conflict, Forbidden, NotFound, Unauthorized
from tests.lineage.events import dataset, run_event

ORDERS = "postgres://db:5432"  # namespaces and names with "/" travel percent-encoded
AIRFLOW = "airflow://prod"


def test_users_and_tokens_through_the_sdk(sdk) -> None:
    admin = sdk()
    user = admin.users.create("ana", display_name="Ana")
    assert (user.username, user.is_admin) == ("ana", False)
    assert "ana" in [u.username for u in admin.users.list()]
    with pytest.raises(Conflict):
        admin.users.create("ana")
    issued = admin.tokens.create("laptop", username="ana")
    assert issued.username == "ana" and issued.value and issued.value.startswith("lh_")
    ana = sdk(issued.value)
    assert ana.me().username == "ana"
    with pytest.raises(Forbidden):
        ana.users.list()
    assert [t.name for t in ana.tokens.list()] == ["laptop"]
    assert all(t.value is None for t in admin.tokens.list())  # values are shown once
    ana.tokens.revoke(issued.id)
    with pytest.raises(Unauthorized):
        ana.me()
    assert next(t for t in admin.tokens.list() if t.id == issued.id).revoked


def test_users_and_tokens_through_the_remote_cli(remote_cli, sdk) -> None:
    assert "created user bob" in remote_cli("user", "create", "bob")
    assert "bob" in remote_cli("user", "list")
    value = remote_cli("token", "create", "cli", "--user", "bob").strip().splitlines()[-1]
    assert sdk(value).me().username == "bob"
    listed = remote_cli("token", "list", token=value)
    assert "cli" in listed and "bob" in listed
    token_id = next(t.id for t in sdk(value).tokens.list() if t.name == "cli")
    assert "revoked" in remote_cli("token", "revoke", token_id, token=value)
    assert "has been revoked" in remote_cli("token", "list", token=value, code=3)
    assert "namespaces" in remote_cli(
        "token", "create", "ol", "--user", "bob", "--scope", "lineage:write", code=2
    )


def test_network_rules(sdk, remote_cli) -> None:
    admin = sdk()
    view = admin.network_rules.allow("10.0.0.0/8:5432", "warehouse replicas")
    assert (view.rule, view.source, view.created_by) == ("10.0.0.0/8:5432", "stored", "admin")
    with pytest.raises(Conflict):
        admin.network_rules.allow("10.0.0.0/8:5432")
    assert "allowed db.internal:*" in remote_cli("network", "allow", "db.internal:*")
    listed = json.loads(remote_cli("network", "list", "--json"))
    assert {r["rule"] for r in listed} >= {"10.0.0.0/8:5432", "db.internal:*"}
    admin.network_rules.remove("10.0.0.0/8:5432")  # by its text, a "/" in it
    internal = next(r["id"] for r in listed if r["rule"] == "db.internal:*")
    assert "removed" in remote_cli("network", "remove", internal)
    assert [r.rule for r in admin.network_rules.list()] == []
    with pytest.raises(NotFound):
        admin.network_rules.remove("db.internal:*")
    remote_cli("network", "list", token=_user(sdk, "carol"), code=3)


def test_audit_events_carry_the_request_id_of_a_cli_command(
    sdk, remote_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOLD_REQUEST_ID", "cli-run-42")
    remote_cli("user", "create", "dan")
    remote_cli("token", "create", "dan-laptop", "--user", "dan")
    monkeypatch.delenv("LAKEHOLD_REQUEST_ID")
    admin = sdk()
    created = admin.audit.events(username="admin", action="user.create")
    assert [e.request_id for e in created if e.details.get("username") == "dan"] == ["cli-run-42"]
    tokens = admin.audit.events(username="admin", action="token.*", allowed=True)
    assert "cli-run-42" in [e.request_id for e in tokens]
    one_command = admin.audit.events(request_id="cli-run-42")
    assert {e.action for e in one_command} >= {"user.create", "token.create"}
    assert all(e.request_id == "cli-run-42" and e.username == "admin" for e in one_command)
    out = remote_cli("audit", "--user", "admin", "--action", "user.create", "--json")
    assert "cli-run-42" in {e["request_id"] for e in json.loads(out)}
    with pytest.raises(Forbidden):
        sdk(_user(sdk, "erin")).audit.events()


def test_lineage_posted_with_a_scoped_token_reads_back_as_marquez(
    sdk, remote_cli, tmp_path
) -> None:
    admin = sdk()
    admin.users.create("flow")
    writer = admin.tokens.create(
        "airflow", username="flow", scopes=["lineage:write"], namespaces=[AIRFLOW, "postgres://*"]
    ).value
    assert writer
    lineage = sdk(writer).lineage
    start = run_event("START", "etl.orders", namespace=AIRFLOW, inputs=[dataset(ORDERS, "raw")])
    assert (lineage.send(start).accepted, lineage.send(start).duplicates) == (1, 1)
    done = run_event(
        "COMPLETE",
        "etl.orders",
        run_id=start["run"]["runId"],
        namespace=AIRFLOW,
        inputs=[dataset(ORDERS, "raw")],
        outputs=[dataset(ORDERS, "public/orders", "id", "amount")],
    )
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(done) + "\n")
    assert "accepted 1, duplicates 0" in remote_cli("lineage", "send", str(events), token=writer)
    plain = _user(sdk, "gus")
    assert "lineage:write" in remote_cli("lineage", "send", str(events), token=plain, code=3)

    reader = sdk(plain)
    assert {ORDERS, AIRFLOW} <= {n["name"] for n in reader.lineage.namespaces()["namespaces"]}
    assert reader.lineage.namespace(ORDERS)["name"] == ORDERS
    found = reader.lineage.datasets(ORDERS)
    assert found["totalCount"] == 2
    orders = reader.lineage.dataset(ORDERS, "public/orders")
    assert [f["name"] for f in orders["fields"]] == ["id", "amount"]
    assert reader.lineage.dataset_versions(ORDERS, "public/orders")["totalCount"] >= 1
    job = reader.lineage.job(AIRFLOW, "etl.orders")
    assert [o["name"] for o in job["outputs"]] == ["public/orders"]
    assert "etl.orders" in [j["name"] for j in reader.lineage.jobs(AIRFLOW)["jobs"]]
    assert reader.lineage.jobs()["totalCount"] >= 1
    runs = reader.lineage.runs(AIRFLOW, "etl.orders")["runs"]
    assert [r["id"] for r in runs] == [start["run"]["runId"]]
    assert reader.lineage.run(start["run"]["runId"])["state"] == "COMPLETED"
    graph = reader.lineage.graph(f"dataset:{ORDERS}:public/orders", depth=1)
    assert f"job:{AIRFLOW}:etl.orders" in {n["id"] for n in graph["graph"]}
    shown = remote_cli("lineage", "show", f"job:{AIRFLOW}:etl.orders")
    assert f"dataset:{ORDERS}:raw" in shown
    assert "public/orders" in remote_cli("lineage", "datasets", ORDERS)
    with pytest.raises(NotFound):
        reader.lineage.dataset(ORDERS, "nope")


def _user(sdk, username: str) -> str:
    """A token of a new non-administrator ``username``."""
    admin = sdk()
    admin.users.create(username)
    return admin.tokens.create(f"{username}-token", username=username).value or ""
