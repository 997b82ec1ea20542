"""Decisions that hold under concurrency (issue 10, ADR 18), on SQLite and PostgreSQL: races
of 8 threads and of 2 processes (spawn, a Runtime each) leave one winner, Conflicts for the
others and a consistent state; migration 0010's constraints and its clean-up of duplicates."""

from __future__ import annotations

import importlib.util
import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lakehold.config import Settings
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.governance.listings import ACTIVE
from lakehold.governance.subscriptions import ItemDecision
from lakehold.runtime import Runtime
from lakehold.store.db import MIGRATIONS
from lakehold.store.models import (
    Asset,
    Grant,
    Listing,
    Project,
    ProjectMember,
    SubscriptionRequest,
    utcnow,
)
from tests.governance.conftest import World
from tests.sharing import client_for

THREADS = 8
ROUNDS = 3


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` at once (released together by a barrier); each result or raised error."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=60)
        try:
            return call()
        except Exception as error:  # the outcome is what the test inspects
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def kinds(outcomes: list[Any]) -> Counter[str]:
    """``ok`` / ``conflict`` per outcome; anything else is named by its type and message."""
    return Counter(
        "ok"
        if not isinstance(o, Exception)
        else "conflict"
        if isinstance(o, Conflict)
        else f"{type(o).__name__}: {o}"
        for o in outcomes
    )


def active_grants(world: World, table: str = "customer") -> list[Grant]:
    query = select(Grant).join(Asset, Asset.id == Grant.asset_id)
    query = query.join(Project, Project.id == Grant.project_id).where(
        Asset.name == table, Project.name == "analysts", Grant.revoked_at.is_(None)
    )
    with world.runtime.store.session() as session:
        return list(session.scalars(query))


def listings_of(world: World, table: str) -> list[Listing]:
    query = select(Listing).join(Asset, Asset.id == Listing.asset_id).where(Asset.name == table)
    with world.runtime.store.session() as session:
        return list(session.scalars(query.order_by(Listing.revision)))


def can_query(world: World, table: str = "customer") -> bool:
    try:
        world.query(f"select count(*) from retail.{table}")
    except NotFound:
        return False
    return True


def revoke_all(world: World) -> None:
    for grant in active_grants(world):
        world.runtime.grants.revoke(world.owner, grant.id)


# -- threads -----------------------------------------------------------------------------------


def test_parallel_approvals_then_revocations_one_wins(world: World) -> None:
    for _ in range(ROUNDS):
        request = world.request("customer")
        approve = partial(world.runtime.subscriptions.approve, world.owner, request.id)
        outcomes = race([approve] * THREADS)
        assert kinds(outcomes) == {"ok": 1, "conflict": THREADS - 1}
        assert all("is already approved" in o.message for o in outcomes if isinstance(o, Conflict))
        grants = active_grants(world)
        winner = next(o for o in outcomes if not isinstance(o, Exception))
        assert [g.id for g in grants] == [winner.items[0].grant_id] and can_query(world)
        outcomes = race([partial(world.runtime.grants.revoke, world.owner, grants[0].id)] * THREADS)
        assert kinds(outcomes) == {"ok": 1, "conflict": THREADS - 1}
        assert active_grants(world) == [] and not can_query(world)


def test_approve_reject_race_is_consistent(world: World) -> None:
    subscriptions = world.runtime.subscriptions
    for _ in range(ROUNDS):
        request = world.request("customer")
        approve = partial(subscriptions.approve, world.owner, request.id)
        reject = partial(subscriptions.reject, world.owner, request.id)
        outcomes = race([approve, reject] * (THREADS // 2))
        assert kinds(outcomes) == {"ok": 1, "conflict": THREADS - 1}
        status = subscriptions.get_request(world.owner, request.id).status
        grants = active_grants(world)
        if status == "rejected":
            assert grants == []
            assert not can_query(world)
        else:
            assert status == "approved"
            assert len(grants) == 1
            assert can_query(world)
        revoke_all(world)


def test_parallel_publishes_leave_one_active_listing(world: World) -> None:
    listings = world.runtime.listings
    for _ in range(ROUNDS):
        before = len(listings_of(world, "inventory"))
        outcomes = race([lambda: listings.publish(world.owner, "retail", "inventory")] * THREADS)
        assert kinds(outcomes) == {"ok": THREADS}
        rows = listings_of(world, "inventory")
        assert len(rows) == before + THREADS
        assert [r.status for r in rows].count(ACTIVE) == 1
        assert rows[-1].status == ACTIVE
        assert sorted(r.revision for r in rows) == list(range(1, len(rows) + 1))
    outcomes = race([lambda: listings.unpublish(world.owner, "retail", "inventory")] * THREADS)
    assert kinds(outcomes) == {"ok": 1, "conflict": THREADS - 1}
    rows = listings_of(world, "inventory")
    assert [r.status for r in rows].count(ACTIVE) == 0
    with pytest.raises(NotFound):
        world.request("inventory")
    for row in rows[-2:]:
        with pytest.raises(NotFound):
            world.runtime.subscriptions.request(
                world.analyst, "analysts", [row.id], "need this data"
            )


def test_parallel_approvals_over_http_answer_409(world: World) -> None:
    token = world.runtime.security.create_token(world.admin, "race", username="owner").value
    assert token is not None
    request = world.request("customer")
    with client_for(world.runtime, token) as http:
        url = f"/api/v1/subscription-requests/{request.id}/approve"
        responses = race([lambda: http.post(url, json={})] * THREADS)
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 1, 409: THREADS - 1}, [r.text for r in responses if r.status_code >= 500]
    assert all(
        "is already approved" in r.json()["message"] for r in responses if r.status_code == 409
    )
    assert len(active_grants(world)) == 1


def test_filter_delete_and_approval_with_it_serialise(world: World) -> None:
    filters, subscriptions = world.runtime.filters, world.runtime.subscriptions
    for round_ in range(ROUNDS):
        name = f"uk{round_}"
        filters.create_filter(
            world.owner, "retail", "customer", name, kind="row", expression="cust_id < 3"
        )
        request = world.request("customer")
        decision = [ItemDecision(world.listings["customer"].id, row_filter=name)]
        outcomes = race(
            [
                partial(subscriptions.approve, world.owner, request.id, items=decision),
                partial(filters.delete_filter, world.owner, "retail", "customer", name),
            ]
        )
        approved, deleted = outcomes
        grants = active_grants(world)
        if isinstance(approved, Exception):  # the deletion went first: nothing is granted
            assert isinstance(approved, Invalid) and "not found" in approved.message
            assert deleted is None and grants == []
        else:  # the approval went first: the filter is in use and stays
            assert isinstance(deleted, Conflict) and "used by 1 active grant" in deleted.message
            assert len(grants) == 1 and grants[0].row_filter_id is not None
            revoke_all(world)


# -- two processes -----------------------------------------------------------------------------


def _process_worker(
    home: str, url: str, token: str, script: list[tuple[str, str]], barrier: Any, results: Any
) -> None:
    """One of two racing processes: its own Runtime; per round, wait, act, report, wait."""
    runtime = Runtime(Settings(home=Path(home), database_url=url, statement_timeout_seconds=30))
    try:
        principal = runtime.security.authenticate(token)
        actions = {
            "approve": lambda arg: runtime.subscriptions.approve(principal, arg),
            "reject": lambda arg: runtime.subscriptions.reject(principal, arg),
            "publish": lambda arg: runtime.listings.publish(principal, "retail", arg),
            "unpublish": lambda arg: runtime.listings.unpublish(principal, "retail", arg),
        }
        for action, arg in script:
            barrier.wait(timeout=120)
            try:
                actions[action](arg)
                results.put((action, arg, "ok"))
            except Conflict:
                results.put((action, arg, "conflict"))
            except Exception as error:  # reported to the parent
                results.put((action, arg, f"{type(error).__name__}: {error}"))
            barrier.wait(timeout=120)
    finally:
        runtime.close()


def test_two_processes_race(world: World, settings: Settings) -> None:
    """Approve/approve, approve/reject, publish/publish and unpublish/unpublish from two
    processes; the parent checks the state after each round (three parties to the barrier)."""
    rt = world.runtime
    token = rt.security.create_token(world.admin, "race", username="owner").value
    assert token is not None
    rounds: list[tuple[str, str, str]] = []  # (first process, second process, argument)
    for _ in range(ROUNDS):
        rounds.append(("approve", "approve", world.request("customer").id))
        rounds.append(("approve", "reject", world.request("customer").id))
    rounds += [("publish", "publish", "inventory")] * ROUNDS + [("unpublish",) * 2 + ("inventory",)]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    workers = [
        context.Process(
            target=_process_worker,
            args=(
                str(settings.home),
                settings.resolved_database_url,
                token,
                [(r[i], r[2]) for r in rounds],
                barrier,
                results,
            ),
        )
        for i in (0, 1)
    ]
    for worker in workers:
        worker.start()
    try:
        published = len(listings_of(world, "inventory"))
        for action, _, arg in rounds:
            barrier.wait(timeout=120)
            barrier.wait(timeout=120)
            outcomes = Counter(results.get(timeout=30)[2] for _ in workers)
            if action == "publish":
                assert outcomes == {"ok": 2}
                rows, published = listings_of(world, arg), published + 2
                assert len({r.revision for r in rows}) == len(rows) == published
                assert [r.status for r in rows].count(ACTIVE) == 1
                continue
            assert outcomes == {"ok": 1, "conflict": 1}, outcomes
            if action == "unpublish":
                assert [r.status for r in listings_of(world, arg)].count(ACTIVE) == 0
                with pytest.raises(NotFound):
                    world.request(arg)
                continue
            status = rt.subscriptions.get_request(world.owner, arg).status
            grants = active_grants(world)
            assert len(grants) == (0 if status == "rejected" else 1)
            assert can_query(world) is (status == "approved")
            revoke_all(world)
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
    assert [w.exitcode for w in workers] == [0, 0]


# -- constraints -------------------------------------------------------------------------------


def _run(world: World, step: str) -> None:
    """Run the upgrade or downgrade step of migration 0010_decision_constraints."""
    path = MIGRATIONS / "versions" / "0010_decision_constraints.py"
    spec = importlib.util.spec_from_file_location("decision_constraints", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with (
        world.runtime.store.engine.begin() as connection,
        Operations.context(MigrationContext.configure(connection)),
    ):
        getattr(module, step)()


def test_constraints_refuse_duplicates(world: World) -> None:
    """Even code that forgets the checks cannot store a second active grant or listing, a
    repeated revision or a repeated member."""
    world.runtime.subscriptions.approve(world.owner, world.request("customer").id)
    grant = active_grants(world)[0]
    listing = world.listings["customer"]
    with world.runtime.store.session() as session:
        analysts = session.scalar(select(Project).where(Project.name == "analysts"))
        assert analysts is not None
        owner_row = session.scalar(
            select(ProjectMember).where(ProjectMember.project_id == analysts.id)
        )
        assert owner_row is not None
        member = (analysts.id, owner_row.user_id)
    duplicates = [
        Grant(asset_id=grant.asset_id, project_id=grant.project_id, created_by=grant.created_by),
        Listing(
            asset_id=grant.asset_id,
            revision=listing.revision + 1,
            name="customer",
            status=ACTIVE,
            published_by=grant.created_by,
        ),
        Listing(
            asset_id=grant.asset_id,
            revision=listing.revision,
            name="customer",
            status="superseded",
            published_by=grant.created_by,
        ),
        ProjectMember(project_id=member[0], user_id=member[1], role="viewer"),
    ]
    for row in duplicates:
        with pytest.raises(IntegrityError), world.runtime.store.session() as session:
            session.add(row)


def test_a_forgotten_check_is_a_conflict_not_a_server_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Services that forget to supersede a listing or revoke a replaced grant hit the unique
    indexes: the caller gets a Conflict (HTTP 409) and nothing is written."""
    import lakehold.governance.listings as listings_module
    import lakehold.governance.subscriptions as subscriptions_module

    rt = world.runtime
    monkeypatch.setattr(listings_module, "active_listing", lambda session, asset_id: None)
    with pytest.raises(Conflict, match="published concurrently"):
        rt.listings.publish(world.owner, "retail", "inventory")
    token = rt.security.create_token(world.admin, "forgets", username="owner").value
    assert token is not None
    with client_for(rt, token) as http:
        response = http.post("/api/v1/projects/retail/assets/inventory/publish", json={})
        assert response.status_code == 409, response.text
    assert [r.status for r in listings_of(world, "inventory")] == [ACTIVE]
    monkeypatch.undo()

    def forgetful(session, principal, asset, project, *, request_item_id, **_filters):
        grant = Grant(
            asset_id=asset.id,
            project_id=project.id,
            request_item_id=request_item_id,
            created_by=principal.user_id,
        )
        session.add(grant)
        session.flush()
        return grant, []

    rt.subscriptions.approve(world.owner, world.request("customer").id)
    monkeypatch.setattr(subscriptions_module, "replace_grant", forgetful)
    second = world.request("customer")
    with pytest.raises(Conflict, match="decided concurrently"):
        rt.subscriptions.approve(world.owner, second.id)
    assert rt.subscriptions.get_request(world.owner, second.id).status == "requested"
    assert len(active_grants(world)) == 1


def test_migration_cleans_up_duplicates(world: World) -> None:
    """An old deployment with duplicates upgrades: the oldest active row stays, the others are
    revoked or superseded, repeated revisions are renumbered, repeated members merged."""
    rt = world.runtime
    rt.subscriptions.approve(world.owner, world.request("customer").id)
    first = active_grants(world)[0]
    _run(world, "downgrade")
    now = utcnow()
    with rt.store.session() as session:
        asset = session.get(Asset, first.asset_id)
        analysts = session.get(Project, first.project_id)
        assert asset is not None and analysts is not None
        for minutes in (1, 2):
            session.add(
                Grant(
                    asset_id=asset.id,
                    project_id=analysts.id,
                    created_by=first.created_by,
                    created_at=now + timedelta(minutes=minutes),
                )
            )
        for minutes, revision in ((1, 1), (2, 2), (3, 2)):
            session.add(
                Listing(
                    asset_id=asset.id,
                    revision=revision,
                    name=asset.name,
                    status=ACTIVE,
                    published_by=first.created_by,
                    published_at=now + timedelta(minutes=minutes),
                )
            )
        owner_member = session.scalar(
            select(ProjectMember).where(ProjectMember.project_id == analysts.id)
        )
        assert owner_member is not None and owner_member.role == "owner"
        session.add(
            ProjectMember(
                project_id=analysts.id,
                user_id=owner_member.user_id,
                role="viewer",
                created_at=owner_member.created_at - timedelta(minutes=1),
            )
        )
    _run(world, "upgrade")
    grants = active_grants(world)
    assert [g.id for g in grants] == [first.id]
    rows = listings_of(world, "customer")
    assert [r.status for r in rows].count(ACTIVE) == 1
    assert next(r for r in rows if r.status == ACTIVE).id == world.listings["customer"].id
    assert sorted(r.revision for r in rows) == list(range(1, len(rows) + 1))
    with rt.store.session() as session:
        members = session.scalars(
            select(ProjectMember).where(
                ProjectMember.project_id == first.project_id,
                ProjectMember.user_id == owner_member.user_id,
            )
        ).all()
        assert [m.role for m in members] == ["owner"]  # the strongest role survives
        assert session.scalar(select(func.count()).select_from(SubscriptionRequest)) == 1
    assert can_query(world)
