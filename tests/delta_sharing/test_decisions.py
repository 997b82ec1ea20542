"""Share grants are decisions (ADR 18, 37): serialised (concurrent approvals leave one winner),
decided by the kernel (owners approve, contributors request, outsiders see nothing, a recipient
does nothing but read), and audited."""

from __future__ import annotations

from functools import partial
from urllib.parse import unquote

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from fastapi.testclient import TestClient

from lakehold.errors import Forbidden
from lakehold.governance.sharing.grants import TableDecision
from lakehold.governance.sharing.refresher import SnapshotRefresher
from lakehold.kernel import Action, authorize
from lakehold.security.principal import Principal
from lakehold.security.recipients import recipient_principal
from lakehold.store.models import Project, ShareGrant
from tests.delta_sharing.conftest import SALES, SHARE, Retail, client_read, recipient
from tests.governance.test_concurrency import kinds, race
from tests.scenarios.helpers import ok
from tests.sharing import add_member, client_for, new_user

THREADS = 4


def _ask(retail: Retail, recipient_id: str) -> dict:
    return ok(
        retail.owner.post(
            "/api/v1/share-grants",
            json={"share": SHARE, "recipient": recipient_id, "reason": "audit of sales"},
        ),
        201,
    )


def _owner(retail: Retail) -> Principal:
    with retail.runtime.store.session() as session:
        project = session.query(Project).filter_by(name="retail").one()
        return Principal(user_id=project.owner_id, username="retail_owner")


def test_concurrent_approvals_leave_one_winner(retail: Retail) -> None:
    acme, _ = recipient(retail, "acme")
    asked = _ask(retail, acme)
    approve = partial(
        retail.runtime.share_grants.approve,
        _owner(retail),
        asked["id"],
        tables=[TableDecision("retail.store_sales", row_filter="widget_a")],
    )
    outcomes = race([approve] * THREADS)
    assert kinds(outcomes) == {"ok": 1, "conflict": THREADS - 1}
    winner = next(o for o in outcomes if not isinstance(o, Exception))
    assert winner.status == "approved"
    sales = next(t for t in winner.tables if t.table == "retail.store_sales")
    assert sales.row_filter == "widget_a" and sales.snapshot_version == 0
    # approve and revoke at once: the revocation wins only over an approved grant
    revoke = partial(retail.runtime.share_grants.revoke, _owner(retail), asked["id"])
    outcomes = race([revoke] * THREADS)
    assert kinds(outcomes) == {"ok": 1, "conflict": THREADS - 1}
    events = retail.runtime.audit.events(_admin(retail), action="share_grant.approve")
    assert sorted(e.allowed for e in events) == [False] * (THREADS - 1) + [True]


def _admin(retail: Retail) -> Principal:
    return Principal(user_id="admin", username="admin", is_admin=True)


def test_who_may_request_decide_and_see(retail: Retail, runtime, admin) -> None:
    acme, _ = recipient(retail, "acme")
    helper, helper_token = new_user(runtime, admin, "helper")
    add_member(runtime, "retail", helper, "contributor")
    _, outsider_token = new_user(runtime, admin, "outsider")
    with (
        client_for(runtime, helper_token) as contributor,
        client_for(runtime, outsider_token) as outsider,
    ):
        missing = contributor.post(
            "/api/v1/share-grants", json={"share": SHARE, "recipient": acme, "reason": " "}
        )
        assert missing.status_code == 400 and missing.json()["field"] == "reason"
        asked = ok(
            contributor.post(
                "/api/v1/share-grants",
                json={"share": SHARE, "recipient": acme, "reason": "for the auditors"},
            ),
            201,
        )
        again = contributor.post(
            "/api/v1/share-grants",
            json={"share": SHARE, "recipient": acme, "reason": "twice"},
        )
        assert again.status_code == 409
        refused = contributor.post(f"/api/v1/share-grants/{asked['id']}/approve", json={})
        assert refused.status_code == 403
        assert (
            contributor.post(
                "/api/v1/share-recipients",
                json={"project": "retail", "name": "x", "organisation": "X"},
            ).status_code
            == 403
        )
        assert outsider.get(f"/api/v1/shares/{SHARE}").status_code == 404
        assert outsider.get(f"/api/v1/share-grants/{asked['id']}").status_code == 404
        assert outsider.get("/api/v1/shares").json() == []
        assert [s["name"] for s in contributor.get("/api/v1/shares").json()] == [SHARE]

    bad = retail.owner.post(
        f"/api/v1/share-grants/{asked['id']}/approve",
        json={"tables": [{"table": "retail.store_sales", "row_filter": "no_email"}]},
    )
    assert bad.status_code == 400 and bad.json()["field"] == "tables[0].row_filter"
    unknown = retail.owner.post(
        f"/api/v1/share-grants/{asked['id']}/approve",
        json={"tables": [{"table": "retail.nope"}]},
    )
    assert unknown.status_code == 400 and unknown.json()["field"] == "tables[0].table"
    rejected = ok(
        retail.owner.post(f"/api/v1/share-grants/{asked['id']}/reject", json={"comment": "no"})
    )
    assert rejected["status"] == "rejected" and rejected["decided_by"] == "retail_owner"
    assert retail.owner.post(f"/api/v1/share-grants/{asked['id']}/revoke").status_code == 409


