"""A sync job's CDC merges on the Ray cluster, chosen by size: the Salesforce story of
tests/sources/test_sync_jobs.py, the same target rows after each run, the merge committed by
the cluster once (its history entry says so)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehold.config import Settings
from lakehold.runtime import Runtime
from tests.sources.conftest import SourceDb, Team, accounts, crm, source_settings, team
from tests.sources.test_sync_jobs import (
    AFTER_CHANGES,
    INITIAL,
    counts,
    job,
    make_changes,
    table_rows,
)

__all__ = ["accounts", "crm", "job", "team"]  # the fixtures of tests/sources, used here


@pytest.fixture
def settings(tmp_path: Path, database_url: str, lakehold_free_cluster: str) -> Settings:
    """Every table job of one byte or more goes to the cluster."""
    return source_settings(
        tmp_path, database_url, ray_address=lakehold_free_cluster, ray_threshold_bytes=1
    )


def test_an_incremental_sync_merges_on_the_cluster(
    runtime: Runtime, team: Team, job: SourceDb
) -> None:
    first = runtime.sync_jobs.run(team.owner, "sales", "accounts")
    assert counts(first) == ("succeeded", 3, 3, 0, 0, 0)
    assert table_rows(runtime, "account") == INITIAL

    make_changes(job)
    second = runtime.sync_jobs.run(team.owner, "sales", "accounts")
    assert counts(second) == ("succeeded", 6, 1, 2, 1, 1)
    assert table_rows(runtime, "account") == AFTER_CHANGES
    latest = runtime.table_service.history(team.owner, "sales", "account", limit=1)[0]
    assert latest.operation == "CDC MERGE" and latest.metrics.get("engine") == "ray"
    asset = runtime.catalog.get_asset(team.owner, "sales", "account")
    assert asset.row_count == 3 and asset.current_version == latest.version
