"""``kill -9`` during table create, write and drop, and during statements, on SQLite and
PostgreSQL metadata: after a fresh Runtime reconciles, catalog and Delta agree.

Each crash is a real process killed with SIGKILL: a child forked from a forkserver that has
Lakehold imported (so a child starts in milliseconds) builds its own Runtime and works until
it is killed, either at a chosen point (a hook that kills the process itself right after a
Delta commit, for instance) or after a random delay in a loop of creates, writes, statements
and drops.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from sqlalchemy import select

from lakehold.catalog.tables import DataSource
from lakehold.config import Settings
from lakehold.errors import Conflict, NotFound
from lakehold.lakehouse import folders
from lakehold.runtime import Runtime
from lakehold.store.models import ACTIVE, Asset, Listing, Statement, TableIntent
from tests.cli.conftest import cli, cli_env  # noqa: F401  (the CLI fixtures)
from tests.sharing import client_for

pytestmark = pytest.mark.crash

ROWS = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "c"]})
LOOP_ITERATIONS = 20


# -- the child process ------------------------------------------------------------------------


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install(hook: str | None) -> None:
    """Make the child kill itself at one point of a table operation."""
    import lakehold.governance.statements as governed
    import lakehold.lakehouse.tables as engine

    def after(cls: Any, name: str) -> None:
        original = getattr(cls, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            original(*args, **kwargs)
            _die()

        setattr(cls, name, wrapped)

    if hook == "create:after_delta":
        after(engine.DeltaTables, "create")
    elif hook == "write:after_delta":
        after(engine.DeltaTables, "write")
    elif hook == "drop:after_move":
        after(engine.DeltaTables, "move_to_trash")
    elif hook == "create:partial":

        def torn(path: Any, data: Any, **kwargs: Any) -> None:
            (Path(path) / folders.LOG).mkdir(parents=True, exist_ok=True)
            (Path(path) / "part-00000-torn.parquet").write_bytes(b"PAR1")
            _die()

        engine.write_deltalake = torn  # type: ignore[assignment]
    elif hook == "statement:hang":
        governed.run = lambda *a, **k: time.sleep(120)  # type: ignore[assignment]


def _child(settings: dict[str, Any], token: str, script: str, args: dict[str, Any], conn) -> None:
    runtime = Runtime(Settings(**settings))
    admin = runtime.security.authenticate(token)
    _install(args.get("hook"))
    SCRIPTS[script](runtime, admin, conn, **args)
    conn.send("done")


def _once(runtime: Runtime, admin, conn, *, op: str, name: str = "t", hook: str = "") -> None:
    conn.send("ready")
    service = runtime.table_service
    if op == "create":
        service.create_table(admin, "p", name, DataSource(ROWS), keys=["id"], tags=["x"])
    elif op == "write":
        service.write(admin, "p", name, DataSource(ROWS), mode="append")
    elif op == "drop":
        service.drop_table(admin, "p", name)
    elif op == "statements":
        ids = [runtime.statements.submit(admin, f"select * from p.{name}").id for _ in range(2)]
        while any(runtime.statements.describe(admin, i).status != "STARTED" for i in ids):
            time.sleep(0.01)
        conn.send(ids)
        time.sleep(120)


def _loop(runtime: Runtime, admin, conn, *, names: list[str], seed: int) -> None:
    """Creates, writes, statements, publishes, unpublishes and drops until killed."""
    rng = random.Random(seed)
    service = runtime.table_service
    conn.send("ready")
    while True:
        name = rng.choice(names)
        try:
            service.write(admin, "p", name, DataSource(ROWS), mode="append")
        except NotFound:
            service.create_table(admin, "p", name, DataSource(ROWS), keys=["id"])
            continue
        runtime.statements.execute(admin, f"select count(*) as n from p.{name}")
        runtime.statements.submit(admin, f"select * from p.{name}")
        with contextlib.suppress(Conflict):
            if rng.random() < 0.5:
                runtime.listings.publish(admin, "p", name)
            elif rng.random() < 0.3:
                runtime.listings.unpublish(admin, "p", name)
        if rng.random() < 0.4:
            service.drop_table(admin, "p", name)


def _appends(runtime: Runtime, admin, conn, *, count: int) -> None:
    conn.send("ready")
    versions = []
    for _ in range(count):
        try:
            outcome = runtime.table_service.write(admin, "p", "t", DataSource(ROWS), mode="append")
        except Conflict:
            continue
        versions.append(outcome.result.version)
    conn.send(versions)


SCRIPTS = {"once": _once, "loop": _loop, "appends": _appends}


# -- the parent -------------------------------------------------------------------------------


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["lakehold.runtime", __name__])
    return context


def _start(settings: Settings, token: str, script: str, **args: Any):
    parent, child = multiprocessing.Pipe()
    config = {
        "home": str(settings.home),
        "database_url": settings.database_url,
        "statement_timeout_seconds": settings.statement_timeout_seconds,
    }
    process = _context().Process(target=_child, args=(config, token, script, args, child))
    process.start()
    assert parent.poll(60), "the child did not start"
    assert parent.recv() == "ready"
    return process, parent


def _crash(settings: Settings, token: str, op: str, **args: Any) -> Any:
    """Run one operation in a child that is killed at ``hook``; what it sent before dying."""
    process, conn = _start(settings, token, "once", op=op, **args)
    sent = conn.recv() if op == "statements" and conn.poll(60) else None
    if sent is not None:
        process.kill()
    process.join(60)
    assert process.exitcode == -signal.SIGKILL, process.exitcode
    return sent


@pytest.fixture
def setup(runtime: Runtime, admin, admin_token: str) -> tuple[Runtime, Any, str]:
    runtime.catalog.create_domain(admin, "D")
    runtime.catalog.create_project(admin, "p", domain="D")
    return runtime, admin, admin_token


def _fresh(settings: Settings) -> Runtime:
    """Another process's view: a new Runtime on the same home and metadata store."""
    return Runtime(settings)


