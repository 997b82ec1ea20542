"""A federated statement reuses its connection's vetted spec for a few seconds without reading
the connection again (:mod:`lakehold.sources.spec_cache`), never at the cost of a check: a
password or target changed by this process is used by the next statement, one changed by
another process and a removed allow-list rule once the cache's bound has passed, a deleted
connection is never used again, and the metadata database is refused even from the cache."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from lakehold.config import Settings
from lakehold.connectors.attach import ConnectionSpec
from lakehold.errors import Invalid, NotFound, SourceUnavailable
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.security.secrets import Secrets
from lakehold.sources.spec_cache import SpecCache
from lakehold.store.sources import Connection
from tests.conftest import POSTGRES
from tests.sources.conftest import SourceDb, Team

SOURCES = ["127.0.0.1:5432", "127.0.0.1:3306", "127.0.0.1:5433"]  # 5433: closed


class CountingSecrets(Secrets):
    """The real secrets, counting decryptions."""

    decrypted = 0

    def decrypt(self, ciphertext: str, *, what: str = "a secret") -> str:
        self.decrypted += 1
        return super().decrypt(ciphertext, what=what)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """No source is allowed by the setting: the tests' administrator stores the rules."""
    return Settings(home=tmp_path / "home", database_url=database_url, network_allow=[])


@pytest.fixture
def secrets(runtime: Runtime) -> CountingSecrets:
    counting = CountingSecrets(runtime.settings)
    runtime.connections.secrets = counting
    return counting


@pytest.fixture
def allowed(runtime: Runtime, admin: Principal) -> None:
    for rule in SOURCES:
        runtime.network.allow(admin, rule)


@pytest.fixture
def mariadb_user(mysql_source: SourceDb) -> Iterator[tuple[str, str]]:
    """A MariaDB user of its own that may read ``mysql_source``, and its password."""
    user, password = f"lh_spec_{uuid.uuid4().hex[:8]}", "first-password"
    hosts = ("127.0.0.1", "%")
    for host in hosts:
        mysql_source.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")
        mysql_source.execute(f"GRANT SELECT, SHOW VIEW ON {{schema}}.* TO '{user}'@'{host}'")
    yield user, password
    for host in hosts:
        mysql_source.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")


def _import(
    runtime: Runtime,
    team: Team,
    source: SourceDb,
    *,
    user: str | None = None,
    password: str | None = None,
) -> str:
    """Connection ``src`` of ``sales`` (as ``user``), its tables crawled: its id."""
    params = {**source.params, **({"user": user} if user else {})}
    view = runtime.connections.create(
        team.owner, "sales", "src", source.kind, params, password=password
    )
    runtime.data_sources.create(team.owner, "sales", "crawl", "src", schemas=[source.schema])
    assert runtime.data_sources.run(team.owner, "sales", "crawl").status == "succeeded"
    return view.id


def _ids(runtime: Runtime, who: Principal) -> list[int]:
    table = runtime.statements.execute(who, "select id from sales.orders order by id").table
    return [row["id"] for row in table.to_pylist()]


def test_a_second_statement_reuses_the_spec_and_a_new_password_is_used_at_once(
    runtime: Runtime,
    team: Team,
    allowed: None,
    secrets: CountingSecrets,
    mysql_source: SourceDb,
    mariadb_user: tuple[str, str],
) -> None:
    user, password = mariadb_user
    connection_id = _import(runtime, team, mysql_source, user=user, password=password)
    cache = runtime.connections.spec_cache
    cache.clear()
    secrets.decrypted = 0

    assert _ids(runtime, team.owner) == [1, 2]
    assert (secrets.decrypted, len(cache)) == (1, 1)
    spec = runtime.connections.spec(connection_id)
    assert _ids(runtime, team.owner) == [1, 2]
    assert secrets.decrypted == 1  # neither spec() nor the second statement decrypted again
    assert runtime.connections.spec(connection_id) is spec

    # A wrong password is used by the very next statement (a stale spec would have reused
    # the pooled database attached with the right one), then the right one again.
    runtime.connections.update(team.owner, "sales", "src", password="wrong-password")
    with pytest.raises(SourceUnavailable, match="src"):
        _ids(runtime, team.owner)
    runtime.connections.update(team.owner, "sales", "src", password=password)
    assert _ids(runtime, team.owner) == [1, 2]
    assert runtime.connections.spec(connection_id).secret == password


def test_a_key_rotation_or_a_deletion_drops_the_cached_specs(
    runtime: Runtime,
    team: Team,
    admin: Principal,
    allowed: None,
    secrets: CountingSecrets,
    pg_source: SourceDb,
) -> None:
    connection_id = _import(runtime, team, pg_source, password="secret-1")
    cache = runtime.connections.spec_cache
    assert _ids(runtime, team.owner) == [1, 2]
    assert len(cache) == 1
    runtime.connections.rotate_key(admin)
    assert len(cache) == 0
    before = secrets.decrypted
    assert runtime.connections.spec(connection_id).secret == "secret-1"
    assert secrets.decrypted == before + 1
    runtime.connections.delete(team.owner, "sales", "src")
    assert len(cache) == 0


