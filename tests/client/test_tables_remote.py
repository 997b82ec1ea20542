"""Tables and SQL through the SDK and the CLI against a real server (with a small
LAKEHOLD_MAX_ROWS, so that cut results are cheap to make)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from lakehold.cli import tables as table_commands
from lakehold.client import models as m
from lakehold.errors import Invalid, NotFound
from tests.conftest import SCENARIOS

MAX_ROWS = 100
BIG_ROWS = 200_000  # about 6 MB of CSV


@pytest.fixture(scope="module")
def _small_max_rows() -> Iterator[None]:
    """This module's server cuts results at MAX_ROWS (set before ``server`` starts)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEHOLD_MAX_ROWS", str(MAX_ROWS))
        yield


@pytest.fixture(scope="module")
def server(_small_max_rows, server):  # the conftest's server, with the env above
    return server


@pytest.fixture(scope="module")
def project(server) -> str:
    """A project ``ins`` of the admin's."""
    from lakehold.client import Client

    with Client(server.url, server.admin_token) as admin:
        admin.domains.create("Insurance")
        admin.projects.create("ins", "Insurance")
    return "ins"


def _count(client, sql: str) -> int:
    return client.sql(sql).to_pylist()[0]["n"]


def test_create_merge_cdc_history_time_travel_restore_vacuum(sdk, project) -> None:
    admin = sdk()
    created = admin.tables.create(
        project,
        "policies",
        SCENARIOS / "insurance_full_load.csv",
        keys=["policy_id"],
        column_types={"insured_value": "DOUBLE"},
        description="Policies",
        tags=["pii", "gold"],
    )
    assert isinstance(created, m.WriteOut)
    assert (created.result.version, created.asset.row_count) == (0, 25)
    assert created.asset.key_columns == ["policy_id"] and sorted(created.asset.tags) == [
        "gold",
        "pii",
    ]
    shown = admin.tables.get(project, "policies")
    assert {c.name: c.data_type for c in shown.columns}["insured_value"] == "DOUBLE"
    assert [a.name for a in admin.tables.list(project)] == ["policies"]

    # merge from bytes: one update, one insert
    batch = b"policy_id,region_name\n200242,North\n1,South\n"
    merged = admin.tables.write(project, "policies", batch, mode="merge", format="csv")
    assert (merged.result.rows_updated, merged.result.rows_inserted) == (1, 1)
    assert merged.asset.row_count == 26
    region = admin.sql(f"select region_name from {project}.policies where policy_id = 200242")
    assert region.to_pylist() == [{"region_name": "North"}]

    cdc = admin.tables.write(
        project, "policies", SCENARIOS / "insurance_cdc_1.csv", mode="cdc", op_column="op"
    )
    assert cdc.result.operation == "CDC MERGE" and cdc.result.version == 2

    history = admin.tables.history(project, "policies")
    assert [h.version for h in history] == [2, 1, 0]
    assert all(isinstance(h, m.HistoryEntry) for h in history)
    assert [h.version for h in admin.tables.history(project, "policies", limit=1)] == [2]

    past = f"select count(*) as n from {project}.policies version as of 0"
    assert _count(admin, past) == 25

    restored = admin.tables.restore(project, "policies", 0)
    assert restored.result.version == 3 and restored.asset.row_count == 25
    assert _count(admin, f"select count(*) as n from {project}.policies") == 25

    plan = admin.tables.vacuum(project, "policies", retention_hours=0, dry_run=True, force=True)
    assert plan["dry_run"] is True and plan["count"] == len(plan["files"]) > 0
    with pytest.raises(Invalid):  # below 168 hours without force
        admin.tables.vacuum(project, "policies", retention_hours=0)
    assert admin.tables.optimize(project, "policies")["version"] >= 3

    admin.tables.drop(project, "policies")
    with pytest.raises(NotFound):
        admin.tables.history(project, "policies")


