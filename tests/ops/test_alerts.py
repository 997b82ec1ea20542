"""Anomaly alerts routed to the owning project (issue 15), on SQLite and PostgreSQL: a week of
history seeded in the store, then an anomaly (real failing statements, a sync job that stops
succeeding, an hour without rows or with far too many) -> one alert, its signed event at the
project's webhooks (and the global ones) only -> back to normal -> resolved, its event too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from lakehold.config import Settings
from lakehold.errors import Forbidden, Invalid, LakeholdError, NotFound
from lakehold.governance.alerts.signals import FAILURE_RATE, INGEST_VOLUME, SYNC_LAG
from lakehold.governance.events import ALERT_OPENED, ALERT_RESOLVED
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import Alert, AuditEvent, OutboxEvent, utcnow
from tests.ops.alert_history import (
    HOUR,
    WEEK,
    project_id,
    seed_runs,
    seed_statements,
    source_job,
)
from tests.sharing import add_member, new_user
from tests.sources.conftest import SourceDb, _pg_schema
from tests.webhook_receiver import receiver

SECRET = "retail-alerts-signing-secret"
GLOBAL_SECRET = "the-operators-global-secret"
FAILING_SQL = "select cast('x' || range as integer) as n from range(3)"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Sources under the test's folder; webhook receivers on the loopback address."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        statement_timeout_seconds=30,
        source_roots=[tmp_path],
        network_allow=["127.0.0.1:*"],
    )


@pytest.fixture
def source() -> Iterator[SourceDb]:
    """A PostgreSQL source schema with table ``orders`` (two rows), which sync jobs read."""
    with _pg_schema(
        "lh_alerts",
        "CREATE TABLE {schema}.orders (id integer, customer text)",
        "INSERT INTO {schema}.orders VALUES (1, 'ada'), (2, 'bob')",
    ) as created:
        yield created


@dataclass
class World:
    runtime: Runtime
    admin: Principal
    owner: Principal
    viewer: Principal
    outsider: Principal

    def evaluate(self, now: datetime | None = None):
        return self.runtime.alerts.evaluate(self.admin, now=now)


@pytest.fixture
def world(runtime: Runtime, admin: Principal) -> World:
    """Project retail (owner; viewer a viewer), project other (outsider)."""
    owner, _ = new_user(runtime, admin, "owner")
    viewer, _ = new_user(runtime, admin, "viewer")
    outsider, _ = new_user(runtime, admin, "outsider")
    runtime.catalog.create_domain(admin, "Ops")
    runtime.catalog.create_project(owner, "retail", "Ops")
    runtime.catalog.create_project(outsider, "other", "Ops")
    add_member(runtime, "retail", viewer, "viewer")
    return World(runtime, admin, owner, viewer, outsider)


def run_statements(world: World, failed: int, succeeded: int) -> None:
    """Real statements of project retail: ``failed`` fail as they run, ``succeeded`` do not."""
    for _ in range(failed):
        with pytest.raises(LakeholdError):
            world.runtime.statements.execute(world.owner, FAILING_SQL, project="retail")
    for _ in range(succeeded):
        world.runtime.statements.execute(world.owner, "select 1 as x", project="retail")


def events(runtime: Runtime, event_type: str) -> int:
    with runtime.store.session() as session:
        query = select(func.count()).where(OutboxEvent.event_type == event_type)
        return session.scalar(query.select_from(OutboxEvent)) or 0


def test_a_failure_rate_anomaly_opens_once_reaches_its_projects_webhooks_and_resolves(
    world: World,
) -> None:
    rt, now = world.runtime, utcnow()
    seed_statements(rt, "retail", world.owner, now)  # a week at 5% failures
    seed_statements(rt, "other", world.outsider, now)
    with receiver() as retail_rx, receiver() as global_rx, receiver() as silent_rx:
        rt.webhooks.create(world.owner, retail_rx.url, SECRET, project="retail")  # every event
        rt.webhooks.create(
            world.owner,
            silent_rx.url,
            SECRET,
            project="retail",
            event_types=["subscription.requested"],
        )
        rt.webhooks.create(world.outsider, silent_rx.url, SECRET, project="other")
        rt.webhooks.create(
            world.admin, global_rx.url, GLOBAL_SECRET, event_types=[ALERT_OPENED, ALERT_RESOLVED]
        )
        quiet = world.evaluate()
        assert quiet.opened == [] and quiet.open == 0  # no statements in this hour: nothing

        run_statements(world, failed=24, succeeded=16)
        first = world.evaluate()
        (opened,) = first.opened
        assert (opened.project, opened.signal, opened.subject) == ("retail", FAILURE_RATE, None)
        assert (opened.state, opened.direction, opened.unit) == ("open", "above", "ratio")
        assert opened.observed == pytest.approx(24 / 40)
        assert opened.baseline == pytest.approx(0.05)
        assert opened.threshold == pytest.approx(0.25)  # the floor, above baseline + 3 sigma
        assert opened.details["statements"] == 40 and opened.details["failed"] == 24
        assert opened.message.startswith("24 of 40 statements of project 'retail' failed")
        assert opened.link == "/projects/retail/sources#alerts"

        again = world.evaluate()
        assert again.opened == [] and again.resolved == [] and again.open == 1  # no duplicate
        assert [a.id for a in rt.alerts.list(world.owner, "retail")] == [opened.id]
        assert events(rt, ALERT_OPENED) == 1
        assert rt.webhooks.deliver_due(utcnow() + timedelta(seconds=1)) == 2

        (sent,) = retail_rx.events(ALERT_OPENED)
        assert sent.signed_with(SECRET) and not sent.signed_with(GLOBAL_SECRET)
        data = sent.json["data"]
        assert (data["alert_id"], data["project"], data["signal"]) == (
            opened.id,
            "retail",
            FAILURE_RATE,
        )
        assert data["state"] == "open" and data["observed"] == pytest.approx(0.6)
        assert data["baseline"] == pytest.approx(0.05) and data["threshold"] == pytest.approx(0.25)
        assert data["message"] == opened.message and data["link"] == opened.link
        (seen,) = global_rx.events(ALERT_OPENED)
        assert seen.signed_with(GLOBAL_SECRET) and seen.json["data"]["alert_id"] == opened.id
        assert silent_rx.events() == []  # another project's webhook, or one not subscribed

        # two hours on, the hour's statements are ordinary again: the alert resolves
        later = now + 2 * HOUR
        seed_statements(
            rt, "retail", world.owner, later, windows=[0], per_window=30, failing=lambda w: 1
        )
        done = world.evaluate(later)
        (resolved,) = done.resolved
        assert resolved.id == opened.id and resolved.state == "resolved" and done.open == 0
        assert resolved.resolved_at == later and resolved.resolved_observed == pytest.approx(1 / 30)
        # the anomalous hour is history now: it widens the spread, and the bound with it
        assert resolved.details["resolution"].startswith("back to 3% (alert above ")
        assert world.evaluate(later).resolved == []
        rt.webhooks.deliver_due(later + timedelta(seconds=1))
        (back,) = retail_rx.events(ALERT_RESOLVED)
        assert back.signed_with(SECRET) and back.json["data"]["state"] == "resolved"
        assert back.json["data"]["resolved_observed"] == pytest.approx(1 / 30)
        assert [r.json["data"]["alert_id"] for r in global_rx.events(ALERT_RESOLVED)] == [opened.id]
        assert silent_rx.events() == []

    assert rt.alerts.list(world.owner, "retail", state="open") == []
    assert [a.id for a in rt.alerts.list(world.viewer, "retail", state="resolved")] == [opened.id]
    with rt.store.session() as session:
        audited = session.scalars(
            select(AuditEvent.allowed).where(AuditEvent.action == "alert.evaluate")
        ).all()
    assert audited and all(audited)


def test_too_little_history_too_few_statements_or_no_departure_open_nothing(
    world: World,
) -> None:
    rt, now = world.runtime, utcnow()
    rt.catalog.create_project(world.owner, "flaky", "Ops")
    # retail: 23 hours of history, one short of the minimum of 24
    seed_statements(rt, "retail", world.owner, now, windows=range(1, 24))
    seed_statements(
        rt, "retail", world.owner, now, windows=[0], per_window=40, failing=lambda w: 30
    )
    # other: a full week, but 10 statements in the hour (all failed): under the floor of 20
    seed_statements(rt, "other", world.outsider, now)
    seed_statements(rt, "other", world.outsider, now, windows=[0], failing=lambda w: 10)
    # flaky: fails half the time all week long; this hour too
    half = {"per_window": 40, "failing": lambda w: 20}
    seed_statements(rt, "flaky", world.owner, now, windows=range(WEEK + 1), **half)
    assert world.evaluate(now).opened == []

    seed_statements(rt, "retail", world.owner, now, windows=[24])  # the 24th hour of history
    (opened,) = world.evaluate(now).opened
    assert (opened.project, opened.signal) == ("retail", FAILURE_RATE)
    assert opened.details["history_windows"] == 24


def test_a_late_sync_job_opens_an_alert_until_a_run_succeeds(
    world: World, source: SourceDb
) -> None:
    rt, now = world.runtime, utcnow()
    job = source_job(
        rt,
        world.owner,
        "retail",
        source,
        "orders",
        schedule="0 * * * *",
        changed_at=now - 30 * HOUR,
    )
    seed_runs(rt, job, now, windows=range(5, 30))  # hourly, until five hours ago
    adhoc = source_job(
        rt, world.outsider, "other", source, "adhoc", schedule=None, changed_at=now - 30 * HOUR
    )
    seed_runs(rt, adhoc, now, windows=range(20, 30))  # on demand only: never late
    with receiver() as rx:
        rt.webhooks.create(
            world.owner,
            rx.url,
            SECRET,
            project="retail",
            event_types=[ALERT_OPENED, ALERT_RESOLVED],
        )
        (opened,) = world.evaluate(now).opened
        assert (opened.project, opened.signal, opened.subject) == ("retail", SYNC_LAG, "orders")
        assert (opened.unit, opened.baseline, opened.threshold) == ("seconds", 3600, 7200)
        assert 4.5 * 3600 <= opened.observed < 5.5 * 3600  # due the first full hour after 5.5 h ago
        assert opened.message.startswith("sync job 'retail.orders' (0 * * * *) has not succeeded")
        assert world.evaluate(now).opened == []
        assert rt.webhooks.deliver_due(utcnow() + timedelta(seconds=1)) == 1

        run = rt.sync_jobs.run(world.owner, "retail", "orders")  # a real run, now
        assert run.status == "succeeded"
        (resolved,) = world.evaluate().resolved
        assert resolved.id == opened.id and resolved.resolved_observed == 0
        rt.webhooks.deliver_due(utcnow() + timedelta(seconds=1))
        assert [r.event for r in rx.events()] == [ALERT_OPENED, ALERT_RESOLVED]
        assert all(r.signed_with(SECRET) for r in rx.events())
        assert rx.events()[0].json["data"]["subject"] == "orders"

        # unscheduled, the job is never late again; an open alert of it would resolve too
        rt.sync_jobs.update(world.owner, "retail", "orders", {"schedule": None})
        assert world.evaluate(now + 30 * HOUR).opened == []


def test_ingest_volume_drops_and_spikes_against_a_steady_baseline(
    world: World, source: SourceDb
) -> None:
    rt, now = world.runtime, utcnow()
    hourly = source_job(
        rt, world.owner, "retail", source, "hourly", schedule=None, changed_at=now - 8 * 24 * HOUR
    )
    seed_runs(rt, hourly, now)  # 1000 rows each hour of the week, none this hour
    daily = source_job(
        rt,
        world.outsider,
        "other",
        source,
        "daily",
        schedule=None,
        changed_at=now - 8 * 24 * HOUR,
    )
    seed_runs(rt, daily, now, windows=range(0, WEEK + 1, 24), rows=lambda w: 24_000)

    (drop,) = world.evaluate(now).opened  # not the daily job running: no spike each day
    assert (drop.project, drop.signal, drop.direction) == ("retail", INGEST_VOLUME, "below")
    assert (drop.observed, drop.baseline, drop.threshold, drop.unit) == (0, 1000, 100, "rows")
    assert "dropped to 0" in drop.message

    an_hour_on = now + HOUR
    seed_runs(rt, hourly, an_hour_on, windows=[0])
    (resolved,) = world.evaluate(an_hour_on).resolved
    assert resolved.id == drop.id and resolved.resolved_observed == 1000

    two_hours_on = now + 2 * HOUR
    seed_runs(rt, hourly, two_hours_on, windows=[0], rows=lambda w: 20_000)
    (spike,) = world.evaluate(two_hours_on).opened
    assert (spike.project, spike.direction, spike.observed) == ("retail", "above", 20_000)
    assert spike.threshold == 5000  # five times a typical hour with rows
    assert "rose to 20,000" in spike.message
    assert [a.signal for a in rt.alerts.list(world.outsider, "other")] == []


def test_members_read_their_projects_alerts_and_administrators_every_one(world: World) -> None:
    rt, now = world.runtime, utcnow()
    seed_statements(rt, "retail", world.owner, now)
    seed_statements(
        rt, "retail", world.owner, now, windows=[0], per_window=40, failing=lambda w: 30
    )
    (opened,) = world.evaluate(now).opened

    for member in (world.owner, world.viewer, world.admin):
        assert [a.id for a in rt.alerts.list(member, "retail")] == [opened.id]
    with pytest.raises(NotFound, match="project 'retail' not found"):
        rt.alerts.list(world.outsider, "retail")
    assert rt.alerts.list(world.outsider, "other") == []
    with pytest.raises(Forbidden):
        rt.alerts.list_all(world.owner)
    assert [a.id for a in rt.alerts.list_all(world.admin, state="open")] == [opened.id]
    assert rt.alerts.list_all(world.admin, project="other") == []
    with pytest.raises(Forbidden):
        rt.alerts.evaluate(world.owner)
    with rt.store.session() as session:
        denied = session.scalars(
            select(AuditEvent.username).where(
                AuditEvent.action == "alert.evaluate", AuditEvent.allowed.is_(False)
            )
        ).all()
    assert denied == ["owner"]
    with pytest.raises(Invalid) as bad_state:
        rt.alerts.list(world.owner, "retail", state="closed")
    assert bad_state.value.details["field"] == "state"
    with pytest.raises(Invalid) as bad_limit:
        rt.alerts.list_all(world.admin, limit=0)
    assert bad_limit.value.details["field"] == "limit"


def test_the_migration_matches_the_models(runtime: Runtime) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import lakehold.store.sources  # noqa: F401 - the tables sync jobs refer to
    from lakehold.store.models import Base

    with runtime.store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diffs if "alerts" in repr(d) or "ix_statements_ended_at" in repr(d)]
    assert ours == []
    with runtime.store.engine.connect() as connection:
        indexes = {index["name"] for index in inspect(connection).get_indexes("alerts")}
    assert {"uq_alerts_open_subject", "uq_alerts_open_project"} <= indexes


def test_the_store_keeps_one_open_alert_per_project_signal_and_subject(world: World) -> None:
    """The partial unique indexes (of a subject, of none), the net under the serialised
    evaluations."""
    pid = project_id(world.runtime, "retail")

    def alert(state: str, subject: str | None = None) -> Alert:
        return Alert(
            project_id=pid,
            signal=FAILURE_RATE,
            subject=subject,
            direction="above",
            state=state,
            observed=0.5,
            baseline=0.05,
            threshold=0.25,
            message="m",
            details={},
        )

    with world.runtime.store.session() as session:
        session.add_all([alert("open"), alert("resolved"), alert("resolved"), alert("open", "x")])
    for duplicate in (alert("open"), alert("open", "x")):
        with pytest.raises(IntegrityError), world.runtime.store.session() as session:
            session.add(duplicate)
