"""Certificates of federated connections: real PostgreSQL and MariaDB servers with TLS, started
here with certificates of a private CA (valid 200 days, expiring in 5, expired), read the way
each protocol starts TLS, recorded, reported by expiry, alerted once per threshold to the
owning project's webhooks, refused by the network rules -- on SQLite and PostgreSQL metadata.

The shared servers of the suite (PostgreSQL 127.0.0.1:5432, MariaDB 127.0.0.1:3306) run
without TLS: they are the ``no_tls`` connections."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pymysql
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from lakehold.api.app import create_app
from lakehold.cli.main import app as cli_app
from lakehold.config import Settings
from lakehold.connectors import tls_probe
from lakehold.errors import Forbidden, Invalid, NotFound, SourceUnavailable
from lakehold.governance.events import CONNECTION_CERTIFICATE_EXPIRING
from lakehold.observability.metrics import CERTIFICATE_EXPIRY
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.sources.scheduler import Scheduler
from lakehold.store.models import OutboxEvent, utcnow
from lakehold.store.sources import Connection
from tests.ops.tls_servers import Authority, Issued, PostgresClusters, Server, mariadb, postgres_bin
from tests.servers import free_port
from tests.sharing import add_member, new_user
from tests.webhook_receiver import receiver

READER = "lakehold_reader"
SECRET = "certificate-hook-secret-91"
CA_NAME = "CN=Lakehold Test Private CA"
#: closed ports stand for servers that are down
DOWN_PORT = 1


@dataclass
class TlsServers:
    """The servers of this module, by name, and the certificates they present."""

    now: datetime
    servers: dict[str, Server]
    issued: dict[str, Issued]
    authority: Authority
    clusters: PostgresClusters

    def params(self, name: str, **extra: object) -> dict:
        server = self.servers[name]
        database = "postgres" if server.kind == "postgresql" else "shop"
        return {
            "host": "127.0.0.1",
            "port": server.port,
            "database": database,
            "user": READER,
            **extra,
        }


def _readers(server: Server) -> None:
    """A role that may only log in (a non-administrator's connection needs one)."""
    if server.kind == "postgresql":
        conninfo = f"host=127.0.0.1 port={server.port} dbname=postgres user=postgres"
        with psycopg.connect(conninfo, sslmode="require", autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {READER} LOGIN")
        return
    conn = pymysql.connect(
        host="127.0.0.1", port=server.port, user="root", ssl={"check_hostname": False}
    )
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE USER '{READER}'@'127.0.0.1'")
        cursor.execute("CREATE DATABASE shop")
        cursor.execute(f"GRANT SELECT ON shop.* TO '{READER}'@'127.0.0.1'")
    conn.close()


@pytest.fixture(scope="module")
def tls() -> Iterator[TlsServers]:
    """Four PostgreSQL servers with ``ssl = on`` and a MariaDB server with TLS, started once."""
    bin_dir = postgres_bin()
    if bin_dir is None or shutil.which("mariadbd") is None:
        pytest.skip("needs PostgreSQL (initdb, pg_ctl) and MariaDB (mariadbd) installed")
    now = datetime.now(UTC)
    authority = Authority()
    issued = {
        "valid": authority.issue("valid.db.test", now + timedelta(days=200, hours=12)),
        "soon": authority.issue("soon.db.test", now + timedelta(days=5, hours=12)),
        "expired": authority.issue("expired.db.test", now - timedelta(days=2, hours=12)),
        "renewing": authority.issue("renewing.db.test", now + timedelta(days=5, hours=12)),
        "maria": authority.issue("maria.db.test", now + timedelta(days=20, hours=12)),
    }
    clusters = PostgresClusters(bin_dir)
    try:
        servers = {
            name: clusters.start(name, issued[name])
            for name in ("valid", "soon", "expired", "renewing")
        }
        with mariadb(issued["maria"]) as maria:
            servers["maria"] = maria
            for server in servers.values():
                _readers(server)
            yield TlsServers(now, servers, issued, authority, clusters)
    finally:
        clusters.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, tls: TlsServers) -> Settings:
    allow = [f"127.0.0.1:{s.port}" for s in tls.servers.values()]
    allow += ["127.0.0.1:5432", "127.0.0.1:3306", f"127.0.0.1:{DOWN_PORT}"]
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        statement_timeout_seconds=30,
        network_allow=allow,
    )


