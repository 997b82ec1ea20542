"""Connections and webhooks reach only what the network allow-list allows (ADR 0014).

Pure checks of :func:`lakehold.security.network.check_target` first; then, against the real
PostgreSQL and MariaDB servers and on both metadata stores: the allow-list API and CLI,
the metadata database refused for everyone, privileged roles refused for non-administrators
(at create, test and crawl), connection strings that no password can break, pinned
addresses, webhook targets, and connection tests that cannot stall the server.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pymysql
import pytest
from psycopg.conninfo import conninfo_to_dict
from typer.testing import CliRunner

from lakehold.api.app import create_app
from lakehold.cli.main import app as cli_app
from lakehold.config import Settings
from lakehold.connectors.attach import ConnectionSpec, redact
from lakehold.errors import Invalid, SourceUnavailable
from lakehold.governance import events
from lakehold.runtime import Runtime
from lakehold.security import network
from lakehold.security.network_limits import ProbeLimiter, RateLimited
from lakehold.security.principal import Principal
from tests.conftest import POSTGRES
from tests.sharing import client_for, new_user
from tests.sources import conftest as source_fixtures
from tests.sources.conftest import (
    MARIADB,
    READER,
    SOURCES_DB,
    SOURCES_PG,
    SourceDb,
    Team,
    ensure_sources_database,
)
from tests.webhook_receiver import receiver

team = source_fixtures.team  # the fixtures of federated-source tests
pg_source = source_fixtures.pg_source
mysql_source = source_fixtures.mysql_source

EVIL_PASSWORDS = ["x' host=evil dbname=other", "a b;c\"d'e\\"]
SECRET = "webhook-secret-0123456789"


def fake(mapping: dict[str, list[str]]) -> network.Resolver:
    """A resolver answering from ``mapping`` (unknown names do not resolve)."""

    def resolve(host: str, _port: int) -> list[str]:
        if host in mapping:
            return mapping[host]
        try:
            return [str(network.ipaddress.ip_address(host))]
        except ValueError:
            raise OSError("unknown host") from None

    return resolve


def check(host: str, port: int = 5432, rules=(), *, public=False, **kw) -> str | None:
    return network.check_target(
        host, port, network.parse_rules(rules), public=public, resolver=fake(RESOLVES), **kw
    )


RESOLVES = {
    "public.example": ["93.184.216.34"],
    "db.internal": ["10.1.2.3"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
}


# -- the pure check ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "shared"),
        ("fd00::1", "unique-local"),
        ("fc00::1", "unique-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("localhost", "loopback"),
    ],
)
def test_restricted_addresses_are_refused_without_a_rule(host: str, reason: str) -> None:
    for public in (False, True):
        with pytest.raises(Invalid) as caught:
            check(host, public=public)
        assert reason in caught.value.message and caught.value.details["field"] == "params.host"


def test_rules_allow_networks_names_and_ports() -> None:
    assert check("10.9.9.9", 5432, ["10.0.0.0/8:5432"]) == "10.9.9.9"
    with pytest.raises(Invalid):
        check("10.9.9.9", 5433, ["10.0.0.0/8:5432"])
    assert check("db.internal", 1234, ["db.internal:*"]) == "10.1.2.3"
    assert check("fd00::7", 5432, ["[fd00::/8]:5432"]) == "fd00::7"
    assert check("127.0.0.1", 3306, ["127.0.0.1:3306"]) == "127.0.0.1"
    with pytest.raises(Invalid):  # a name rule does not cover an address given directly
        check("10.1.2.3", 1234, ["db.internal:*"])


def test_public_addresses_only_where_public_is_allowed() -> None:
    assert check("public.example", public=True) == "93.184.216.34"
    with pytest.raises(Invalid, match="not on the network allow-list"):
        check("public.example", public=False)


def test_every_resolved_address_is_checked() -> None:
    with pytest.raises(Invalid, match=r"127\.0\.0\.1, a loopback"):
        check("rebind.example", public=True)


def test_unresolvable_names() -> None:
    with pytest.raises(Invalid, match="does not resolve"):
        check("nowhere.invalid", public=True)
    assert check("nowhere.invalid", public=True, unresolved_ok=True) is None


def test_the_metadata_database_is_refused_whatever_the_rules() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dx"
    endpoint = network.metadata_endpoint(url, fake(RESOLVES))
    assert endpoint is not None and endpoint.local and endpoint.port == 5432
    everything = ["0.0.0.0/0:*", "[::/0]:*"]
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "0.0.0.0"):
        with pytest.raises(Invalid, match="metadata database"):
            check(host, 5432, everything, public=True, metadata=endpoint, database="test")
        with pytest.raises(Invalid, match="metadata database"):
            check(host, 5432, everything, public=True, metadata=endpoint, database="TEST")
    assert check("127.0.0.1", 5432, everything, metadata=endpoint, database="other")
    assert check("127.0.0.1", 5433, everything, metadata=endpoint, database="test")
    socket_url = "postgresql+psycopg://postgres@/test?host=/var/run/postgresql"
    assert network.metadata_endpoint(socket_url).local  # type: ignore[union-attr]
    assert network.metadata_endpoint("sqlite:///x.db") is None


@pytest.mark.parametrize("text", ["nonsense", "10.0.0.0/8:99999", "host:", ":5432", "a b:1"])
def test_bad_rules_name_the_field(text: str) -> None:
    with pytest.raises(Invalid) as caught:
        network.parse_rule(text)
    assert caught.value.details["field"] == "rule"


def test_rate_limit_and_bounded_pool() -> None:
    limiter = ProbeLimiter(workers=1, max_pending=0, per_minute=2)
    release = threading.Event()
    try:
        busy = limiter.submit("u1", release.wait)
        with pytest.raises(RateLimited) as full:  # the pool is busy and nothing may wait
            limiter.submit("u2", lambda: None)
        assert full.value.status_code == 429 and full.value.retry_after > 0
        release.set()
        busy.result(5)
        assert limiter.run("u1", lambda: 42) == 42
        with pytest.raises(RateLimited) as caught:  # u1's third call within a minute
            limiter.run("u1", lambda: 0)
        assert 0 < caught.value.retry_after <= 60
    finally:
        release.set()
        limiter.shutdown()


# -- connection strings and redaction ----------------------------------------------------------


@pytest.mark.parametrize("password", EVIL_PASSWORDS)
def test_a_password_cannot_break_or_extend_the_connection_string(password: str) -> None:
    params = {"host": "db.example", "port": 5432, "database": "sales", "user": "reader"}
    spec = ConnectionSpec("crm", "postgresql", params, password, hostaddr="10.0.0.7")
    parsed = conninfo_to_dict(spec.attach_target())
    assert parsed["password"] == password
    assert parsed["host"] == "db.example" and parsed["hostaddr"] == "10.0.0.7"
    assert parsed["dbname"] == "sales" and parsed["user"] == "reader"
    mysql = ConnectionSpec("shop", "mysql", {**params, "port": 3306}, password, "10.0.0.8")
    assert _parse_mysql_dsn(mysql.attach_target()) == {
        "host": "10.0.0.8",
        "port": "3306",
        "user": "reader",
        "database": "sales",
        "passwd": password,
    }


def _parse_mysql_dsn(dsn: str) -> dict[str, str]:
    """DuckDB's MySQL scanner's parser (mysql_utils.cpp ParseValue), re-written to check."""
    result, pos = {}, 0

    def value() -> str:
        nonlocal pos
        while pos < len(dsn) and dsn[pos].isspace():
            pos += 1
        out = ""
        if dsn[pos] == '"':
            pos += 1
            while dsn[pos] != '"':
                if dsn[pos] == "\\":
                    assert dsn[pos + 1] in '\\"'
                    pos += 1
                out += dsn[pos]
                pos += 1
            pos += 1
        else:
            while pos < len(dsn) and dsn[pos] != "=" and not dsn[pos].isspace():
                out += dsn[pos]
                pos += 1
        return out

    while pos < len(dsn):
        key = value()
        assert dsn[pos] == "="
        pos += 1
        result[key] = value()
    return result


@pytest.mark.parametrize("password", EVIL_PASSWORDS)
def test_redaction_hides_every_form_of_the_password(password: str) -> None:
    spec = ConnectionSpec(
        "crm", "postgresql", {"host": "h", "database": "d", "user": "u"}, password
    )
    target = spec.attach_target()
    for message in (
        f"IO Error: Unable to connect to Postgres at {target}: failed",
        f"Parser Error: ATTACH '{target.replace(chr(39), chr(39) * 2)}' AS src",
        f"password={password} then more",
    ):
        cleaned = redact(message, spec)
        assert password not in cleaned and "evil" not in cleaned and 'c"d' not in cleaned


# -- services, against the real servers --------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """No allow-list entries from the setting: each test's administrator adds its own."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        statement_timeout_seconds=30,
        connection_test_timeout_seconds=5,
    )