def test_the_kernel_lets_a_recipient_read_its_approved_share_and_nothing_else(
    retail: Retail,
) -> None:
    acme, _ = recipient(retail, "acme")
    asked = _ask(retail, acme)
    principal = recipient_principal(acme, "acme")
    with retail.runtime.store.session() as session:
        project = session.query(Project).filter_by(name="retail").one()
        grant = session.get(ShareGrant, asked["id"])
        with pytest.raises(Forbidden, match="recipient may only read"):
            authorize(principal, Action.PROJECT_READ, project, session=session)
        with pytest.raises(Forbidden, match="recipient may only read"):
            authorize(principal, Action.TOKEN_CREATE)
        with pytest.raises(Forbidden, match="not approved"):
            authorize(principal, Action.SHARE_READ, grant, session=session)
        with pytest.raises(Forbidden, match="only a Delta Sharing recipient"):
            authorize(_owner(retail), Action.SHARE_READ, grant, session=session)
        other = recipient_principal("someone-else", "x")
        grant.status = "approved"
        authorize(principal, Action.SHARE_READ, grant, session=session)
        with pytest.raises(Forbidden):
            authorize(other, Action.SHARE_READ, grant, session=session)
        session.rollback()


def test_removing_a_table_or_the_recipient_removes_its_snapshots(
    retail: Retail, client: TestClient
) -> None:
    acme, _ = recipient(retail, "acme")
    asked = _ask(retail, acme)
    ok(
        retail.owner.post(
            f"/api/v1/share-grants/{asked['id']}/approve",
            json={"tables": [{"table": "retail.customer", "column_filter": "no_email"}]},
        )
    )
    snapshots = retail.runtime.shared_snapshots
    assert [p for p in snapshots.root.iterdir() if p.is_dir()]
    # an approved grant filters the table: it stays in the share until that grant is revoked
    held = retail.owner.delete(f"/api/v1/shares/{SHARE}/tables/retail.customer")
    assert held.status_code == 409 and "revoke" in held.json()["message"]
    assert [p for p in snapshots.root.iterdir() if p.is_dir()]
    ok(retail.owner.post(f"/api/v1/share-grants/{asked['id']}/revoke"))
    assert not [p for p in snapshots.root.iterdir() if p.is_dir()]
    view = ok(retail.owner.delete(f"/api/v1/shares/{SHARE}/tables/retail.customer"))
    assert [t["name"] for t in view["tables"]] == ["store_sales"]
    assert not [p for p in snapshots.root.iterdir() if p.is_dir()]
    assert retail.owner.delete(f"/api/v1/share-recipients/{acme}").status_code == 204
    assert retail.owner.get(f"/api/v1/share-grants/{asked['id']}").status_code == 404
    assert retail.owner.delete(f"/api/v1/shares/{SHARE}").status_code == 204
    assert retail.owner.get("/api/v1/shares").json() == []


