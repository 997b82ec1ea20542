"""The governance kernel: one registry, one decision point, one audited way to change things."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lakehold.errors import Forbidden, NotFound
from lakehold.kernel import RULES, Action, Allow, allowed, authorize
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.sharing import client_for, new_user

SRC = Path(__file__).resolve().parents[2] / "src" / "lakehold"


def test_every_action_has_a_rule_and_a_dotted_name() -> None:
    assert set(RULES) == set(Action)
    for action, rule in RULES.items():
        assert "." in action.value, action
        assert (rule.allow is Allow.ROLE) == (rule.role is not None), action


def test_no_role_check_outside_the_kernel() -> None:
    """Roles and the admin flag are read only by the kernel (and where a principal or a user
    row is built); every decision elsewhere is authorize() or allowed()."""
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith(("kernel/", "store/")) or relative == "security/principal.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "is_admin"
                and not _building(node, tree)
            ):
                offenders.append(f"{relative}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr in (
                "project_role",
                "has_role",
                "require_role",
                "require_admin",
                "owns_unit",
            ):
                offenders.append(f"{relative}:{node.lineno} {node.attr}")
    assert offenders == []


def _building(node: ast.Attribute, tree: ast.Module) -> bool:
    """``is_admin`` read to build a Principal, a view or a row (``is_admin=user.is_admin``),
    or written to a row (an identity provider's admin groups set the stored flag)."""
    if isinstance(node.ctx, ast.Store):
        return True
    for parent in ast.walk(tree):
        if isinstance(parent, ast.Call) and (
            node in parent.args or any(k.value is node for k in parent.keywords)
        ):
            return True
        if isinstance(parent, ast.Tuple | ast.List) and node in parent.elts:
            return True
    return False


def test_authorize_decides_by_the_registry(runtime: Runtime, admin: Principal) -> None:
    user, _ = new_user(runtime, admin, "ana")
    assert allowed(admin, Action.DOMAIN_CREATE)
    with pytest.raises(Forbidden, match="only administrators may create domains"):
        authorize(user, Action.DOMAIN_CREATE)
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(admin, "retail", "Sales")
    with runtime.store.session() as session:
        from lakehold.catalog.service import find_project

        project = find_project(session, "retail")
        with pytest.raises(NotFound):  # not a member: the project does not exist for her
            authorize(user, Action.TABLE_WRITE, project, session=session)
        assert allowed(admin, Action.TABLE_WRITE, project, session=session)
        with pytest.raises(TypeError):  # a project decision reads roles
            authorize(user, Action.TABLE_WRITE, project)
    assert allowed(user, Action.TOKEN_REVOKE, user.user_id)
    assert not allowed(user, Action.TOKEN_REVOKE, admin.user_id)


def _events(client: TestClient, **params) -> list[dict]:
    response = client.get("/api/v1/audit", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_changes_and_refusals_are_audited_with_their_request(
    runtime: Runtime, admin: Principal, client: TestClient
) -> None:
    created = client.post(
        "/api/v1/domains", json={"name": "Sales"}, headers={"X-Request-ID": "r-1"}
    )
    assert created.status_code == 201 and created.headers["X-Request-ID"] == "r-1"
    [domain] = _events(client, request_id="r-1")
    assert domain["action"] == "domain.create" and domain["allowed"] is True
    assert domain["username"] == "admin" and domain["details"]["domain"] == "Sales"

    assert (
        client.post("/api/v1/projects", json={"name": "retail", "domain": "Sales"}).status_code
        == 201
    )
    [project] = _events(client, action="project.create")
    assert project["project"] == "retail" and project["resource"].startswith("unit:")

    assert client.post("/api/v1/users", json={"username": "ana"}).status_code == 201
    token = client.post("/api/v1/tokens", json={"name": "laptop", "username": "ana"})
    assert token.status_code == 201, token.text
    assert [e["action"] for e in _events(client, action="user.create")] == ["user.create"]
    [issued] = _events(client, action="token.create")
    assert issued["details"]["user"] == "ana" and "value" not in str(issued)

    with client_for(runtime, token.json()["value"]) as ana:
        refused = ana.post("/api/v1/domains", json={"name": "Mine"})
        assert refused.status_code == 403
        request_id = refused.headers["X-Request-ID"]
    [denial] = _events(client, request_id=request_id)
    assert denial["allowed"] is False and denial["username"] == "ana"
    assert denial["action"] == "domain.create"
    assert "only administrators" in denial["reason"]
    assert {e["action"] for e in _events(client, action="token.*")} == {"token.create"}


def test_the_audit_log_has_no_way_to_change_an_event() -> None:
    """Append-only: the code adds and reads events; nothing updates or deletes one."""
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        if "AuditEvent" not in text or "/migrations/" in path.as_posix():
            continue
        for forbidden in ("update(AuditEvent", "delete(AuditEvent", "session.delete(event"):
            assert forbidden not in text, f"{path}: {forbidden}"


def test_table_changes_are_audited(runtime: Runtime, admin: Principal, client: TestClient) -> None:
    """Finding: DELETE .../tables/t answered 204 and left nothing in the audit log."""
    from tests.conftest import SCENARIOS, upload
    from tests.scenarios.helpers import ok, setup_project

    setup_project(client, "retail")
    files = upload(SCENARIOS / "retail_customer.csv")
    ok(client.post("/api/v1/projects/retail/tables", data={"name": "c"}, files=files), 201)
    ok(client.post("/api/v1/projects/retail/tables/c/writes", data={"mode": "append"}, files=files))
    ok(client.post("/api/v1/projects/retail/tables/c/restore", json={"version": 0}))
    vacuum = {"retention_hours": 168, "dry_run": True}
    ok(client.post("/api/v1/projects/retail/tables/c/vacuum", json=vacuum))
    ok(client.post("/api/v1/projects/retail/tables/c/vacuum", json={"retention_hours": 0}), 400)
    assert client.delete("/api/v1/projects/retail/tables/c").status_code == 204
    events = _events(client, action="table.*", project="retail")
    seen = [(e["action"], e["allowed"]) for e in reversed(events)]
    assert seen == [
        ("table.create", True),
        ("table.write", True),
        ("table.restore", True),
        ("table.vacuum", True),
        ("table.vacuum", False),
        ("table.drop", True),
    ]
    assert {e["resource"] for e in events} == {"table:retail.c"}
    assert [e["details"].get("version") for e in reversed(events)][:3] == [0, 1, 2]

    _, token = new_user(runtime, admin, "ana")
    with client_for(runtime, token) as ana:
        refused = ana.delete("/api/v1/projects/retail/tables/c")
        assert refused.status_code == 404  # not a member: the project does not exist for her
    [denied] = _events(client, action="table.drop", allowed=False)
    assert denied["username"] == "ana" and denied["assets"] == ["retail.c"]