def _reconciled(settings: Settings):
    """The report of a reconcile by a new Runtime (as at the start of another process)."""
    fresh = _fresh(settings)
    try:
        return fresh.reconcile()
    finally:
        fresh.close()


def _pending(runtime: Runtime) -> list[TableIntent]:
    with runtime.store.session() as session:
        return list(session.scalars(select(TableIntent).where(TableIntent.state == "pending")))


def _asset(runtime: Runtime, name: str) -> Asset | None:
    with runtime.store.session() as session:
        return session.scalar(select(Asset).where(Asset.name == name))


def test_kill_after_the_delta_commit_of_a_create(setup, settings: Settings) -> None:
    """Finding: the Delta table stayed without a catalog entry (re-create 409, DELETE 404)."""
    runtime, _, token = setup
    _crash(settings, token, "create", hook="create:after_delta")
    path = runtime.settings.warehouse_path / "p" / "t"
    assert folders.latest_version(path) == 0 and _asset(runtime, "t") is None
    assert [i.kind for i in _pending(runtime)] == ["create"]
    serving = _fresh(settings)
    with client_for(serving, token) as api:  # a serving process reconciles on start
        asset = api.get("/api/v1/projects/p/assets/t")
        assert asset.status_code == 200, asset.text
        body = asset.json()
        assert (body["row_count"], body["current_version"], body["tags"]) == (3, 0, ["x"])
        assert body["key_columns"] == ["id"]
        assert api.delete("/api/v1/projects/p/tables/t").status_code == 204
        again = api.post(
            "/api/v1/projects/p/tables", data={"name": "t"}, files={"file": ("t.csv", b"a\n1\n")}
        )
        assert again.status_code == 201, again.text
    serving.close()
    assert _pending(runtime) == []


def test_a_create_without_reconcile_adopts_the_dead_intent(setup, settings: Settings) -> None:
    """A CLI process (no start-up reconcile) re-creating the name settles the dead intent."""
    runtime, admin, token = setup
    _crash(settings, token, "create", hook="create:after_delta")
    other = _fresh(settings)
    with pytest.raises(Conflict, match="already exists"):
        other.table_service.create_table(admin, "p", "t", DataSource(ROWS))
    assert _asset(runtime, "t").row_count == 3 and _pending(runtime) == []
    other.table_service.drop_table(admin, "p", "t")
    other.table_service.create_table(admin, "p", "t", DataSource(ROWS))
    other.close()


def test_kill_during_the_delta_write_of_a_create(setup, settings: Settings) -> None:
    runtime, admin, token = setup
    _crash(settings, token, "create", hook="create:partial")
    path = runtime.settings.warehouse_path / "p" / "t"
    assert (path / folders.LOG).is_dir()
    report = _reconciled(settings)
    assert [f.kind for f in report.findings] == ["intent"]
    assert "rolled back" in report.findings[0].action and not path.exists()
    runtime.table_service.create_table(admin, "p", "t", DataSource(ROWS))


def test_kill_during_a_drop(setup, settings: Settings) -> None:
    """Finding: a kill during drop left the asset without its data."""
    runtime, admin, token = setup
    runtime.table_service.create_table(admin, "p", "t", DataSource(ROWS))
    _crash(settings, token, "drop", hook="drop:after_move")
    assert _asset(runtime, "t") is not None
    assert not (runtime.settings.warehouse_path / "p" / "t").exists()
    report = _reconciled(settings)
    assert [f.kind for f in report.findings] == ["intent"], report
    assert _asset(runtime, "t") is None and _pending(runtime) == []
    assert not any((runtime.settings.warehouse_path / folders.TRASH).iterdir())
    runtime.table_service.create_table(admin, "p", "t", DataSource(ROWS))