def test_cli_table_commands_against_the_server(remote_cli, project, tmp_path: Path) -> None:
    out = remote_cli(
        "table",
        "create",
        f"{project}.cli_policies",
        str(SCENARIOS / "insurance_full_load.csv"),
        "--key",
        "policy_id",
    )
    assert "25 rows" in out
    out = remote_cli(
        "table",
        "write",
        f"{project}.cli_policies",
        str(SCENARIOS / "insurance_cdc_1.csv"),
        "--mode",
        "cdc",
    )
    assert "27 rows" in out
    assert "CDC" in remote_cli("table", "history", f"{project}.cli_policies")
    shown = json.loads(remote_cli("table", "show", f"{project}.cli_policies", "--json"))
    assert shown["row_count"] == 27 and shown["columns"][0]["name"] == "policy_id"
    assert "cli_policies" in remote_cli("table", "list", project)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    assert "line=3" in remote_cli("table", "create", f"{project}.bad", str(bad), code=2)
    assert "--types is not valid JSON" in remote_cli(
        "table", "create", f"{project}.bad", str(bad), "--types", "{", code=2
    )
    dry = remote_cli(
        "table", "vacuum", f"{project}.cli_policies", "--retention-hours", "0", "--dry-run"
    )
    assert "would remove 1 files" in dry and ".parquet" in dry
    assert '"version"' in remote_cli("table", "optimize", f"{project}.cli_policies")
    assert "dropped" in remote_cli("table", "drop", f"{project}.cli_policies", "--yes")


def test_sql_keeps_repeated_column_names_and_says_when_cut(sdk, remote_cli) -> None:
    admin = sdk()
    result = admin.sql("select 1 as a, 2 as a, null as b")
    assert result.to_arrow().column_names == ["a", "a", "b"]
    assert result.to_arrow().column("b").to_pylist() == [None]
    frame = admin.sql("select 12.30::decimal(18, 2) as amount, 'x' as name").to_pandas()
    assert frame.to_dict("records") == [{"amount": Decimal("12.30"), "name": "x"}]

    every = admin.sql(f"select * from range({MAX_ROWS + 50})")  # limit=None: the server's max
    assert (every.num_rows, every.truncated) == (MAX_ROWS, True)
    some = admin.sql(f"select * from range({MAX_ROWS + 50})", limit=5)
    assert (some.num_rows, some.truncated) == (5, True)
    whole = admin.sql(f"select * from range({MAX_ROWS})")
    assert (whole.num_rows, whole.truncated) == (MAX_ROWS, False)

    out = remote_cli(
        "sql", f"select range as n from range({MAX_ROWS + 50})", "--format", "csv", code=9
    )
    assert f"cut at {MAX_ROWS} rows" in out and "LAKEHOLD_MAX_ROWS" in out
    assert [line for line in out.splitlines() if line.isdigit()] == [
        str(n) for n in range(MAX_ROWS)
    ]
    out = remote_cli("sql", "select * from range(500)", "--format", "csv", "--limit", "5")
    assert out.splitlines() == ["range", "0", "1", "2", "3", "4"]
    out = remote_cli("sql", "select 1 as a, null as a", "--format", "json")
    assert json.loads(out[out.index("[") :]) == [{"a": 1, "a_1": None}]
    table = remote_cli("sql", "select 1 as a, 2 as a, null as c")
    assert "NULL" in table and "1 rows" in table
    assert "truncated" in remote_cli("sql", f"select * from range({MAX_ROWS + 1})")
    assert "position" in remote_cli("sql", "select * fro x", code=2)


def _big_csv(path: Path) -> Path:
    with path.open("w") as handle:
        handle.write("id,name,amount\n")
        for start in range(0, BIG_ROWS, 10_000):
            handle.writelines(
                f"{i},name number {i},{i * 3}.25\n" for i in range(start, start + 10_000)
            )
    return path


class _ReadSizes(io.FileIO):
    """A file that remembers the size of every read it was asked for."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(-1 if size is None else size)
        return super().read(size)


def test_a_large_upload_is_streamed(
    sdk, remote_cli, server, project, tmp_path: Path, monkeypatch
) -> None:
    big = _big_csv(tmp_path / "big.csv")
    size = big.stat().st_size
    assert size > 5 << 20
    sent: list[int] = []
    with _ReadSizes(big) as handle:
        created = sdk().tables.create(project, "big", handle, keys=["id"], progress=sent.append)
        assert handle.reads and all(0 < n <= 1 << 20 for n in handle.reads)  # never whole
    assert created.asset.row_count == BIG_ROWS
    assert sum(sent) == size and len(sent) > 5

    # the CLI shows the bytes sent on a terminal's stderr
    shown = io.StringIO()
    screen = Console(file=shown, force_terminal=True, width=120)
    monkeypatch.setattr(table_commands, "errors", screen)
    out = remote_cli("table", "write", f"{project}.big", str(big))
    assert f"{BIG_ROWS} inserted" in out and f"{2 * BIG_ROWS} rows" in out
    assert "big.csv → ins.big (append)" in shown.getvalue()

    staging = server.home / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []
