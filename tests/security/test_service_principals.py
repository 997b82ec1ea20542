"""Service principals (ADR 32): created by project owners, client credentials exchanged at
``POST /oauth/token`` (RFC 6749 §4.4) for short-lived tokens scoped to the project, rotation
with overlap, revocation and deletion effective at once, OAuth error formats, failed client
authentications limited per client id in the store, everything audited. SQLite and
PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from lakehold.api.app import create_app
from lakehold.catalog.tables import DataSource
from lakehold.errors import Forbidden, Invalid, NotFound
from lakehold.runtime import Runtime
from lakehold.security.client_credentials import MAX_FAILURES
from lakehold.security.principal import Principal
from lakehold.store.models import (
    AuditEvent,
    LoginFailure,
    SecurityPolicy,
    ServicePrincipal,
    User,
)
from tests.conftest import SCENARIOS
from tests.sharing import add_member, new_user

SP_PATH = "/api/v1/projects/retail/service-principals"


@dataclass
class Org:
    """Domain Sales: project retail (owner ana, viewer vic, table customer) and project
    finance (owner fin, table ledger)."""

    runtime: Runtime
    admin: Principal
    ana: Principal
    ana_token: str
    vic_token: str
    fin_token: str


@pytest.fixture
def org(runtime: Runtime, admin: Principal) -> Org:
    rt = runtime
    ana, ana_token = new_user(rt, admin, "ana")
    vic, vic_token = new_user(rt, admin, "vic")
    fin, fin_token = new_user(rt, admin, "fin")
    rt.catalog.create_domain(admin, "Sales")
    rt.catalog.create_project(ana, "retail", "Sales")
    rt.catalog.create_project(fin, "finance", "Sales")
    add_member(rt, "retail", vic, "viewer")
    customers = DataSource(SCENARIOS / "retail_customer.csv")
    rt.table_service.create_table(ana, "retail", "customer", customers)
    rt.table_service.create_table(fin, "finance", "ledger", customers)
    return Org(rt, admin, ana, ana_token, vic_token, fin_token)


@pytest.fixture
def http(org: Org) -> Iterator[TestClient]:
    """An anonymous client of the app (tokens and credentials set per request)."""
    with TestClient(create_app(org.runtime)) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def _create(http: TestClient, token: str, name: str = "etl", role: str = "contributor") -> dict:
    created = http.post(SP_PATH, json={"name": name, "role": role}, headers=_bearer(token))
    assert created.status_code == 201, created.text
    return created.json()


def _exchange(http: TestClient, client_id: str, secret: str, **form: str):
    return http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        headers=_basic(client_id, secret),
    )


def _token(http: TestClient, client_id: str, secret: str) -> str:
    answer = _exchange(http, client_id, secret)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def _count(http: TestClient, token: str, sql: str):
    return http.post("/api/v1/query", json={"sql": sql}, headers=_bearer(token))


def test_owners_create_members_list_others_are_refused(org: Org, http: TestClient) -> None:
    created = _create(http, org.ana_token)
    assert created["name"] == "etl" and created["project"] == "retail"
    assert created["username"] == "sp-retail-etl" and created["role"] == "contributor"
    assert created["client_id"].startswith("lhsp_") and len(created["client_id"]) == 37
    assert created["client_secret"].startswith("lhsps_") and created["active_secrets"] == 1
    assert created["created_by"] == "ana"

    listed = http.get(SP_PATH, headers=_bearer(org.vic_token))  # a viewer sees it
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()] == ["etl"]
    assert created["client_secret"] not in listed.text and "client_secret" not in listed.text
    secrets = http.get(f"{SP_PATH}/etl/secrets", headers=_bearer(org.vic_token)).json()
    assert [s["active"] for s in secrets] == [True] and "value" not in secrets[0]

    refused = http.post(SP_PATH, json={"name": "x"}, headers=_bearer(org.vic_token))
    assert refused.status_code == 403 and "owners of project 'retail'" in refused.json()["message"]
    for method in ("get", "post"):  # not a member: the project does not exist
        hidden = http.request(method, SP_PATH, json={"name": "x"}, headers=_bearer(org.fin_token))
        assert hidden.status_code == 404 and hidden.json()["field"] == "project"
    gone = http.post(f"{SP_PATH}/etl/secrets", headers=_bearer(org.fin_token))
    assert gone.status_code == 404

    duplicate = http.post(SP_PATH, json={"name": "etl"}, headers=_bearer(org.ana_token))
    assert duplicate.status_code == 409
    for bad in ("Etl", "-etl", "e" * 60, "a b"):
        answer = http.post(SP_PATH, json={"name": bad}, headers=_bearer(org.ana_token))
        assert answer.status_code == 400 and answer.json()["field"] == "name", bad

    members = org.runtime.organisation.list_members(org.ana, "retail")
    assert ("user", "sp-retail-etl", "contributor") in [(m.kind, m.name, m.role) for m in members]
    with org.runtime.store.session() as session:
        user = session.scalar(select(User).where(User.username == "sp-retail-etl"))
        assert user is not None
        assert (user.kind, user.password_hash, user.is_admin, user.active) == (
            "service",
            None,
            False,
            True,
        )


def test_the_token_reads_its_project_and_nothing_else(org: Org, http: TestClient) -> None:
    created = _create(http, org.ana_token)
    answer = _exchange(http, created["client_id"], created["client_secret"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "project:retail"
    assert answer.headers["cache-control"] == "no-store"
    token = body["access_token"]

    me = http.get("/api/v1/me", headers=_bearer(token)).json()
    assert me["username"] == "sp-retail-etl" and me["is_admin"] is False
    counted = _count(http, token, "select count(*) as n from retail.customer")
    assert counted.status_code == 200, counted.text
    assert counted.json()["rows"][0]["n"] > 0
    hidden = _count(http, token, "select count(*) as n from finance.ledger")
    assert hidden.status_code == 404
    assert http.get("/api/v1/projects/finance", headers=_bearer(token)).status_code == 404

    # the form's client_id and client_secret authenticate too
    posted = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert posted.status_code == 200 and posted.json()["access_token"] != token


def test_a_service_principal_mints_no_credentials_and_stays_in_its_project(
    org: Org, http: TestClient
) -> None:
    rt = org.runtime
    created = _create(http, org.ana_token, role="owner")
    token = _token(http, created["client_id"], created["client_secret"])
    headers = _bearer(token)
    minted = http.post("/api/v1/tokens", json={"name": "forever"}, headers=headers)
    assert minted.status_code == 403 and "service principal" in minted.json()["message"]
    another = http.post(SP_PATH, json={"name": "twin"}, headers=headers)
    assert another.status_code == 403  # an owner, but a service principal
    elsewhere = http.post(
        "/api/v1/projects/finance/service-principals", json={"name": "x"}, headers=headers
    )
    assert elsewhere.status_code == 404  # other projects stay unknown to it
    project = http.post(
        "/api/v1/projects", json={"name": "mine", "domain": "Sales"}, headers=headers
    )
    assert project.status_code == 403

    with pytest.raises(Forbidden, match="POST /oauth/token"):  # nor an admin for it
        rt.security.create_token(org.admin, "long", username="sp-retail-etl")
    with pytest.raises(Invalid, match="its own project only"):
        rt.organisation.add_member(org.admin, "finance", "viewer", user="sp-retail-etl")
    rt.organisation.create_group(org.admin, "everyone")
    with pytest.raises(Invalid, match="its own project only"):
        rt.organisation.add_group_member(org.admin, "everyone", "sp-retail-etl")

    # an owning service principal does not keep the project owned: ana stays
    refused = http.delete(
        "/api/v1/projects/retail/members/users/ana", headers=_bearer(org.ana_token)
    )
    assert refused.status_code == 409

    # no password, no portal sign-in
    with TestClient(create_app(rt), base_url="https://testserver") as browser:
        page = browser.get("/login")
        marker = 'name="csrf_token" value="'
        csrf = page.text.split(marker, 1)[1].split('"', 1)[0]
        for password in ("", created["client_secret"], token):
            signed = browser.post(
                "/login",
                data={"username": "sp-retail-etl", "password": password, "csrf_token": csrf},
                follow_redirects=False,
            )
            assert signed.status_code != 303 and "lakehold_session" not in signed.cookies


def test_the_service_refuses_non_owners_and_service_principals(org: Org) -> None:
    rt = org.runtime
    sps = rt.service_principals
    created = sps.create(org.ana, "retail", "loader", "viewer")
    assert created.principal.role == "viewer" and created.secret.value.startswith("lhsps_")
    vic = rt.security.authenticate(org.vic_token)
    with pytest.raises(Forbidden):
        sps.rotate(vic, "retail", "loader")
    fin = rt.security.authenticate(org.fin_token)
    with pytest.raises(NotFound):
        sps.delete(fin, "retail", "loader")
    issued = rt.client_credentials.exchange(
        grant_type="client_credentials",
        client_id=created.principal.client_id,
        client_secret=created.secret.value,
    )
    acting = rt.security.authenticate(issued.value)
    assert acting.service and acting.username == "sp-retail-loader"
    with pytest.raises(Forbidden, match="a service principal may not"):
        sps.rotate(acting, "retail", "loader")
    with pytest.raises(NotFound):  # not "forbidden": finance is not its to know
        sps.create(acting, "finance", "x")
    assert [v.name for v in sps.list(acting, "retail")] == ["loader"]  # a member reads


def test_expired_tokens_are_refused_and_the_policy_caps_the_lifetime(
    org: Org, http: TestClient
) -> None:
    rt = org.runtime
    created = _create(http, org.ana_token)
    rt.client_credentials.token_seconds = 1
    answer = _exchange(http, created["client_id"], created["client_secret"])
    assert answer.json()["expires_in"] == 1
    token = answer.json()["access_token"]
    assert _count(http, token, "select 1 as one").status_code == 200
    time.sleep(1.3)
    refused = _count(http, token, "select 1 as one")
    assert refused.status_code == 401 and "expired" in refused.json()["message"]

    rt.client_credentials.token_seconds = 3600
    with rt.store.session() as session:
        policy = session.get(SecurityPolicy, 1)
        if policy is None:
            session.add(SecurityPolicy(id=1, max_token_lifetime_seconds=120))
        else:
            policy.max_token_lifetime_seconds = 120
    capped = _exchange(http, created["client_id"], created["client_secret"])
    assert capped.json()["expires_in"] == 120


def test_rotation_overlaps_then_old_secrets_stop(org: Org, http: TestClient) -> None:
    created = _create(http, org.ana_token)
    client_id, first = created["client_id"], created["client_secret"]
    first_token = _token(http, client_id, first)
    owner = _bearer(org.ana_token)

    before = datetime.now(UTC)
    rotated = http.post(f"{SP_PATH}/etl/secrets", headers=owner)
    assert rotated.status_code == 201, rotated.text
    second = rotated.json()["client_secret"]
    assert second != first and rotated.json()["client_id"] == client_id
    ends = datetime.fromisoformat(rotated.json()["previous_expire_at"])
    assert timedelta(hours=23, minutes=59) < ends - before <= timedelta(hours=24, seconds=5)
    second_token = _token(http, client_id, second)
    _token(http, client_id, first)  # both work during the overlap
    listed = http.get(f"{SP_PATH}/etl/secrets", headers=owner).json()
    assert [s["active"] for s in listed] == [True, True]
    assert listed[0]["expires_at"] is not None and listed[1]["expires_at"] is None
    assert http.get(f"{SP_PATH}/etl", headers=owner).json()["active_secrets"] == 2

    revoked = http.delete(f"{SP_PATH}/etl/secrets/{listed[0]['id']}", headers=owner)
    assert revoked.status_code == 204
    assert _exchange(http, client_id, first).status_code == 401
    assert _count(http, first_token, "select 1 as one").status_code == 401  # its tokens too
    assert _count(http, second_token, "select 1 as one").status_code == 200

    now = http.post(f"{SP_PATH}/etl/secrets", json={"overlap_seconds": 0}, headers=owner)
    third = now.json()["client_secret"]
    assert _exchange(http, client_id, second).status_code == 401  # ended at once
    _token(http, client_id, third)
    states = http.get(f"{SP_PATH}/etl/secrets", headers=owner).json()
    assert [(s["revoked_at"] is not None, s["active"]) for s in states] == [
        (True, False),
        (False, False),
        (False, True),
    ]
    short = http.post(f"{SP_PATH}/etl/secrets", json={"overlap_seconds": 1}, headers=owner)
    _token(http, client_id, third)
    time.sleep(1.2)
    assert _exchange(http, client_id, third).status_code == 401  # the overlap ended
    _token(http, client_id, short.json()["client_secret"])

    missing = http.delete(f"{SP_PATH}/etl/secrets/{'0' * 32}", headers=owner)
    assert missing.status_code == 404 and missing.json()["field"] == "secret_id"
    too_long = http.post(f"{SP_PATH}/etl/secrets", json={"overlap_seconds": 10**9}, headers=owner)
    assert too_long.status_code == 400 and too_long.json()["field"] == "overlap_seconds"

    reasons = [e.reason for e in _audit(org.runtime, "service_principal.token", allowed=False)]
    assert "the client secret was revoked" in reasons and "the client secret expired" in reasons


def test_deleting_refuses_its_tokens_at_once(org: Org, http: TestClient) -> None:
    created = _create(http, org.ana_token)
    token = _token(http, created["client_id"], created["client_secret"])
    assert _count(http, token, "select 1 as one").status_code == 200
    assert http.delete(f"{SP_PATH}/etl", headers=_bearer(org.vic_token)).status_code == 403
    assert http.delete(f"{SP_PATH}/etl", headers=_bearer(org.ana_token)).status_code == 204

    assert _count(http, token, "select 1 as one").status_code == 401
    assert _exchange(http, created["client_id"], created["client_secret"]).status_code == 401
    assert http.get(SP_PATH, headers=_bearer(org.ana_token)).json() == []
    names = [m.name for m in org.runtime.organisation.list_members(org.ana, "retail")]
    assert "sp-retail-etl" not in names
    again = http.post(SP_PATH, json={"name": "etl"}, headers=_bearer(org.ana_token))
    assert again.status_code == 409 and "not reused" in again.json()["message"]
    with org.runtime.store.session() as session:
        user = session.scalar(select(User).where(User.username == "sp-retail-etl"))
        assert user is not None and user.active is False
        assert user.credentials_valid_after is not None
        assert session.scalar(select(ServicePrincipal)) is None


def test_token_endpoint_errors_are_oauth_errors(org: Org, http: TestClient) -> None:
    created = _create(http, org.ana_token)
    client_id, secret = created["client_id"], created["client_secret"]

    def check(answer, status: int, error: str) -> None:
        assert answer.status_code == status, answer.text
        assert set(answer.json()) == {"error", "error_description"}, answer.text
        assert answer.json()["error"] == error
        assert answer.headers["cache-control"] == "no-store"
        if status == 401:
            assert answer.headers["www-authenticate"].startswith("Basic realm=")

    check(http.post("/oauth/token", headers=_basic(client_id, secret)), 400, "invalid_request")
    check(
        http.post("/oauth/token", json={"grant_type": "client_credentials"}),
        400,
        "invalid_request",
    )
    check(
        http.post(
            "/oauth/token", data={"grant_type": "password"}, headers=_basic(client_id, secret)
        ),
        400,
        "unsupported_grant_type",
    )
    check(
        http.post("/oauth/token", data={"grant_type": "client_credentials"}), 401, "invalid_client"
    )
    check(_exchange(http, client_id, secret + "x"), 401, "invalid_client")
    check(_exchange(http, "lhsp_" + "0" * 32, secret), 401, "invalid_client")
    check(
        _exchange(http, client_id, secret, client_secret=secret), 400, "invalid_request"
    )  # two methods
    check(
        http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic !!!"},
        ),
        401,
        "invalid_client",
    )
    check(_exchange(http, client_id, secret, scope="project:finance"), 400, "invalid_scope")
    granted = _exchange(http, client_id, secret, scope="catalog project:retail")
    assert granted.status_code == 200 and granted.json()["scope"] == "project:retail"
    assert secret not in json.dumps(http.get("/openapi.json").json())
    document = http.get("/openapi.json").json()["paths"]["/oauth/token"]["post"]
    assert "application/x-www-form-urlencoded" in document["requestBody"]["content"]
    assert "OAuthErrorOut" in json.dumps(document["responses"]["401"])


def test_failed_client_authentication_is_limited_per_client_id(org: Org, http: TestClient) -> None:
    rt = org.runtime
    created = _create(http, org.ana_token)
    other = _create(http, org.ana_token, name="other")
    client_id, secret = created["client_id"], created["client_secret"]
    for _ in range(MAX_FAILURES):
        assert _exchange(http, client_id, "lhsps_wrong").status_code == 401
    blocked = _exchange(http, client_id, secret)  # even the right secret, for now
    assert blocked.status_code == 429 and blocked.json()["error"] == "invalid_client"
    assert int(blocked.headers["retry-after"]) > 0
    assert _exchange(http, other["client_id"], other["client_secret"]).status_code == 200

    second = Runtime(rt.settings)  # another process: the same count
    try:
        with TestClient(create_app(second)) as elsewhere:
            assert _exchange(elsewhere, client_id, secret).status_code == 429
    finally:
        second.close()

    with rt.store.session() as session:  # the window ends
        key = f"client:{client_id}"
        assert session.get(LoginFailure, key).failures == MAX_FAILURES
        session.execute(
            update(LoginFailure)
            .where(LoginFailure.key == key)
            .values(window_start=datetime.now(UTC) - timedelta(hours=1))
        )
    assert _exchange(http, client_id, secret).status_code == 200
    with rt.store.session() as session:
        assert session.get(LoginFailure, f"client:{client_id}") is None  # a success clears


def test_exchanges_and_changes_are_audited_without_secrets(org: Org, http: TestClient) -> None:
    created = _create(http, org.ana_token)
    client_id, secret = created["client_id"], created["client_secret"]
    token = _token(http, client_id, secret)
    _exchange(http, client_id, "lhsps_wrong")
    rotated = http.post(f"{SP_PATH}/etl/secrets", headers=_bearer(org.ana_token)).json()
    http.delete(f"{SP_PATH}/etl/secrets/{rotated['secret_id']}", headers=_bearer(org.ana_token))
    http.delete(f"{SP_PATH}/etl", headers=_bearer(org.ana_token))

    (ok,) = _audit(org.runtime, "service_principal.token", allowed=True)
    assert ok.username == "sp-retail-etl" and ok.project == "retail"
    assert ok.details["client_id"] == client_id and ok.details["secret"] == created["secret_id"]
    (failed,) = _audit(org.runtime, "service_principal.token", allowed=False)
    assert failed.reason == "wrong client secret" and failed.user_id is None
    assert failed.details["username"] == "sp-retail-etl"
    for action in (
        "service_principal.create",
        "service_principal.rotate",
        "service_principal.secret_revoke",
        "service_principal.delete",
    ):
        (event,) = _audit(org.runtime, action, allowed=True)
        assert event.username == "ana" and event.project == "retail", action
    with org.runtime.store.session() as session:
        every = json.dumps(
            [[e.details, e.reason] for e in session.scalars(select(AuditEvent))], default=str
        )
    for value in (secret, rotated["client_secret"], token):
        assert value not in every


def _audit(runtime: Runtime, action: str, *, allowed: bool) -> list[AuditEvent]:
    with runtime.store.session() as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.allowed == allowed)
            .order_by(AuditEvent.at)
        )
        events = list(rows)
        session.expunge_all()
        return events


def test_the_local_cli_acts_as_a_service_principal(org: Org) -> None:
    """Without LAKEHOLD_URL, the CLI serves the home in process and exchanges
    LAKEHOLD_CLIENT_ID/SECRET there too."""
    from typer.testing import CliRunner

    from lakehold.cli.main import app

    created = org.runtime.service_principals.create(org.ana, "retail", "local", "viewer")
    settings = org.runtime.settings
    env = {
        "LAKEHOLD_HOME": str(settings.home),
        "LAKEHOLD_DATABASE_URL": settings.resolved_database_url,
        "LAKEHOLD_URL": "",
        "LAKEHOLD_TOKEN": "",
        "LAKEHOLD_CLIENT_ID": created.principal.client_id,
        "LAKEHOLD_CLIENT_SECRET": created.secret.value,
        "COLUMNS": "200",
    }
    runner = CliRunner()
    listed = runner.invoke(app, ["project", "service-principal", "list", "retail"], env=env)
    assert listed.exit_code == 0, listed.output
    assert created.principal.client_id in listed.output
    refused = runner.invoke(app, ["sql", "select * from finance.ledger"], env=env)
    assert refused.exit_code == 4, refused.output  # not found: not its project
    wrong = runner.invoke(app, ["sql", "select 1"], env={**env, "LAKEHOLD_CLIENT_SECRET": "x"})
    assert wrong.exit_code == 3 and "client credentials refused" in wrong.output