def test_dropping_again_after_a_killed_drop(setup, settings: Settings) -> None:
    """Without a reconcile (a CLI process), DELETE again finishes the interrupted drop, and a
    new table of the same name is never touched by the old intent."""
    runtime, admin, token = setup
    runtime.table_service.create_table(admin, "p", "t", DataSource(ROWS))
    _crash(settings, token, "drop", hook="drop:after_move")
    other = _fresh(settings)
    other.table_service.drop_table(admin, "p", "t")
    assert _asset(runtime, "t") is None and _pending(runtime) == []
    other.table_service.create_table(admin, "p", "t", DataSource(ROWS.slice(0, 1)))
    assert _reconciled(settings).findings == []
    assert runtime.tables.snapshot(runtime.settings.warehouse_path / "p" / "t").num_rows == 1
    other.close()


def test_kill_after_a_write_commit(setup, settings: Settings) -> None:
    """Finding: the catalog's version and row count lagged the Delta log after a crash."""
    runtime, admin, token = setup
    runtime.table_service.create_table(admin, "p", "t", DataSource(ROWS))
    _crash(settings, token, "write", hook="write:after_delta")
    assert (_asset(runtime, "t").current_version, _asset(runtime, "t").row_count) == (0, 3)
    report = _reconciled(settings)
    assert [f.kind for f in report.findings] == ["stale"]
    assert (_asset(runtime, "t").current_version, _asset(runtime, "t").row_count) == (1, 6)
    assert _reconciled(settings).findings == []  # idempotent


def test_statements_of_a_dead_process(setup, settings: Settings) -> None:
    """Finding: statements of a dead process stayed STARTED and cancel changed nothing."""
    runtime, admin, token = setup
    runtime.table_service.create_table(admin, "p", "t", DataSource(ROWS))
    first, second = _crash(settings, token, "statements", hook="statement:hang")
    assert runtime.statements.describe(admin, first).status == "STARTED"
    cancelled = runtime.statements.cancel(admin, first)
    assert (cancelled.status, cancelled.error) == ("FAILED", "server restarted")
    report = _reconciled(settings)
    assert [(f.kind, f.subject) for f in report.findings] == [("statement", second)]
    assert runtime.statements.describe(admin, second).status == "FAILED"


def test_cancel_of_a_statement_a_live_process_runs(setup, settings: Settings) -> None:
    runtime, admin, token = setup
    runtime.table_service.create_table(admin, "p", "t", DataSource(ROWS))
    process, conn = _start(settings, token, "once", op="statements", hook="statement:hang")
    first, _ = conn.recv()
    try:
        assert runtime.statements.cancel(admin, first).status == "ABORTED"
        assert _reconciled(settings).findings == []  # its owner lives: left alone
    finally:
        process.kill()
        process.join(60)


def test_orphan_folders_are_quarantined(setup, settings: Settings) -> None:
    runtime, admin, _ = setup
    warehouse = runtime.settings.warehouse_path
    write_deltalake(warehouse / "p" / "stray", ROWS)
    write_deltalake(warehouse / ".scans" / "x", ROWS)  # Lakehold's own folders are skipped
    report = runtime.reconcile(repair=False)
    assert [(f.kind, f.subject) for f in report.findings] == [("orphan", "p.stray")]
    assert (warehouse / "p" / "stray").exists()
    runtime.reconcile()
    assert not (warehouse / "p" / "stray").exists() and (warehouse / ".scans" / "x").exists()
    [kept] = (warehouse / folders.QUARANTINE / "p").iterdir()
    assert kept.name.startswith("stray-") and DeltaTable(str(kept)).version() == 0
    runtime.table_service.create_table(admin, "p", "stray", DataSource(ROWS))
    assert runtime.reconcile().findings == []


def test_doctor_reports_and_repairs(cli, cli_env) -> None:  # noqa: F811
    cli("domain", "create", "D")
    cli("project", "create", "p", "--domain", "D")
    write_deltalake(Path(cli_env["LAKEHOLD_HOME"]) / "warehouse" / "p" / "stray", ROWS)
    found = cli("doctor", code=1)
    assert "orphan" in found and "p.stray" in found and cli_env["LAKEHOLD_HOME"] not in found
    assert "moved the folder" in cli("doctor", "--repair")
    assert "nothing to repair" in cli("doctor")


