"""identity: users from identity providers, SCIM, service principals, revocation, lifetimes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

Users gain ``active``, ``kind`` (a person or a project's service principal), ``email``,
``external_id`` and ``identity_provider`` (who provisions them), and
``credentials_valid_after``: every session and token issued at or before it is refused.
``user_identities`` link a user to an OpenID Connect issuer + subject; ``service_principals``
and their rotating ``service_principal_secrets`` exchange a client id and secret for
short-lived tokens; ``security_policy`` (one row) holds token lifetimes and the global
revocation cutoff; ``login_failures`` count failed sign-ins per user and per address.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: on SQLite a batch would copy and drop ``users``, which
    # rows of every other table refer to (foreign keys are on).
    users: list[sa.Column] = [
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="user"),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("identity_provider", sa.String(length=64), nullable=True),
        sa.Column("credentials_valid_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    ]
    for column in users:
        op.add_column("users", column)
    op.create_index("ix_users_identity_provider", "users", ["identity_provider"])
    groups: list[sa.Column] = [
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("identity_provider", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    ]
    for column in groups:
        op.add_column("groups", column)
    op.create_table(
        "user_identities",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "subject"),
    )
    op.create_index("ix_user_identities_user_id", "user_identities", ["user_id"])
    op.create_table(
        "service_principals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
        sa.UniqueConstraint("client_id"),
    )
    op.create_index("ix_service_principals_project_id", "service_principals", ["project_id"])
    op.create_table(
        "service_principal_secrets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("service_principal_id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_principal_id"], ["service_principals.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_index(
        "ix_service_principal_secrets_service_principal_id",
        "service_principal_secrets",
        ["service_principal_id"],
    )
    op.create_table(
        "security_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("max_token_lifetime_seconds", sa.Integer(), nullable=True),
        sa.Column("default_token_lifetime_seconds", sa.Integer(), nullable=True),
        sa.Column("credentials_valid_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("login_failures")
    op.drop_table("security_policy")
    op.drop_index(
        "ix_service_principal_secrets_service_principal_id",
        table_name="service_principal_secrets",
    )
    op.drop_table("service_principal_secrets")
    op.drop_index("ix_service_principals_project_id", table_name="service_principals")
    op.drop_table("service_principals")
    op.drop_index("ix_user_identities_user_id", table_name="user_identities")
    op.drop_table("user_identities")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("identity_provider")
        batch.drop_column("external_id")
    op.drop_index("ix_users_identity_provider", table_name="users")
    with op.batch_alter_table("users") as batch:
        for column in (
            "updated_at",
            "credentials_valid_after",
            "identity_provider",
            "external_id",
            "email",
            "kind",
            "active",
        ):
            batch.drop_column(column)