@pytest.fixture
def sources_db() -> None:
    ensure_sources_database()


def _pg(user: str, database: str = SOURCES_DB, **extra) -> dict:
    return {"host": "127.0.0.1", "port": 5432, "database": database, "user": user, **extra}


def test_loopback_needs_an_allow_list_entry(runtime: Runtime, team: Team, admin) -> None:
    """The finding: any owner could reach 127.0.0.1:5432 as postgres."""
    for who in (team.owner, admin):
        with pytest.raises(Invalid, match="loopback") as caught:
            runtime.connections.create(who, "sales", "pg", "postgresql", _pg(READER))
        assert caught.value.details["field"] == "params.host"
    runtime.network.allow(admin, "127.0.0.1:5432")
    runtime.connections.create(team.owner, "sales", "pg", "postgresql", _pg(READER))


def test_the_metadata_database_is_never_a_target(
    runtime: Runtime, team: Team, admin, database_url: str
) -> None:
    runtime.network.allow(admin, "127.0.0.1:5432")
    runtime.network.allow(admin, "localhost:*")
    metadata_db = conninfo_to_dict(POSTGRES)["dbname"]
    for host in ("127.0.0.1", "localhost"):
        params = _pg("postgres", metadata_db, host=host)
        if database_url.startswith("sqlite"):  # not the metadata store: a superuser for admins
            runtime.connections.create(admin, "sales", f"m_{host[:3]}", "postgresql", params)
            continue
        for who in (admin, team.owner):
            with pytest.raises(Invalid, match="metadata database") as caught:
                runtime.connections.create(who, "sales", "meta", "postgresql", params)
            assert caught.value.details["field"] == "params.host"


