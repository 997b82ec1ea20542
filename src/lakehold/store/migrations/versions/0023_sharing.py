"""Delta Sharing: shares, recipients and their tokens, share grants

Revision ID: 0023_sharing
Revises: 0022
Create Date: 2026-12-07

``shares`` (a project's tables offered over the Delta Sharing protocol) hold ``share_tables``
(a listed asset as ``schema.table``); ``share_recipients`` (external organisations of the
producer project) read with ``share_recipient_tokens`` (hashed, expiring, revocable);
``share_grants`` (a recipient's access to a share: requested, approved, rejected, revoked; at
most one open per share and recipient, a partial unique index) with ``share_grant_tables``
(the filters an approval put on a table, copied as they were) -- ADR 37.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_sharing"
down_revision = "0022"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('requested', 'approved')")


def _id() -> sa.Column:
    return sa.Column("id", sa.String(length=32), primary_key=True)


def _at(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=32), sa.ForeignKey("users.id"), nullable=nullable)


def _owner(name: str, table: str) -> sa.Column:
    return sa.Column(
        name, sa.String(length=32), sa.ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "shares",
        _id(),
        sa.Column("name", sa.String(length=255), nullable=False, unique=True),
        _owner("project_id", "projects"),
        sa.Column("comment", sa.Text(), nullable=True),
        _user("created_by"),
        _at("created_at"),
    )
    op.create_index("ix_shares_project_id", "shares", ["project_id"])
    op.create_table(
        "share_tables",
        _id(),
        _owner("share_id", "shares"),
        _owner("asset_id", "assets"),
        sa.Column("schema_name", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        _user("created_by"),
        _at("created_at"),
        sa.UniqueConstraint("share_id", "schema_name", "name"),
        sa.UniqueConstraint("share_id", "asset_id"),
    )
    op.create_index("ix_share_tables_share_id", "share_tables", ["share_id"])
    op.create_index("ix_share_tables_asset_id", "share_tables", ["asset_id"])
    op.create_table(
        "share_recipients",
        _id(),
        _owner("project_id", "projects"),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _user("created_by"),
        _at("created_at"),
        sa.UniqueConstraint("project_id", "name"),
    )
    op.create_index("ix_share_recipients_project_id", "share_recipients", ["project_id"])
    op.create_table(
        "share_recipient_tokens",
        _id(),
        _owner("recipient_id", "share_recipients"),
        sa.Column("lookup", sa.String(length=16), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        _user("created_by"),
        _at("created_at"),
        _at("expires_at"),
        _at("revoked_at", nullable=True),
        _user("revoked_by", nullable=True),
        _at("last_used_at", nullable=True),
    )
    op.create_index(
        "ix_share_recipient_tokens_recipient_id", "share_recipient_tokens", ["recipient_id"]
    )
    op.create_table(
        "share_grants",
        _id(),
        _owner("share_id", "shares"),
        _owner("recipient_id", "share_recipients"),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _user("requested_by"),
        _at("created_at"),
        _user("decided_by", nullable=True),
        _at("decided_at", nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        _user("revoked_by", nullable=True),
        _at("revoked_at", nullable=True),
    )
    op.create_index("ix_share_grants_share_id", "share_grants", ["share_id"])
    op.create_index("ix_share_grants_recipient_id", "share_grants", ["recipient_id"])
    op.create_index(
        "uq_share_grants_open",
        "share_grants",
        ["share_id", "recipient_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "share_grant_tables",
        _id(),
        _owner("grant_id", "share_grants"),
        _owner("share_table_id", "share_tables"),
        sa.Column("row_filter", sa.String(length=100), nullable=True),
        sa.Column("row_expression", sa.Text(), nullable=True),
        sa.Column("column_filter", sa.String(length=100), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=True),
        sa.UniqueConstraint("grant_id", "share_table_id"),
    )
    op.create_index("ix_share_grant_tables_grant_id", "share_grant_tables", ["grant_id"])
    op.create_index(
        "ix_share_grant_tables_share_table_id", "share_grant_tables", ["share_table_id"]
    )


def downgrade() -> None:
    for table in (
        "share_grant_tables",
        "share_grants",
        "share_recipient_tokens",
        "share_recipients",
        "share_tables",
        "shares",
    ):
        op.drop_table(table)
