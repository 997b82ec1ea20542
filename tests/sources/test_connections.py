"""Connections: encryption at rest, owner-only access, tests of reachability, deletion."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from lakehold.config import Settings
from lakehold.errors import Conflict, Forbidden, Invalid, NotFound, SourceUnavailable
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.sources import Connection
from tests.sources.conftest import SourceDb, Team

PASSWORD = "pg-Secr3t-never-shown"


def _create(runtime: Runtime, team: Team, source: SourceDb, name: str = "warehouse", **kw):
    return runtime.connections.create(
        team.owner, team.project, name, source.kind, source.params, **kw
    )


def test_password_is_encrypted_at_rest_and_never_returned(
    runtime: Runtime, team: Team, pg_source: SourceDb
) -> None:
    view = _create(runtime, team, pg_source, password=PASSWORD)
    assert view.has_secret and PASSWORD not in repr(view)
    with runtime.store.session() as session:
        stored = session.scalar(select(Connection).where(Connection.name == "warehouse"))
        assert stored.secret_ciphertext and PASSWORD not in stored.secret_ciphertext
        assert "password" not in stored.params
    spec = runtime.connections.spec(view.id)
    assert spec.secret == PASSWORD and PASSWORD not in repr(spec)


def test_owner_only(runtime: Runtime, team: Team, pg_source: SourceDb) -> None:
    _create(runtime, team, pg_source)
    with pytest.raises(NotFound):
        runtime.connections.get(team.outsider, team.project, "warehouse")
    with pytest.raises(Forbidden):
        runtime.connections.get(team.viewer, team.project, "warehouse")
    with pytest.raises(Forbidden):
        runtime.connections.create(team.viewer, team.project, "x", "sqlite", {"path": "/tmp/x"})
    with pytest.raises(NotFound):
        runtime.connections.list(team.outsider, team.project)
    assert [c.name for c in runtime.connections.list(team.owner, team.project)] == ["warehouse"]


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("oracle", {}, "kind"),
        ("postgresql", {"user": "postgres"}, "params.database"),
        ("postgresql", {"database": "d", "user": "u", "port": 70000}, "params.port"),
        ("postgresql", {"database": "d", "user": "u", "password": "x"}, "params.password"),
        ("mysql", {"database": "d", "user": "u", "colour": "red"}, "params.colour"),
        ("sqlite", {"path": "relative.db"}, "params.path"),
        ("files", {}, "params.path"),
    ],
)
def test_bad_input_names_the_field(
    runtime: Runtime, team: Team, kind: str, params: dict, field: str
) -> None:
    with pytest.raises(Invalid) as caught:
        runtime.connections.create(team.owner, team.project, "c", kind, params)
    assert caught.value.details["field"] == field


def test_paths_inside_lakehold_home_are_refused(runtime: Runtime, team: Team) -> None:
    with pytest.raises(Invalid) as caught:
        runtime.connections.create(
            team.owner,
            team.project,
            "meta",
            "sqlite",
            {"path": str(runtime.settings.home / "lakehold.db")},
        )
    assert caught.value.details["field"] == "params.path"
    with pytest.raises(Invalid):
        runtime.connections.create(
            team.owner, team.project, "all", "files", {"path": str(runtime.settings.home.parent)}
        )


def test_the_metadata_file_is_refused_wherever_it_lives(tmp_path: Path) -> None:
    """A SQLite metadata store outside the home (LAKEHOLD_DATABASE_URL) is still Lakehold's own:
    no SQLite connection to it, no folder connection holding it, even for administrators."""
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{elsewhere / 'meta.db'}",
        source_roots=[tmp_path],
    )
    runtime = Runtime(settings)
    try:
        admin = runtime.security.authenticate(runtime.security.bootstrap()[1])
        runtime.catalog.create_domain(admin, "Ops")
        runtime.catalog.create_project(admin, "ops", "Ops")
        for kind, path in (("sqlite", elsewhere / "meta.db"), ("files", elsewhere)):
            with pytest.raises(Invalid) as caught:
                runtime.connections.create(admin, "ops", f"meta_{kind}", kind, {"path": str(path)})
            assert caught.value.details["field"] == "params.path"
    finally:
        runtime.close()


def test_duplicate_name_conflicts(runtime: Runtime, team: Team, pg_source: SourceDb) -> None:
    _create(runtime, team, pg_source)
    with pytest.raises(Conflict):
        _create(runtime, team, pg_source)


def test_test_reports_version(
    runtime: Runtime,
    team: Team,
    pg_source: SourceDb,
    mysql_source: SourceDb,
    sqlite_source: SourceDb,
    files_source,
) -> None:
    _create(runtime, team, pg_source, "pg")
    _create(runtime, team, mysql_source, "my")
    _create(runtime, team, sqlite_source, "lite")
    runtime.connections.create(team.owner, "sales", "folder", "files", {"path": str(files_source)})
    assert "PostgreSQL" in runtime.connections.test(team.owner, "sales", "pg").version
    assert "MariaDB" in runtime.connections.test(team.owner, "sales", "my").version
    assert runtime.connections.test(team.owner, "sales", "lite").tables == 3
    assert runtime.connections.test(team.owner, "sales", "folder").tables == 5


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_test_of_a_down_source_is_unavailable(runtime: Runtime, team: Team, kind: str) -> None:
    params = {"host": "127.0.0.1", "port": 1, "database": "test", "user": "u"}
    runtime.connections.create(team.owner, "sales", "down", kind, params, password=PASSWORD)
    with pytest.raises(SourceUnavailable) as caught:
        runtime.connections.test(team.owner, "sales", "down")
    assert "'down'" in caught.value.message and PASSWORD not in caught.value.message


def test_update_merges_params_and_replaces_password(
    runtime: Runtime, team: Team, pg_source: SourceDb
) -> None:
    view = _create(runtime, team, pg_source, password="old-password")
    changed = runtime.connections.update(
        team.owner, "sales", "warehouse", params={"port": 5433}, password="new-password"
    )
    assert changed.params["port"] == 5433 and changed.params["user"] == pg_source.params["user"]
    with runtime.store.session() as session:  # the source is down now: read the row
        stored = session.get(Connection, view.id)
        assert runtime.secrets.decrypt(stored.secret_ciphertext) == "new-password"
    cleared = runtime.connections.update(team.owner, "sales", "warehouse", clear_password=True)
    assert not cleared.has_secret


def test_delete(runtime: Runtime, team: Team, sqlite_source: SourceDb) -> None:
    _create(runtime, team, sqlite_source)
    runtime.connections.delete(team.owner, "sales", "warehouse")
    with pytest.raises(NotFound):
        runtime.connections.get(team.owner, "sales", "warehouse")


def test_rotate_key_is_for_administrators(runtime: Runtime, team: Team, admin: Principal) -> None:
    with pytest.raises(Forbidden):
        runtime.connections.rotate_key(team.owner)
    assert runtime.connections.rotate_key(admin) == 0


def test_delete_is_refused_while_an_asset_is_granted(
    runtime: Runtime, team: Team, admin: Principal, sqlite_source: SourceDb
) -> None:
    from lakehold.store.models import Asset, Grant

    _create(runtime, team, sqlite_source)
    runtime.data_sources.create(team.owner, "sales", "crawl", "warehouse")
    runtime.data_sources.run(team.owner, "sales", "crawl")
    with runtime.store.session() as session:
        orders = session.scalar(select(Asset).where(Asset.name == "orders"))
        session.add(
            Grant(asset_id=orders.id, project_id=orders.project_id, created_by=admin.user_id)
        )
    with pytest.raises(Conflict) as caught:
        runtime.connections.delete(team.owner, "sales", "warehouse")
    assert "sales.orders" in caught.value.message and "customers" not in caught.value.message
    with runtime.store.session() as session:
        session.query(Grant).delete()
    runtime.connections.delete(team.owner, "sales", "warehouse")
    with runtime.store.session() as session:
        assert session.scalar(select(Asset).where(Asset.name == "orders")) is None


def test_file_connections_of_non_admins_stay_under_the_source_roots(
    runtime: Runtime, admin: Principal, team: Team, tmp_path: Path
) -> None:
    """A project owner cannot read the server's files: only folders under
    LAKEHOLD_SOURCE_ROOTS; administrators may register any folder outside Lakehold's own."""
    for kind, path in (("files", "/etc"), ("sqlite", "/etc/passwd")):
        with pytest.raises(Invalid) as caught:
            runtime.connections.create(team.owner, "sales", "outside", kind, {"path": path})
        assert caught.value.details["field"] == "params.path"
    inside = tmp_path / "drop"
    inside.mkdir()
    runtime.connections.create(team.owner, "sales", "inside", "files", {"path": str(inside)})
    with pytest.raises(Invalid):
        runtime.connections.update(team.owner, "sales", "inside", params={"path": "/etc"})
    runtime.connections.create(admin, "sales", "etc", "files", {"path": "/etc"})