def test_superusers_are_refused_for_non_administrators(
    runtime: Runtime, team: Team, admin, sources_db
) -> None:
    runtime.network.allow(admin, "127.0.0.1:5432")
    runtime.network.allow(admin, "127.0.0.1:3306")
    with pytest.raises(Invalid, match="superuser") as caught:
        runtime.connections.create(team.owner, "sales", "pg", "postgresql", _pg("postgres"))
    assert caught.value.details["field"] == "params.user"
    root = {"host": "127.0.0.1", "port": 3306, "database": "mysql", "user": "root"}
    with pytest.raises(Invalid, match="SUPER") as caught:
        runtime.connections.create(team.owner, "sales", "my", "mysql", root)
    # administrators may use such roles (ADR 0014); a non-administrator's test is refused
    runtime.connections.create(admin, "sales", "pg_admin", "postgresql", _pg("postgres"))
    assert "PostgreSQL" in runtime.connections.test(admin, "sales", "pg_admin").version
    with pytest.raises(Invalid, match="superuser"):
        runtime.connections.test(team.owner, "sales", "pg_admin")


@contextmanager
def _pg_role(*grants: str) -> Iterator[str]:
    """A login role of its own for one test (dropped after), with ``grants`` run for it."""
    role = f"lh_role_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SOURCES_PG, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        try:
            for grant in grants:
                conn.execute(grant.format(role=role))
            yield role
        finally:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_server_file_roles_are_refused_and_rechecked_before_a_crawl(
    runtime: Runtime, team: Team, admin, sources_db
) -> None:
    runtime.network.allow(admin, "127.0.0.1:5432")
    with (
        _pg_role("GRANT pg_read_server_files TO {role}") as reader,
        pytest.raises(Invalid, match="pg_read_server_files"),
    ):
        runtime.connections.create(team.owner, "sales", "files", "postgresql", _pg(reader))
    with _pg_role() as role:
        runtime.connections.create(team.owner, "sales", "pg", "postgresql", _pg(role))
        runtime.data_sources.create(team.owner, "sales", "crawl", "pg")
        with psycopg.connect(SOURCES_PG, autocommit=True) as conn:
            conn.execute(f"GRANT pg_execute_server_program TO {role}")
        with pytest.raises(Invalid, match="pg_execute_server_program"):
            runtime.data_sources.run(team.owner, "sales", "crawl")
        run = runtime.data_sources.runs(team.owner, "sales", "crawl")[0]
        assert run.status == "failed" and "pg_execute_server_program" in str(run.errors)