@dataclass
class World:
    """Project ``ops`` (owner alice, viewer carol) and ``other`` (owner bob)."""

    runtime: Runtime
    admin: Principal
    alice: Principal
    alice_token: str
    bob: Principal
    bob_token: str
    carol: Principal
    carol_token: str


@pytest.fixture
def world(runtime: Runtime, admin: Principal) -> World:
    alice, alice_token = new_user(runtime, admin, "alice")
    bob, bob_token = new_user(runtime, admin, "bob")
    carol, carol_token = new_user(runtime, admin, "carol")
    runtime.catalog.create_domain(admin, "Operations")
    runtime.catalog.create_project(alice, "ops", "Operations")
    runtime.catalog.create_project(bob, "other", "Operations")
    add_member(runtime, "ops", carol, "viewer")
    return World(runtime, admin, alice, alice_token, bob, bob_token, carol, carol_token)


def _create(world: World, tls: TlsServers, name: str, **extra: object):
    """Connection ``name`` of ``ops`` to TLS server ``name``, created by alice."""
    kind = tls.servers[name].kind
    return world.runtime.connections.create(
        world.alice, "ops", name, kind, tls.params(name, **extra)
    )


def _all_connections(world: World, tls: TlsServers) -> None:
    """ops: the four TLS servers but the renewing one, two servers without TLS and one that is
    down (the last three created by an administrator: the shared servers are read as root)."""
    for name in ("valid", "soon", "expired", "maria"):
        _create(world, tls, name)
    rt, admin = world.runtime, world.admin
    plain = {"host": "127.0.0.1", "port": 5432, "database": "postgres", "user": "postgres"}
    rt.connections.create(admin, "ops", "plain_pg", "postgresql", plain)
    plain_my = {"host": "127.0.0.1", "port": 3306, "database": "mysql", "user": "root"}
    rt.connections.create(admin, "ops", "plain_my", "mysql", plain_my)
    down = {**plain, "port": DOWN_PORT}
    rt.connections.create(admin, "ops", "down", "postgresql", down)


def _events(runtime: Runtime) -> list[dict]:
    with runtime.store.session() as session:
        rows = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.event_type == CONNECTION_CERTIFICATE_EXPIRING)
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        ).all()
        return [dict(r.payload) for r in rows]


def _checked_at(runtime: Runtime, name: str) -> datetime | None:
    with runtime.store.session() as session:
        return session.scalar(select(Connection.certificate_checked_at).filter_by(name=name))


# -- the probe ---------------------------------------------------------------------------------


def test_the_probe_reads_each_protocols_certificate(tls: TlsServers) -> None:
    for name in ("valid", "expired", "maria"):
        server, issued = tls.servers[name], tls.issued[name]
        found = tls_probe.read_certificate(
            server.kind, issued.common_name, "127.0.0.1", server.port, 5
        )
        assert found is not None and found.not_after == issued.not_after
        assert found.fingerprint == issued.fingerprint
        assert found.subject == f"CN={issued.common_name},O=Lakehold Tests"
        assert found.issuer == CA_NAME
    assert tls_probe.read_certificate("postgresql", "127.0.0.1", "127.0.0.1", 5432, 5) is None
    assert tls_probe.read_certificate("mysql", "127.0.0.1", "127.0.0.1", 3306, 5) is None
    with pytest.raises(SourceUnavailable, match="not a PostgreSQL server"):
        tls_probe.read_certificate("postgresql", "x", "127.0.0.1", 3306, 5)
    with pytest.raises(SourceUnavailable, match=f"127.0.0.1:{DOWN_PORT}"):
        tls_probe.read_certificate("postgresql", "127.0.0.1", "127.0.0.1", DOWN_PORT, 5)


