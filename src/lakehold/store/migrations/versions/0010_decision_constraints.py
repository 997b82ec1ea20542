"""decision constraints: one active grant per (asset, project), one active listing per asset,
unique listing revisions, one membership per (project, user) and per (project, group)

Duplicates that concurrent decisions left behind are cleaned up first, deterministically, so
the unique indexes can be created on a real deployment:
- grants: of the active grants of one (asset, project), the oldest stays; the others are
  revoked now (``revoked_by`` empty: the migration ended them);
- listings: a repeated (asset, revision) keeps its number on the oldest listing, the others get
  the next free revisions of the asset (in publishing order); of the active listings of one
  asset the oldest stays active, the others are superseded now;
- project members: of the rows of one user (or group) in one project the oldest stays, with the
  strongest role of the rows (the role the member had in effect), the others are deleted.
"oldest" means earliest creation time, then smallest id.

Revision ID: 0010_decision_constraints
Revises: 0009
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010_decision_constraints"
down_revision = "0009"
branch_labels = None
depends_on = None

ROLES = {"viewer": 1, "contributor": 2, "owner": 3}

grants = sa.table(
    "grants",
    sa.column("id", sa.String),
    sa.column("asset_id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("revoked_at", sa.DateTime(timezone=True)),
)
listings = sa.table(
    "listings",
    sa.column("id", sa.String),
    sa.column("asset_id", sa.String),
    sa.column("revision", sa.Integer),
    sa.column("status", sa.String),
    sa.column("published_at", sa.DateTime(timezone=True)),
    sa.column("withdrawn_at", sa.DateTime(timezone=True)),
)
members = sa.table(
    "project_members",
    sa.column("id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("user_id", sa.String),
    sa.column("group_id", sa.String),
    sa.column("role", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _oldest_first(rows: list, at: str) -> list:
    """Rows in creation order; a missing time sorts first, ids break ties."""
    return sorted(rows, key=lambda r: (getattr(r, at) is not None, str(getattr(r, at)), r.id))


def _revoke_duplicate_grants(bind: sa.Connection, now: datetime) -> None:
    groups = defaultdict(list)
    for row in bind.execute(sa.select(grants).where(grants.c.revoked_at.is_(None))):
        groups[(row.asset_id, row.project_id)].append(row)
    for rows in groups.values():
        for extra in _oldest_first(rows, "created_at")[1:]:
            bind.execute(grants.update().where(grants.c.id == extra.id).values(revoked_at=now))


def _fix_listings(bind: sa.Connection, now: datetime) -> None:
    by_asset = defaultdict(list)
    for row in bind.execute(sa.select(listings)):
        by_asset[row.asset_id].append(row)
    for rows in by_asset.values():
        ordered = _oldest_first(rows, "published_at")
        taken: set[int] = set()
        renumber = []
        for row in sorted(ordered, key=lambda r: (r.revision, ordered.index(r))):
            if row.revision in taken:
                renumber.append(row)
            taken.add(row.revision)
        following = max(taken, default=0)
        for row in sorted(renumber, key=ordered.index):
            following += 1
            bind.execute(
                listings.update().where(listings.c.id == row.id).values(revision=following)
            )
        active = [r for r in ordered if r.status == "active"]
        for extra in active[1:]:
            bind.execute(
                listings.update()
                .where(listings.c.id == extra.id)
                .values(status="superseded", withdrawn_at=now)
            )


def _merge_duplicate_members(bind: sa.Connection) -> None:
    groups = defaultdict(list)
    for row in bind.execute(sa.select(members)):
        who = ("user", row.user_id) if row.user_id is not None else ("group", row.group_id)
        groups[(row.project_id, who)].append(row)
    for rows in groups.values():
        if len(rows) < 2:
            continue
        kept, *extra = _oldest_first(rows, "created_at")
        strongest = max((r.role for r in rows), key=lambda role: ROLES.get(role, 0))
        bind.execute(members.delete().where(members.c.id.in_([r.id for r in extra])))
        if strongest != kept.role:
            bind.execute(members.update().where(members.c.id == kept.id).values(role=strongest))


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    _revoke_duplicate_grants(bind, now)
    _fix_listings(bind, now)
    _merge_duplicate_members(bind)
    active_grant = sa.text("revoked_at IS NULL")
    op.create_index(
        "uq_grants_active_asset_project",
        "grants",
        ["asset_id", "project_id"],
        unique=True,
        sqlite_where=active_grant,
        postgresql_where=active_grant,
    )
    op.create_index("uq_listings_asset_revision", "listings", ["asset_id", "revision"], unique=True)
    active_listing = sa.text("status = 'active'")
    op.create_index(
        "uq_listings_active_asset",
        "listings",
        ["asset_id"],
        unique=True,
        sqlite_where=active_listing,
        postgresql_where=active_listing,
    )
    for kind in ("user", "group"):
        present = sa.text(f"{kind}_id IS NOT NULL")
        op.create_index(
            f"uq_project_members_{kind}",
            "project_members",
            ["project_id", f"{kind}_id"],
            unique=True,
            sqlite_where=present,
            postgresql_where=present,
        )


def downgrade() -> None:
    op.drop_index("uq_project_members_group", table_name="project_members")
    op.drop_index("uq_project_members_user", table_name="project_members")
    op.drop_index("uq_listings_active_asset", table_name="listings")
    op.drop_index("uq_listings_asset_revision", table_name="listings")
    op.drop_index("uq_grants_active_asset_project", table_name="grants")