def test_mariadb_file_privilege_is_refused(runtime: Runtime, team: Team, admin) -> None:
    runtime.network.allow(admin, "127.0.0.1:3306")
    user = f"lh_file_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(**MARIADB, autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE USER '{user}'@'127.0.0.1'")
            cursor.execute(f"GRANT FILE ON *.* TO '{user}'@'127.0.0.1'")
        params = {"host": "127.0.0.1", "port": 3306, "database": "information_schema"}
        params["user"] = user
        with pytest.raises(Invalid, match="FILE") as caught:
            runtime.connections.create(team.owner, "sales", "my", "mysql", params)
        assert caught.value.details["field"] == "params.user"
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
        conn.close()


@pytest.mark.parametrize("password", EVIL_PASSWORDS)
def test_mariadb_gets_the_password_intact_and_errors_never_show_it(
    runtime: Runtime, team: Team, admin, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.network.allow(admin, "127.0.0.1:3306")
    runtime.network.allow(admin, "127.0.0.1:1")
    user = f"lh_pw_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(**MARIADB, autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", [password])
        params = {"host": "127.0.0.1", "port": 3306, "database": "information_schema"}
        runtime.connections.create(
            team.owner, "sales", "my", "mysql", {**params, "user": user}, password=password
        )
        assert "MariaDB" in runtime.connections.test(team.owner, "sales", "my").version
        runtime.connections.update(team.owner, "sales", "my", params={"port": 1})
        runtime.data_sources.create(team.owner, "sales", "crawl", "my")
        with pytest.raises(SourceUnavailable) as caught:
            runtime.data_sources.run(team.owner, "sales", "crawl")
        run = runtime.data_sources.runs(team.owner, "sales", "crawl")[0]
        for text in (caught.value.message, str(run.errors), caplog.text):
            assert password not in text and "evil" not in text
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
        conn.close()


@pytest.mark.parametrize("password", EVIL_PASSWORDS)
def test_postgresql_with_a_hostile_password_reaches_the_right_database(
    runtime: Runtime, team: Team, admin, pg_source: SourceDb, password: str
) -> None:
    runtime.network.allow(admin, "127.0.0.1:5432")
    runtime.network.allow(admin, "127.0.0.1:1")
    view = runtime.connections.create(
        team.owner, "sales", "pg", "postgresql", pg_source.params, password=password
    )
    assert runtime.connections.test(team.owner, "sales", "pg").tables >= 3
    runtime.connections.update(team.owner, "sales", "pg", params={"port": 1})
    with pytest.raises(SourceUnavailable) as caught:
        runtime.connections.test(team.owner, "sales", "pg")
    assert password not in caught.value.message and "evil" not in caught.value.message
    assert view.id