# -- report ------------------------------------------------------------------------------------


def test_report_lists_by_expiry_with_status_and_days_left(world: World, tls: TlsServers) -> None:
    _all_connections(world, tls)  # each create reads the certificate
    report = world.runtime.certificates.report(world.alice)
    assert [(v.connection, v.status, v.days_left) for v in report] == [
        ("expired", "expired", -3),
        ("soon", "expiring", 5),
        ("maria", "expiring", 20),
        ("valid", "ok", 200),
        ("down", "unreachable", None),
        ("plain_my", "no_tls", None),
        ("plain_pg", "no_tls", None),
    ]
    by_name = {v.connection: v for v in report}
    for name in ("valid", "soon", "expired", "maria"):
        view, issued = by_name[name], tls.issued[name]
        assert view.not_after == issued.not_after and view.fingerprint == issued.fingerprint
        assert view.subject == f"CN={issued.common_name},O=Lakehold Tests"
        assert view.issuer == CA_NAME and view.error is None and view.checked_at is not None
        assert (view.project, view.host, view.port) == ("ops", "127.0.0.1", tls.servers[name].port)
    assert by_name["maria"].kind == "mysql"
    assert by_name["plain_pg"].not_after is None and by_name["plain_pg"].error is None
    assert f"127.0.0.1:{DOWN_PORT}" in (by_name["down"].error or "")

    within = world.runtime.certificates.report(world.alice, within_days=7)
    assert [v.connection for v in within] == ["expired", "soon"]
    assert [
        v.connection for v in world.runtime.certificates.report(world.alice, within_days=0)
    ] == ["expired"]
    with pytest.raises(Invalid) as refused:
        world.runtime.certificates.report(world.alice, within_days=-1)
    assert refused.value.details["field"] == "within_days"


def test_only_owners_of_the_connections_project_see_it(world: World, tls: TlsServers) -> None:
    rt = world.runtime
    _create(world, tls, "soon")
    bobs = {"host": "127.0.0.1", "port": 5432, "database": "postgres", "user": "postgres"}
    rt.connections.create(world.admin, "other", "bobs", "postgresql", bobs)
    assert [v.connection for v in rt.certificates.report(world.alice)] == ["soon"]
    assert [v.connection for v in rt.certificates.report(world.bob)] == ["bobs"]
    assert rt.certificates.report(world.carol) == []  # a viewer of ops: not its connections
    assert {(v.project, v.connection) for v in rt.certificates.report(world.admin)} == {
        ("ops", "soon"),
        ("other", "bobs"),
    }
    with pytest.raises(NotFound):
        rt.certificates.recheck(world.bob, "ops", "soon")
    with pytest.raises(Forbidden):
        rt.certificates.recheck(world.carol, "ops", "soon")


def test_api_report_and_recheck(world: World, tls: TlsServers, tmp_path: Path) -> None:
    rt = world.runtime
    _create(world, tls, "soon")
    _create(world, tls, "valid")
    (tmp_path / "files").mkdir()
    rt.connections.create(world.admin, "ops", "folder", "files", {"path": str(tmp_path / "files")})
    before = _checked_at(rt, "soon")
    with TestClient(create_app(rt)) as http:
        alice = {"Authorization": f"Bearer {world.alice_token}"}
        bob = {"Authorization": f"Bearer {world.bob_token}"}
        listed = http.get("/api/v1/connections/certificates", headers=alice)
        assert listed.status_code == 200, listed.text
        assert [(c["connection"], c["status"]) for c in listed.json()] == [
            ("soon", "expiring"),
            ("valid", "ok"),
        ]
        assert listed.json()[0]["days_left"] == 5
        within = http.get("/api/v1/connections/certificates?within_days=30", headers=alice)
        assert [c["connection"] for c in within.json()] == ["soon"]
        assert http.get("/api/v1/connections/certificates", headers=bob).json() == []
        for bad in ("-1", "soon", "99999999"):
            refused = http.get(f"/api/v1/connections/certificates?within_days={bad}", headers=alice)
            assert refused.status_code == 400 and refused.json()["field"] == "within_days"

        checked = http.post("/api/v1/projects/ops/connections/soon/certificate", headers=alice)
        assert checked.status_code == 200, checked.text
        assert checked.json()["fingerprint"] == tls.issued["soon"].fingerprint
        assert _checked_at(rt, "soon") != before
        hidden = http.post("/api/v1/projects/ops/connections/soon/certificate", headers=bob)
        assert hidden.status_code == 404
        not_server = http.post("/api/v1/projects/ops/connections/folder/certificate", headers=alice)
        assert not_server.status_code == 400 and not_server.json()["field"] == "connection"


