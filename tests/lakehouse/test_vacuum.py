"""Vacuum like Delta Lake: below 168 hours only when an administrator forces it, never below
the table's own ``delta.deletedFileRetentionDuration``; a dry run lists relative file names."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehold.errors import Invalid
from lakehold.lakehouse.tables import DeltaTables
from tests.cli.conftest import cli, cli_env  # noqa: F401  (the CLI fixtures)
from tests.scenarios.helpers import create_table, ok, query, setup_project
from tests.sharing import add_member, client_for, new_user

VACUUM = "/api/v1/projects/p/tables/c/vacuum"


def _rewritten(client) -> None:
    """Table p.c with files no current version needs (two overwrites)."""
    setup_project(client, "p")
    create_table(client, "p", "c", "retail_customer.csv")
    for _ in range(2):
        ok(
            client.post(
                "/api/v1/projects/p/tables/c/writes",
                data={"mode": "overwrite"},
                files={"file": ("x.csv", b"cust_id,cust_name\n9,Extra\n")},
            )
        )


def test_contributor_cannot_vacuum_below_the_minimum(runtime, admin, client) -> None:
    """Finding: a contributor could vacuum with retention 0 and old versions vanished."""
    _rewritten(client)
    bob, token = new_user(runtime, admin, "bob")
    add_member(runtime, "p", bob, "contributor")
    with client_for(runtime, token) as contributor:
        refused = contributor.post(VACUUM, json={"retention_hours": 0})
        assert refused.status_code == 400, refused.text
        body = refused.json()
        assert body["field"] == "retention_hours" and body["minimum"] == 168
        assert "168" in body["message"]
        forced = contributor.post(VACUUM, json={"retention_hours": 0, "force": True})
        assert forced.status_code == 403, forced.text
        dry = ok(contributor.post(VACUUM, json={"retention_hours": 0, "dry_run": True}))
        assert dry["dry_run"] is True and dry["count"] == len(dry["files"]) > 0
        assert all(not f.startswith("/") and "file:" not in f for f in dry["files"])
        assert str(runtime.settings.warehouse_path) not in str(dry)
        default = ok(contributor.post(VACUUM, json={}))
        assert default["count"] == 0 and default["minimum_retention_hours"] == 168
    # nothing went: version 0 is still readable
    assert query(client, "select count(*) as n from p.c version as of 0")[0]["n"] == 6


def test_admin_forces_a_short_retention(runtime, client) -> None:
    _rewritten(client)
    assert client.post(VACUUM, json={"retention_hours": 0}).status_code == 400
    dry = ok(client.post(VACUUM, json={"retention_hours": 0, "dry_run": True, "force": True}))
    done = ok(client.post(VACUUM, json={"retention_hours": 0, "force": True}))
    assert sorted(done["files"]) == sorted(dry["files"]) and done["count"] > 0
    assert done["minimum_retention_hours"] == 0
    folder = runtime.settings.warehouse_path / "p" / "c"
    assert not any((folder / name).exists() for name in done["files"])
    assert query(client, "select count(*) as n from p.c")[0]["n"] == 1
    old = client.post("/api/v1/query", json={"sql": "select * from p.c version as of 0"})
    assert old.status_code == 404, old.text


def _table_with_retention(tables: DeltaTables, interval: str) -> Path:
    path = tables.path_for("p", "kept")
    tables.create(path, pa.table({"n": [0]}), committer="ops")
    tables.write(path, pa.table({"n": [1]}), mode="overwrite", committer="ops")
    DeltaTable(str(path)).alter.set_table_properties(
        {"delta.deletedFileRetentionDuration": interval}
    )
    return path


def test_table_retention_property_is_a_floor_even_when_forced(tmp_path: Path) -> None:
    tables = DeltaTables(tmp_path / "warehouse")
    path = _table_with_retention(tables, "interval 30 days")
    for force in (False, True):
        with pytest.raises(Invalid) as refused:
            tables.vacuum(path, retention_hours=200, force=force, committer="ops")
        assert refused.value.details == {"field": "retention_hours", "minimum": 720}
        assert "delta.deletedFileRetentionDuration" in refused.value.message or not force
    assert tables.vacuum(path, retention_hours=720, committer="ops").files == []


def test_a_shorter_table_property_still_needs_force(tmp_path: Path) -> None:
    tables = DeltaTables(tmp_path / "warehouse")
    path = _table_with_retention(tables, "interval 2 hours")
    with pytest.raises(Invalid, match="at least 168"):
        tables.vacuum(path, retention_hours=0, committer="ops")
    with pytest.raises(Invalid) as refused:
        tables.vacuum(path, retention_hours=1, force=True, committer="ops")
    assert refused.value.details["minimum"] == 2
    assert tables.vacuum(path, retention_hours=2, force=True, committer="ops").files == []


def test_cli_vacuum_needs_force(cli, tmp_path) -> None:  # noqa: F811
    cli("domain", "create", "D")
    cli("project", "create", "p", "--domain", "D")
    data = tmp_path / "t.csv"
    data.write_text("a\n1\n")
    cli("table", "create", "p.t", str(data))
    cli("table", "write", "p.t", str(data), "--mode", "overwrite")
    out = cli("table", "vacuum", "p.t", "--retention-hours", "0", code=2)
    assert "retention_hours" in out and "168" in out
    dry = cli("table", "vacuum", "p.t", "--retention-hours", "0", "--dry-run")
    assert "would remove 1 files" in dry and ".parquet" in dry and str(tmp_path) not in dry
    assert "removed 1 files" in cli("table", "vacuum", "p.t", "--retention-hours", "0", "--force")