def test_connections_are_pinned_to_the_checked_address(
    runtime: Runtime, team: Team, admin, pg_source: SourceDb, mysql_source: SourceDb
) -> None:
    """Names the system cannot resolve work: the checked address is the one connected to."""
    runtime.network.resolver = fake({"pg.test": ["127.0.0.1"], "my.test": ["127.0.0.1"]})
    runtime.network.allow(admin, "127.0.0.1:5432")
    runtime.network.allow(admin, "127.0.0.1:3306")
    pg = runtime.connections.create(
        team.owner, "sales", "pg", "postgresql", {**pg_source.params, "host": "pg.test"}
    )
    runtime.connections.create(
        team.owner, "sales", "my", "mysql", {**mysql_source.params, "host": "my.test"}
    )
    spec = runtime.connections.spec(pg.id)
    assert spec.hostaddr == "127.0.0.1" and "hostaddr='127.0.0.1'" in spec.attach_target()
    assert "PostgreSQL" in runtime.connections.test(team.owner, "sales", "pg").version
    assert "MariaDB" in runtime.connections.test(team.owner, "sales", "my").version
    runtime.network.resolver = fake({"pg.test": ["169.254.169.254"]})  # the name moved
    with pytest.raises(Invalid, match="link-local"):
        runtime.connections.test(team.owner, "sales", "pg")


# -- the allow-list API and CLI ----------------------------------------------------------------