def test_a_removed_rule_refuses_the_next_statement_after_the_bound(
    runtime: Runtime, team: Team, admin: Principal, allowed: None, pg_source: SourceDb
) -> None:
    runtime.connections.spec_cache.ttl_s = 0.2
    _import(runtime, team, pg_source)
    assert _ids(runtime, team.owner) == [1, 2]
    runtime.network.remove(admin, "127.0.0.1:5432")
    time.sleep(0.3)  # the cache's bound (SPEC_CACHE_S in production)
    with pytest.raises(Invalid, match="loopback"):
        _ids(runtime, team.owner)
    runtime.network.allow(admin, "127.0.0.1:5432")
    assert _ids(runtime, team.owner) == [1, 2]


def test_the_metadata_database_is_refused_even_from_the_cache(
    runtime: Runtime, team: Team, allowed: None, pg_source: SourceDb, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the metadata store is a SQLite file: no server to guard")
    cache = runtime.connections.spec_cache
    cache.ttl_s = 0.2
    connection_id = _import(runtime, team, pg_source)
    assert _ids(runtime, team.owner) == [1, 2]
    spec = runtime.connections.spec(connection_id)
    # The row is changed behind the service's back (another process, a restored backup)
    # to point at the metadata database: refused once the cache's bound has passed.
    metadata = {**pg_source.params, "database": conninfo_to_dict(POSTGRES)["dbname"]}
    _change_row(runtime, connection_id, params=metadata)
    time.sleep(0.3)
    with pytest.raises(Invalid, match="metadata database"):
        _ids(runtime, team.owner)
    # Even a cached spec (as if vetted before the guard knew the metadata database) is
    # refused.
    cache.put(connection_id, replace(spec, params=metadata), cache.generation)
    with pytest.raises(Invalid, match="metadata database"):
        runtime.connections.spec(connection_id)
    with pytest.raises(Invalid, match="metadata database"):
        _ids(runtime, team.owner)


def _change_row(runtime: Runtime, connection_id: str, **values: object) -> None:
    """Change a connection's row behind the service's back, as another process would."""
    with runtime.store.session() as session:
        row = session.get(Connection, connection_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


def test_a_changed_target_is_used_at_once_and_another_process_change_after_the_bound(
    runtime: Runtime, team: Team, allowed: None, pg_source: SourceDb
) -> None:
    cache = runtime.connections.spec_cache
    cache.ttl_s = 0.2
    connection_id = _import(runtime, team, pg_source)
    assert _ids(runtime, team.owner) == [1, 2]
    # This process changes the target (a closed port): the very next statement uses it,
    # although the old spec and a database attached with it were kept.
    runtime.connections.update(team.owner, "sales", "src", params={"port": 5433})
    with pytest.raises(SourceUnavailable, match="src"):
        _ids(runtime, team.owner)
    runtime.connections.update(team.owner, "sales", "src", params={"port": 5432})
    assert _ids(runtime, team.owner) == [1, 2]
    assert runtime.connections.spec(connection_id).params["port"] == 5432
    # Another process changes it: used once the cache's bound has passed.
    _change_row(runtime, connection_id, params={**pg_source.params, "port": 5433})
    time.sleep(0.3)
    with pytest.raises(SourceUnavailable, match="port 5433"):
        _ids(runtime, team.owner)


def test_a_connection_deleted_by_another_process_is_not_used(
    runtime: Runtime, team: Team, allowed: None, pg_source: SourceDb
) -> None:
    connection_id = _import(runtime, team, pg_source)
    assert _ids(runtime, team.owner) == [1, 2]
    assert runtime.connections.spec_cache.get(connection_id) is not None
    other = Runtime(runtime.settings)  # another process on the same metadata database
    try:
        other.connections.delete(team.owner, "sales", "src")
    finally:
        other.close()
    # This process still holds the spec, but the connection's tables went with it.
    assert runtime.connections.spec_cache.get(connection_id) is not None
    with pytest.raises(NotFound, match="orders"):
        _ids(runtime, team.owner)


def test_a_spec_read_before_an_invalidation_is_not_kept() -> None:
    cache = SpecCache(ttl_s=60)
    spec = ConnectionSpec("src", "postgresql", {"host": "127.0.0.1"})
    read_at = cache.generation  # a statement reads the row...
    cache.invalidate("c1")  # ...this process changes the connection meanwhile...
    cache.put("c1", spec, read_at)  # ...and the statement's spec, vetted from the old row
    assert cache.get("c1") is None
    cache.put("c1", spec, cache.generation)
    assert cache.get("c1") is spec
    cache.clear()
    assert cache.get("c1") is None