def test_cli_report_and_check(world: World, tls: TlsServers, database_url: str) -> None:
    rt = world.runtime
    _create(world, tls, "soon")
    _create(world, tls, "expired")
    runner = CliRunner()
    env = {
        "LAKEHOLD_HOME": str(rt.settings.home),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_NETWORK_ALLOW": ",".join(rt.settings.network_allow),
        "LAKEHOLD_TOKEN": world.alice_token,
        "COLUMNS": "200",
    }

    def cli(*args: str) -> str:
        result = runner.invoke(cli_app, ["connection", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    listed = json.loads(cli("certificates", "--within-days", "7", "--json"))
    assert [(c["connection"], c["status"]) for c in listed] == [
        ("expired", "expired"),
        ("soon", "expiring"),
    ]
    table = cli("certificates")
    assert "ops.expired" in table and "ops.soon" in table and "Lakehold Test Private CA" in table
    checked = json.loads(cli("check-certificate", "ops.soon", "--json"))
    assert checked[0]["days_left"] == 5 and checked[0]["issuer"] == CA_NAME
    cli(
        "create", "ops.valid", "--kind", "postgresql", "--host", "127.0.0.1",
        "--port", str(tls.servers["valid"].port), "--database", "postgres", "--user", READER,
        "--sslmode", "require",
    )  # fmt: skip
    assert rt.connections.get(world.alice, "ops", "valid").params["sslmode"] == "require"
    assert "ops.valid" in cli("certificates")
    for command in ("certificates", "check-certificate"):
        assert "Example: lakehold connection" in cli(command, "--help")


# -- TLS parameters ----------------------------------------------------------------------------


def test_tls_modes_reach_the_servers_through_the_scanners(world: World, tls: TlsServers) -> None:
    rt = world.runtime
    _create(world, tls, "expired", sslmode="require")  # libpq: TLS, the chain not verified
    assert "PostgreSQL" in rt.connections.test(world.alice, "ops", "expired").version
    # the MySQL scanner's "required" verifies the chain against the host's trusted CAs: a
    # private CA's certificate fails the test, and is recorded all the same
    _create(world, tls, "maria", ssl_mode="required")
    with rt.store.session() as session:
        session.execute(
            update(Connection).values(certificate_checked_at=None, certificate_tls=None)
        )
    with pytest.raises(SourceUnavailable, match="unable to get local issuer certificate"):
        rt.connections.test(world.alice, "ops", "maria")
    (maria,) = [v for v in rt.certificates.report(world.alice) if v.connection == "maria"]
    assert maria.status == "expiring" and maria.fingerprint == tls.issued["maria"].fingerprint
    rt.connections.update(world.alice, "ops", "maria", params={"ssl_mode": "preferred"})
    assert "MariaDB" in rt.connections.test(world.alice, "ops", "maria").version
    plain = {"host": "127.0.0.1", "port": 5432, "database": "postgres", "user": "postgres"}
    rt.connections.create(
        world.admin, "ops", "plain", "postgresql", {**plain, "sslmode": "require"}
    )
    with rt.store.session() as session:  # as if it had never been checked
        session.execute(
            update(Connection).values(certificate_checked_at=None, certificate_tls=None)
        )
    with pytest.raises(SourceUnavailable, match="does not support SSL"):
        rt.connections.test(world.admin, "ops", "plain")
    # a server without TLS is recorded as such by the test, never the test's own error
    (view,) = [v for v in rt.certificates.report(world.alice) if v.connection == "plain"]
    assert view.status == "no_tls"

    for kind, params, field in (
        ("postgresql", {**plain, "sslmode": "required"}, "params.sslmode"),
        ("postgresql", {**plain, "ssl_mode": "required"}, "params.ssl_mode"),
        ("mysql", {**plain, "port": 3306, "ssl_mode": "require"}, "params.ssl_mode"),
    ):
        with pytest.raises(Invalid) as refused:
            rt.connections.create(world.admin, "ops", "bad", kind, params)
        assert refused.value.details["field"] == field


# -- alerts ------------------------------------------------------------------------------------


def test_thresholds_alert_once_each_to_the_owning_projects_webhooks(
    world: World, tls: TlsServers
) -> None:
    rt = world.runtime
    with receiver() as ops_hook, receiver() as other_hook:
        for endpoint in (ops_hook, other_hook):
            rt.network.allow(world.admin, endpoint.url.split("/")[2], description="test hook")
        rt.webhooks.create(
            world.alice, ops_hook.url, SECRET, project="ops",
            event_types=[CONNECTION_CERTIFICATE_EXPIRING],
        )  # fmt: skip
        rt.webhooks.create(world.bob, other_hook.url, SECRET, project="other")  # every type

        _create(world, tls, "soon")  # 5.5 days left: the 7-day threshold
        _create(world, tls, "valid")  # 200 days left: nothing
        rt.certificates.recheck(world.alice, "ops", "soon")
        rt.connections.test(world.alice, "ops", "soon")
        assert [(e["connection"], e["threshold_days"]) for e in _events(rt)] == [("soon", 7)]

        start = datetime.now(UTC)
        assert rt.certificates.run_due(start + timedelta(hours=12)) == 0  # checked today
        assert rt.certificates.run_due(start + timedelta(days=2)) == 2  # 3.5 days: still 7
        assert rt.certificates.run_due(start + timedelta(days=2)) == 0  # claimed: once a day
        assert Scheduler(rt).tick(start + timedelta(days=5)) == 2  # half a day left: 1
        rt.certificates.run_due(start + timedelta(days=6))  # expired
        rt.certificates.run_due(start + timedelta(days=8))  # still expired: nothing new
        events = _events(rt)
        assert [(e["connection"], e["threshold_days"], e["status"]) for e in events] == [
            ("soon", 7, "expiring"),
            ("soon", 1, "expiring"),
            ("soon", 0, "expired"),
        ]
        assert [e["days_left"] for e in events[1:]] == [0, -1]
        first = events[0]
        assert first["project"] == "ops" and first["kind"] == "postgresql"
        assert first["not_after"] == tls.issued["soon"].not_after.isoformat()
        assert first["fingerprint"] == tls.issued["soon"].fingerprint
        assert first["issuer"] == CA_NAME and first["port"] == tls.servers["soon"].port

        assert rt.webhooks.deliver_due(utcnow() + timedelta(seconds=1)) == 3
        received = ops_hook.events(CONNECTION_CERTIFICATE_EXPIRING)
        assert len(received) == 3 and all(r.signed_with(SECRET) for r in received)
        assert not received[0].signed_with("another-secret")
        thresholds = [r.json["data"]["threshold_days"] for r in received]  # sent in parallel
        assert sorted(thresholds, reverse=True) == [7, 1, 0]
        assert other_hook.events() == []  # another project's webhook hears nothing of ops


def test_an_expired_certificate_alerts_at_once_and_a_renewal_starts_over(
    world: World, tls: TlsServers
) -> None:
    rt = world.runtime
    _create(world, tls, "expired")
    _create(world, tls, "renewing")
    assert sorted((e["connection"], e["threshold_days"]) for e in _events(rt)) == [
        ("expired", 0),
        ("renewing", 7),
    ]
    # the server of "renewing" gets a new certificate, 6.5 days long: alerted again at 7
    server = tls.servers["renewing"]
    renewed = tls.authority.issue("renewing.db.test", datetime.now(UTC) + timedelta(days=6.5))
    tls.clusters.replace_certificate(server, renewed)
    tls.issued["renewing"] = renewed
    deadline = time.monotonic() + 30
    while True:  # the postmaster reloads its TLS settings when it reads the signal
        seen = tls_probe.read_certificate("postgresql", "x", "127.0.0.1", server.port, 5)
        if seen is not None and seen.fingerprint == renewed.fingerprint:
            break
        assert time.monotonic() < deadline, "the server did not reload its certificate"
        time.sleep(0.1)
    view = rt.certificates.recheck(world.alice, "ops", "renewing")
    assert view.fingerprint == renewed.fingerprint and view.days_left == 6
    assert [(e["connection"], e["threshold_days"]) for e in _events(rt)][-1] == ("renewing", 7)
    assert len(_events(rt)) == 3
    rt.certificates.recheck(world.alice, "ops", "renewing")
    assert len(_events(rt)) == 3


# -- network rules -----------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[int, list[int]]]:
    """A TCP port that counts the connections it accepts, closing each once it has read what
    the client sent first."""
    accepted: list[int] = []
    server = socket.create_server(("127.0.0.1", free_port()))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            with conn:
                conn.settimeout(5)
                conn.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_network_rules_refuse_a_forbidden_target_before_any_probe(
    world: World, listener: tuple[int, list[int]]
) -> None:
    rt = world.runtime
    port, accepted = listener
    rt.network.allow(world.admin, f"127.0.0.1:{port}", description="for a while")
    params = {"host": "127.0.0.1", "port": port, "database": "d", "user": READER}
    rt.connections.create(world.alice, "ops", "gone", "postgresql", params)
    assert accepted  # the creation probed it (it answered nothing useful)
    (view,) = rt.certificates.report(world.alice)
    assert view.status == "unreachable" and "closed the connection" in (view.error or "")

    rt.network.remove(world.admin, f"127.0.0.1:{port}")
    accepted.clear()
    before = _checked_at(rt, "gone")
    with pytest.raises(Invalid) as refused:
        rt.certificates.recheck(world.alice, "ops", "gone")
    assert refused.value.details["field"] == "params.host" and "loopback" in refused.value.message
    assert _checked_at(rt, "gone") == before  # nothing written
    assert rt.certificates.run_due(datetime.now(UTC) + timedelta(days=2)) == 1
    (view,) = rt.certificates.report(world.alice)
    assert view.status == "unreachable" and (view.error or "").startswith("refused: ")
    assert accepted == []  # no probe ever reached the forbidden target
    denied = rt.audit.events(world.admin, action="connection.certificate.check", allowed=False)
    assert [e.details.get("connection") for e in denied] == ["gone"]


# -- metric and store --------------------------------------------------------------------------


def _expiry(project: str, connection: str) -> float | None:
    """The value of the certificate expiry gauge for one connection, if it has one."""
    wanted = {"project": project, "connection": connection}
    for metric in CERTIFICATE_EXPIRY.collect():
        for sample in metric.samples:
            if sample.labels == wanted:
                return sample.value
    return None


def test_each_certificate_read_sets_the_expiry_metric(world: World, tls: TlsServers) -> None:
    rt = world.runtime
    _create(world, tls, "maria")
    assert _expiry("ops", "maria") == tls.issued["maria"].not_after.timestamp()
    rt.connections.delete(world.alice, "ops", "maria")
    assert _expiry("ops", "maria") is None


def test_the_migration_matches_the_model(runtime: Runtime) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lakehold.store.models import Base

    def table_of(diff) -> str | None:
        first = diff[0] if isinstance(diff, list) else diff
        part = first[1]
        if hasattr(part, "table"):  # an index or a constraint
            return part.table.name
        if hasattr(part, "name"):  # a table
            return part.name
        return first[2]  # a column: (op, schema, table, ...)

    with runtime.store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diffs if table_of(d) == "connections"] == []