def test_network_rules_api_is_for_administrators(runtime: Runtime, client, admin) -> None:
    _, token = new_user(runtime, admin, "someone")
    with client_for(runtime, token) as someone:
        assert someone.get("/api/v1/network-rules").status_code == 403
        assert (
            someone.post("/api/v1/network-rules", json={"rule": "10.0.0.0/8:*"}).status_code == 403
        )
    created = client.post(
        "/api/v1/network-rules", json={"rule": "10.0.0.0/8:5432", "description": "replicas"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["rule"] == "10.0.0.0/8:5432" and created.json()["source"] == "stored"
    assert client.post("/api/v1/network-rules", json={"rule": "10.0.0.0/8:5432"}).status_code == 409
    bad = client.post("/api/v1/network-rules", json={"rule": "10.0.0.0/8:nope"})
    assert bad.status_code == 400 and bad.json()["field"] == "rule"
    assert [r["rule"] for r in client.get("/api/v1/network-rules").json()] == ["10.0.0.0/8:5432"]
    with client_for(runtime, token) as someone:
        assert someone.delete("/api/v1/network-rules/10.0.0.0%2F8:5432").status_code == 403
    assert client.delete("/api/v1/network-rules/10.0.0.0%2F8:5432").status_code == 204
    assert client.delete("/api/v1/network-rules/10.0.0.0%2F8:5432").status_code == 404
    assert client.get("/api/v1/network-rules").json() == []
    # both outcomes are audited (newest first), naming the rule
    for action, expected in (
        ("network_rule.create", ["invalid", "conflict", None, "forbidden"]),
        ("network_rule.delete", ["not_found", None, "forbidden"]),
    ):
        audited = runtime.audit.events(admin, action=action)
        assert [e.details.get("error") for e in audited] == expected, action
        assert [e.details["rule"] for e in audited if e.allowed] == ["10.0.0.0/8:5432"]


def test_network_cli(runtime: Runtime, admin_token: str, database_url: str) -> None:
    runner = CliRunner()
    env = {
        "LAKEHOLD_HOME": str(runtime.settings.home),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_TOKEN": admin_token,
        "LAKEHOLD_NETWORK_ALLOW": "127.0.0.1:3306",
        "COLUMNS": "200",
    }

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli_app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    assert "allowed db.internal:*" in cli("network", "allow", "db.internal:*")
    listed = cli("network", "list", "--json")
    assert '"127.0.0.1:3306"' in listed and '"setting"' in listed and '"db.internal:*"' in listed
    cli("network", "allow", "bad rule", code=2)
    cli("network", "remove", "127.0.0.1:3306", code=5)  # from the setting: change the setting
    assert "removed" in cli("network", "remove", "db.internal:*")
    cli("network", "remove", "db.internal:*", code=4)
    for command in ("allow", "list", "remove"):
        assert "Example" in cli("network", command, "--help")


# -- webhooks ----------------------------------------------------------------------------------


def test_webhook_targets_are_checked_at_create_and_update(runtime: Runtime, admin) -> None:
    for url in (
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://10.0.0.1/",
        "http://localhost:8000/",
    ):
        with pytest.raises(Invalid) as caught:
            runtime.webhooks.create(admin, url, SECRET)
        assert caught.value.details["field"] == "url"
    hook = runtime.webhooks.create(admin, "https://hooks.unresolved.invalid/x", SECRET)
    with pytest.raises(Invalid):
        runtime.webhooks.update(admin, hook.id, url="http://169.254.169.254/")


def _emit(runtime: Runtime) -> None:
    with runtime.store.session() as session:
        events.emit(session, events.SUBSCRIPTION_REQUESTED, {"project": None})


def test_webhook_delivery_connects_to_the_checked_address(runtime: Runtime, admin) -> None:
    with receiver() as endpoint:
        port = int(endpoint.url.rsplit(":", 1)[1].split("/")[0])
        runtime.network.resolver = fake({"hooks.test": ["127.0.0.1"]})
        runtime.network.allow(admin, f"127.0.0.1:{port}")
        hook = runtime.webhooks.create(admin, f"http://hooks.test:{port}/hook", SECRET)
        _emit(runtime)
        assert runtime.webhooks.deliver_due() == 1
        assert endpoint.requests and endpoint.requests[0].headers["host"] == f"hooks.test:{port}"
        runtime.network.resolver = fake({"hooks.test": ["169.254.169.254"]})  # rebinding
        _emit(runtime)
        runtime.webhooks.deliver_due()
        assert len(endpoint.requests) == 1
        failed = [d for d in runtime.webhooks.deliveries(admin, hook.id) if d.last_error]
        assert failed and "link-local" in (failed[0].last_error or "")


# -- connection tests cannot stall the server --------------------------------------------------


class SilentServer:
    """A TCP port that accepts connections and never answers, until :meth:`close`."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        """Hang up on every waiting client, and stop listening (clients fail fast now)."""
        self.stop.set()
        self.thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.listener.close()


def test_health_answers_while_connection_tests_hang(
    runtime: Runtime, team: Team, admin: Principal
) -> None:
    """50 tests of a source that never answers: the first fill the probe pool and wait, the
    rest get 429 with Retry-After, and /health answers meanwhile."""
    server = SilentServer()
    try:
        runtime.network.allow(admin, f"127.0.0.1:{server.port}")
        params = {"host": "127.0.0.1", "port": server.port, "database": "d", "user": "u"}
        runtime.connections.create(admin, "sales", "silent", "postgresql", params)
        app = create_app(runtime)

        async def scenario() -> tuple[list[httpx.Response], httpx.Response, int]:
            headers = {"Authorization": f"Bearer {team.owner_token}"}
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://lakehold",
                headers=headers,
                timeout=60,
            ) as http:
                url = "/api/v1/projects/sales/connections/silent/test"
                tests = [asyncio.create_task(http.post(url)) for _ in range(50)]
                while len(server.accepted) < runtime.settings.probe_workers:
                    await asyncio.sleep(0.01)  # every worker now waits for the silent source
                health = await http.get("/health")
                pending = sum(not t.done() for t in tests)
                server.close()
                return await asyncio.gather(*tests), health, pending

        responses, health, pending = asyncio.run(scenario())
    finally:
        server.close()
    assert health.status_code == 200 and pending > 0
    codes = [r.status_code for r in responses]
    assert set(codes) <= {502, 429} and 429 in codes and 502 in codes
    limited = next(r for r in responses if r.status_code == 429)
    assert int(limited.headers["Retry-After"]) > 0 and limited.json()["error"] == "rate_limited"