def test_a_write_reports_its_own_commit(setup, monkeypatch) -> None:
    """Finding: the version in a write response could be another process's later commit."""
    runtime, admin, _ = setup
    runtime.table_service.create_table(admin, "p", "t", DataSource(ROWS))
    import lakehold.lakehouse.tables as engine

    original = engine.write_deltalake

    def and_another(table: Any, data: Any, **kwargs: Any) -> None:
        original(table, data, **kwargs)
        original(str(runtime.settings.warehouse_path / "p" / "t"), ROWS, mode="append")

    monkeypatch.setattr(engine, "write_deltalake", and_another)
    result = runtime.table_service.write(admin, "p", "t", DataSource(ROWS), mode="append")
    assert result.result.version == 1 and result.result.snapshot.num_rows == 6
    history = runtime.table_service.history(admin, "p", "t")
    assert [(h.version, h.committer) for h in history[:2]] == [(2, None), (1, "admin")]


def test_two_processes_report_their_own_commits(setup, settings: Settings) -> None:
    runtime, admin, token = setup
    runtime.table_service.create_table(admin, "p", "t", DataSource(ROWS))
    children = [_start(settings, token, "appends", count=6) for _ in range(2)]
    reported = []
    for process, conn in children:
        assert conn.poll(60)
        reported.append(conn.recv())
        process.join(60)
    versions = [v for each in reported for v in each]
    assert len(versions) == len(set(versions)) and len(versions) >= 6
    assert sorted(versions) == sorted(
        h.version
        for h in runtime.tables.history(runtime.settings.warehouse_path / "p" / "t")
        if h.version > 0
    )


def test_random_kills(setup, settings: Settings) -> None:
    """kill -9 at random moments of a create/write/statement/drop loop; after each, a fresh
    Runtime reconciles: no intent pending, no orphan, no stale count, no running statement,
    and every free name can be created."""
    _, admin, token = setup
    rng = random.Random(os.environ.get("LAKEHOLD_CRASH_SEED", "10"))
    names = ["a", "b", "c"]
    outcomes: Counter[str] = Counter()
    for iteration in range(LOOP_ITERATIONS):
        process, _ = _start(settings, token, "loop", names=names, seed=iteration)
        time.sleep(rng.uniform(0.05, 0.6))
        process.kill()
        process.join(60)
        fresh = _fresh(settings)
        report = fresh.reconcile()
        outcomes.update(f.kind for f in report.findings)
        _check_consistent(fresh, admin, names)
        fresh.close()
    print(f"\n{LOOP_ITERATIONS} kills, reconciler findings: {dict(outcomes)}")


def _check_consistent(runtime: Runtime, admin, names: list[str]) -> None:
    warehouse = runtime.settings.warehouse_path
    assert _pending(runtime) == []
    with runtime.store.session() as session:
        running = session.scalars(
            select(Statement.id).where(Statement.status.in_(("SUBMITTED", "STARTED")))
        )
        assert list(running) == []
        assets = {a.name: (a.current_version, a.row_count) for a in session.scalars(select(Asset))}
        listings = list(session.scalars(select(Listing)))
    active = [listing.asset_id for listing in listings if listing.status == ACTIVE]
    assert len(active) == len(set(active)), "two active listings of one asset"
    revisions = [(listing.asset_id, listing.revision) for listing in listings]
    assert len(revisions) == len(set(revisions)), "a revision number used twice"
    on_disk = {p.name for p in folders.table_folders(warehouse)}
    assert on_disk == set(assets), (on_disk, assets)
    for name, (version, rows) in assets.items():
        snapshot = runtime.tables.snapshot(warehouse / "p" / name)
        assert (version, rows) == (snapshot.version, snapshot.num_rows), name
    for name in set(names) - set(assets):
        runtime.table_service.create_table(admin, "p", name, DataSource(ROWS))


def test_runner_liveness() -> None:
    from lakehold import process as runners

    me = runners.current()
    assert runners.alive(str(me)) is True and runners.RunnerId.parse(str(me)) == me
    child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
    child.start()
    child.join()
    gone = runners.RunnerId(me.host, me.boot, child.pid or 0, me.start)
    assert runners.alive(str(gone)) is False
    assert runners.alive(str(runners.RunnerId(me.host, me.boot, me.pid, "1"))) is False  # reused
    assert runners.alive(str(runners.RunnerId(me.host, "rebooted", me.pid, me.start))) is False
    elsewhere = str(runners.RunnerId("other-host", me.boot, me.pid, me.start))
    assert runners.alive(elsewhere) is None and runners.alive(None) is None
    assert runners.gone(elsewhere, 10, 60) is False and runners.gone(elsewhere, 61, 60) is True
