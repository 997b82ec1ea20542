"""Sync job runs by outcome and rows, and the sync lag read at each scrape, against a real
PostgreSQL source (as tests/sources reach it). SQLite and PostgreSQL metadata."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from lakehold.config import Settings
from lakehold.errors import SourceUnavailable
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.sources.sync_lag import WINDOW
from lakehold.store.models import utcnow
from lakehold.store.sync import SyncJob, SyncRun
from tests.ops.samples import project, sample, value_in
from tests.sharing import new_user
from tests.sources.conftest import NETWORK_ALLOW, SourceDb, _pg_schema
from tests.sources.test_sync_jobs import at, create_job, insert, make_changes, ts


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings whose network allow-list covers the local source servers."""
    return Settings(home=tmp_path / "home", database_url=database_url, network_allow=NETWORK_ALLOW)


@dataclass
class Job:
    owner: Principal
    source: SourceDb


@pytest.fixture
def job(runtime: Runtime, admin: Principal) -> Iterator[Job]:
    """Project ``sales`` of ``owner``, connection ``crm`` to a PostgreSQL schema holding three
    accounts, and sync job ``accounts`` (incremental, key id) reading them."""
    owner, _ = new_user(runtime, admin, "owner")
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(owner, "sales", "Sales")
    with _pg_schema(
        "lh_sync",
        "CREATE TABLE {schema}.account (id int, name text, industry text, "
        "annual_revenue numeric(12,2), is_deleted boolean, last_modified timestamptz)",
    ) as source:
        runtime.connections.create(owner, "sales", "crm", "postgresql", dict(source.params))
        insert(
            source,
            f"(1, 'Acme', 'Manufacturing', 1000, false, {ts(1)})",
            f"(2, 'Globex', 'Energy', 2000, false, {ts(2)})",
            f"(3, 'Initech', 'Software', 300.50, false, {ts(3)})",
        )
        create_job(runtime, owner, _schema=source.schema)
        yield Job(owner, source)


def runs(outcome: str) -> float:
    return sample("lakehold_sync_runs_total", project=project("sales"), outcome=outcome)


def rows() -> float:
    return sample("lakehold_sync_rows_total", project=project("sales"))


def test_runs_by_outcome_and_rows_applied(runtime: Runtime, job: Job) -> None:
    succeeded, failed, applied = runs("succeeded"), runs("failed"), rows()
    runtime.sync_jobs.run(job.owner, "sales", "accounts")  # three accounts
    assert (runs("succeeded"), runs("failed"), rows()) == (succeeded + 1, failed, applied + 3)

    make_changes(job.source)  # six changes read, one rejected, four keys changed
    runtime.connections.update(job.owner, "sales", "crm", params={"port": 1})
    with pytest.raises(SourceUnavailable):
        runtime.sync_jobs.run(job.owner, "sales", "accounts")
    assert (runs("succeeded"), runs("failed"), rows()) == (succeeded + 1, failed + 1, applied + 3)
    runtime.connections.update(job.owner, "sales", "crm", params={"port": 5432})
    runtime.sync_jobs.run(job.owner, "sales", "accounts")
    assert (runs("succeeded"), runs("failed"), rows()) == (succeeded + 2, failed + 1, applied + 7)


def lag(runtime: Runtime, admin: Principal) -> float | None:
    scraped = runtime.metrics.scrape(admin).decode()
    return value_in(scraped, "lakehold_sync_lag_seconds", project=project("sales"))


def test_the_lag_is_the_oldest_success_of_a_scheduled_job(
    runtime: Runtime, admin: Principal, job: Job
) -> None:
    assert lag(runtime, admin) is None  # no scheduled job: no lag
    runtime.sync_jobs.update(job.owner, "sales", "accounts", {"schedule": "0 * * * *"})
    never = lag(runtime, admin)
    assert never is not None and 0 <= never < 600  # since its creation, a moment ago

    runtime.sync_jobs.run(job.owner, "sales", "accounts")
    with runtime.store.session() as session:
        session.execute(update(SyncRun).values(finished_at=utcnow() - timedelta(hours=2)))
    two_hours = lag(runtime, admin)
    assert two_hours is not None and 7200 <= two_hours < 7200 + 600

    with runtime.store.session() as session:  # no success within the window: capped
        session.execute(update(SyncRun).values(started_at=utcnow() - timedelta(days=30)))
        session.execute(update(SyncJob).values(created_at=utcnow() - timedelta(days=30)))
    capped = lag(runtime, admin)
    seconds = WINDOW.total_seconds()
    assert capped is not None and seconds <= capped < seconds + 600

    runtime.sync_jobs.update(job.owner, "sales", "accounts", {"schedule": None})
    assert lag(runtime, admin) is None  # unscheduled: the project drops out


def test_the_lag_behind_the_source_is_the_age_of_the_last_time_watermark(
    runtime: Runtime, admin: Principal, job: Job
) -> None:
    def behind() -> float | None:
        scraped = runtime.metrics.scrape(admin).decode()
        return value_in(scraped, "lakehold_sync_watermark_lag_seconds", project=project("sales"))

    assert behind() is None  # no run yet: no watermark
    started = utcnow()
    runtime.sync_jobs.run(job.owner, "sales", "accounts")  # newest change: 3 January 2024
    expected = (started - at(3)).total_seconds()
    found = behind()
    assert found is not None and expected <= found < expected + 600

    with runtime.store.session() as session:  # a numeric watermark says nothing of time
        session.execute(update(SyncJob).values(last_watermark="12345"))
    assert behind() is None