def test_the_refresher_vacuums_the_copies_refreshes_removed(retail: Retail) -> None:
    """A refresh removes the copies of overwritten source files from the snapshot's newest
    version; they stay on disk for older versions until the retention passes, then the
    refresher deletes them, without a commit: the snapshot keeps its versions and serves the
    new rows."""
    acme, profile = recipient(retail, "acme")
    asked = _ask(retail, acme)
    ok(
        retail.owner.post(
            f"/api/v1/share-grants/{asked['id']}/approve",
            json={"tables": [{"table": "retail.store_sales", "row_filter": "widget_a"}]},
        )
    )
    snapshots = retail.runtime.shared_snapshots
    [snapshot_id] = snapshots.materialised()
    target = snapshots.target(snapshot_id)

    def data_files() -> set[str]:
        return {
            str(p.relative_to(target))
            for p in target.rglob("*.parquet")
            if not str(p.relative_to(target)).startswith("_")
        }

    first = data_files()
    assert first
    ok(
        retail.owner.post(
            "/api/v1/projects/retail/tables/store_sales/writes",
            data={"mode": "overwrite"},
            files={
                "file": (
                    "all.csv",
                    b"sale_id,cust_id,sale_date,sale_amount,prod_id,last_purchase_date\n"
                    b"31,1,2023-04-01,10.00,1,2023-04-01\n"
                    b"32,2,2023-04-02,20.00,2,2023-04-02\n",
                )
            },
        )
    )
    store = retail.runtime.store
    keeping = SnapshotRefresher(store, snapshots, 0, retention_hours=168)
    assert keeping.run_once() == 1
    version = snapshots.latest(snapshot_id)
    adds = pa.table(DeltaTable(str(target)).get_add_actions(flatten=False))
    active = {unquote(path) for path in adds.column("path").to_pylist()}
    assert first <= data_files() and first.isdisjoint(active)  # kept for version 0
    assert SnapshotRefresher(store, snapshots, 0, retention_hours=0).run_once() == 0
    assert data_files() == active  # what no version within the retention reads is gone
    assert snapshots.latest(snapshot_id) == version  # no commit
    read = client_read("load", profile, SALES)
    assert [row["sale_id"] for row in read["rows"]] == [31], read


def test_the_refresher_catches_filtered_snapshots_up_without_a_read(retail: Retail) -> None:
    acme, _ = recipient(retail, "acme")
    asked = _ask(retail, acme)
    approved = ok(
        retail.owner.post(
            f"/api/v1/share-grants/{asked['id']}/approve",
            json={"tables": [{"table": "retail.store_sales", "row_filter": "widget_a"}]},
        )
    )
    assert approved["tables"][1]["snapshot_version"] == 0
    refresher = retail.runtime.sharing_refresher
    assert refresher.run_once() == 0  # nothing committed since
    ok(
        retail.owner.post(
            "/api/v1/projects/retail/tables/store_sales/writes",
            data={"mode": "append"},
            files={
                "file": (
                    "more.csv",
                    b"sale_id,cust_id,sale_date,sale_amount,prod_id,last_purchase_date\n"
                    b"21,1,2023-03-01,99.50,1,2023-03-01\n",
                )
            },
        )
    )
    assert refresher.run_once() == 1
    view = ok(retail.owner.get(f"/api/v1/share-grants/{asked['id']}"))
    sales = next(t for t in view["tables"] if t["table"] == "retail.store_sales")
    assert sales["snapshot_version"] == 1
    # A dropped source table ends what grants served of it: the refresher removes the snapshot.
    assert retail.owner.delete("/api/v1/projects/retail/tables/store_sales").status_code == 204
    refresher.run_once()
    assert retail.runtime.shared_snapshots.materialised() == set()


def test_snapshot_files_are_kept_at_least_as_long_as_their_urls_open(tmp_path) -> None:
    from pydantic import ValidationError

    from lakehold.config import Settings

    with pytest.raises(ValidationError, match="LAKEHOLD_SHARING_SNAPSHOT_RETENTION_HOURS"):
        Settings(home=tmp_path, sharing_url_seconds=7200, sharing_snapshot_retention_hours=1)
    with pytest.raises(ValidationError, match="sharing_snapshot_retention_hours"):
        Settings(home=tmp_path, sharing_snapshot_retention_hours=0)
    assert Settings(home=tmp_path).sharing_snapshot_retention_hours == 168
