"""SQLAlchemy models of the metadata store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def partial_unique(name: str, *columns: str, where: str) -> Index:
    """A unique index over the rows matching ``where`` (SQLite and PostgreSQL alike)."""
    condition = sql_text(where)
    return Index(name, *columns, unique=True, sqlite_where=condition, postgresql_where=condition)


def new_id() -> str:
    """A new random identifier."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite hands back naive ones, and every time
    Lakehold stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base; timestamps are stored timezone-aware."""

    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """False: deactivated (SCIM ``active: false``); every session and token is refused."""
    kind: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    """``user`` (a person) or ``service`` (a project's service principal)."""
    email: Mapped[str | None] = mapped_column(String(320))
    external_id: Mapped[str | None] = mapped_column(String(255))
    """The identity provider's own id of the user (SCIM ``externalId``)."""
    identity_provider: Mapped[str | None] = mapped_column(String(64), index=True)
    """The configured provider that provisioned the user (OIDC or SCIM), None: local."""
    credentials_valid_after: Mapped[datetime | None] = mapped_column()
    """Every session and token issued at or before this time is refused (revocation)."""
    updated_at: Mapped[datetime | None] = mapped_column()


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    scopes: Mapped[list[str] | None] = mapped_column(JSON)
    namespaces: Mapped[list[str] | None] = mapped_column(JSON)
    """Lineage namespace patterns a ``lineage:write`` token may change (0008_lineage_writers)."""
    identity_provider: Mapped[str | None] = mapped_column(String(64))
    """The identity provider a ``scim`` token provisions users and groups for (0019)."""

    user: Mapped[User] = relationship()


class Domain(Base):
    __tablename__ = "domains"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    domain_id: Mapped[str] = mapped_column(ForeignKey("domains.id"), index=True)
    domain_unit_id: Mapped[str | None] = mapped_column(ForeignKey("domain_units.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    domain: Mapped[Domain] = relationship()
    owner: Mapped[User] = relationship()


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    asset_type: Mapped[str] = mapped_column(String(40), default="lakehouse_table")
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    storage_path: Mapped[str] = mapped_column(Text)
    key_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[Project] = relationship()
    columns: Mapped[list[AssetColumn]] = relationship(
        order_by="AssetColumn.ordinal", cascade="all, delete-orphan"
    )


class AssetColumn(Base):
    __tablename__ = "asset_columns"
    __table_args__ = (UniqueConstraint("asset_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    data_type: Mapped[str] = mapped_column(String(200))
    nullable: Mapped[bool] = mapped_column(Boolean, default=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class Statement(Base):
    __tablename__ = "statements"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"))
    sql: Mapped[str] = mapped_column(Text)
    dialect: Mapped[str] = mapped_column(String(40), default="duckdb")
    status: Mapped[str] = mapped_column(String(20), default="SUBMITTED")
    error: Mapped[str | None] = mapped_column(Text)
    assets: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    """Indexed for the failure rates of the anomaly alerts (a week of statements, 0021_alerts)."""
    result_rows: Mapped[int | None] = mapped_column(BigInteger)
    result_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    runner_id: Mapped[str | None] = mapped_column(String(200))
    """The process that runs it (``lakehold.process``: host/boot/pid/start); a statement whose
    runner is gone is failed by the reconciler (0010_table_intents)."""
    engine: Mapped[str | None] = mapped_column(String(16))
    """``duckdb`` (in process) or ``ray`` (DuckDB tasks on a Ray cluster, ADR 40; 0024)."""


class TableIntent(Base):
    """A table create or drop in progress: recorded before the Delta commit, ``done`` in the
    transaction that changes the catalog; a reconciler finishes or rolls back the pending ones of
    dead processes (``catalog/reconcile``, 0010_table_intents)."""

    __tablename__ = "table_intents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(10))
    """``create`` or ``drop``."""
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(String(63))
    storage_path: Mapped[str] = mapped_column(Text, index=True)
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    """``pending``, ``done`` or ``rolled_back``."""
    runner_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """What adopting a created table needs: description, tags, key columns."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()


# -- organisation ------------------------------------------------------------------------------


class DomainUnit(Base):
    """A node of a domain's hierarchy; every domain has a root unit of the same name."""

    __tablename__ = "domain_units"
    __table_args__ = (UniqueConstraint("domain_id", "parent_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    domain_id: Mapped[str] = mapped_column(ForeignKey("domains.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("domain_units.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(255))
    """The identity provider's own id of the group (SCIM ``externalId``)."""
    identity_provider: Mapped[str | None] = mapped_column(String(64))
    """The provider that manages the group's members (SCIM or OIDC group claims)."""
    updated_at: Mapped[datetime | None] = mapped_column()


class UserIdentity(Base):
    """A user's account at an OpenID Connect provider: matched by issuer + subject."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class ServicePrincipal(Base):
    """A project's non-human identity (a ``users`` row of kind ``service``) for jobs and
    external engines: its client id and secrets are exchanged for short-lived tokens."""

    __tablename__ = "service_principals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    project: Mapped[Project] = relationship()


class ServicePrincipalSecret(Base):
    """One client secret of a service principal (SHA-256 only); several overlap during a
    rotation until the old one expires or is revoked."""

    __tablename__ = "service_principal_secrets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service_principal_id: Mapped[str] = mapped_column(
        ForeignKey("service_principals.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class SecurityPolicy(Base):
    """The administrators' security policy: one row (``id`` 1)."""

    __tablename__ = "security_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    max_token_lifetime_seconds: Mapped[int | None] = mapped_column(Integer)
    default_token_lifetime_seconds: Mapped[int | None] = mapped_column(Integer)
    credentials_valid_after: Mapped[datetime | None] = mapped_column()
    """Every session and token of every user issued at or before this time is refused."""
    updated_at: Mapped[datetime | None] = mapped_column()
    updated_by: Mapped[str | None] = mapped_column(String(32))


class LoginFailure(Base):
    """Failed sign-ins counted in a window, per ``user:<name>`` and per ``address:<ip>``."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column()
    failures: Mapped[int] = mapped_column(Integer, default=0)


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DomainUnitOwner(Base):
    """An owner of a domain unit: a user or a group (exactly one of the two)."""

    __tablename__ = "domain_unit_owners"
    __table_args__ = (UniqueConstraint("unit_id", "user_id", "group_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(
        ForeignKey("domain_units.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))


class ProjectMember(Base):
    """A member of a project with a role (owner, contributor, viewer): a user or a group."""

    __tablename__ = "project_members"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id", "group_id"),
        # NULLs are distinct in the constraint above: one row per user, one per group.
        partial_unique(
            "uq_project_members_user", "project_id", "user_id", where="user_id IS NOT NULL"
        ),
        partial_unique(
            "uq_project_members_group", "project_id", "group_id", where="group_id IS NOT NULL"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- sharing -----------------------------------------------------------------------------------

#: the states of a listing (``Listing.status``)
ACTIVE, SUPERSEDED, WITHDRAWN = "active", "superseded", "withdrawn"


class Listing(Base):
    """The published version of an asset: a snapshot of its business metadata."""

    __tablename__ = "listings"
    __table_args__ = (
        Index("uq_listings_asset_revision", "asset_id", "revision", unique=True),
        partial_unique("uq_listings_active_asset", "asset_id", where="status = 'active'"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    metadata_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active")
    published_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column()


class SubscriptionRequest(Base):
    __tablename__ = "subscription_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    requester_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    form_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="requested")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_comment: Mapped[str | None] = mapped_column(Text)


class SubscriptionRequestItem(Base):
    """One listing of a subscription request, with the filters an approval attached to it."""

    __tablename__ = "subscription_request_items"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("subscription_requests.id", ondelete="CASCADE"), index=True
    )
    listing_id: Mapped[str] = mapped_column(ForeignKey("listings.id"), index=True)
    row_filter_id: Mapped[str | None] = mapped_column(ForeignKey("asset_filters.id"))
    column_filter_id: Mapped[str | None] = mapped_column(ForeignKey("asset_filters.id"))


class AssetFilter(Base):
    """A named, reusable filter of an asset: a row filter expression or a column list."""

    __tablename__ = "asset_filters"
    __table_args__ = (UniqueConstraint("asset_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    expression: Mapped[str | None] = mapped_column(Text)
    columns: Mapped[list[str] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Grant(Base):
    """Read access of a subscribing project to an asset; filters are resolved at query time."""

    __tablename__ = "grants"
    __table_args__ = (
        partial_unique(
            "uq_grants_active_asset_project",
            "asset_id",
            "project_id",
            where="revoked_at IS NULL",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    request_item_id: Mapped[str | None] = mapped_column(ForeignKey("subscription_request_items.id"))
    row_filter_id: Mapped[str | None] = mapped_column(ForeignKey("asset_filters.id"))
    column_filter_id: Mapped[str | None] = mapped_column(ForeignKey("asset_filters.id"))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


# -- audit -------------------------------------------------------------------------------------


class AuditEvent(Base):
    """Who did what, in which project, to which assets; allowed or denied, and why."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    project: Mapped[str | None] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(60), index=True)
    allowed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    sql: Mapped[str | None] = mapped_column(Text)
    assets: Mapped[list[str]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resource: Mapped[str | None] = mapped_column(String(300), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)


# -- business metadata: glossaries, column tags, unit policies, metadata forms, rules -----------


class Glossary(Base):
    """A business glossary of a domain, owned by a domain unit."""

    __tablename__ = "glossaries"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    domain_id: Mapped[str] = mapped_column(ForeignKey("domains.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("domain_units.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GlossaryTerm(Base):
    __tablename__ = "glossary_terms"
    __table_args__ = (UniqueConstraint("glossary_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    glossary_id: Mapped[str] = mapped_column(
        ForeignKey("glossaries.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TermLink(Base):
    """A glossary term attached to an asset (``column_id`` empty) or to one of its columns."""

    __tablename__ = "term_links"
    __table_args__ = (UniqueConstraint("term_id", "asset_id", "column_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    term_id: Mapped[str] = mapped_column(
        ForeignKey("glossary_terms.id", ondelete="CASCADE"), index=True
    )
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    column_id: Mapped[str | None] = mapped_column(
        ForeignKey("asset_columns.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ColumnTag(Base):
    """A classification tag on a column of an asset."""

    __tablename__ = "column_tags"
    __table_args__ = (UniqueConstraint("column_id", "tag"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    column_id: Mapped[str] = mapped_column(
        ForeignKey("asset_columns.id", ondelete="CASCADE"), index=True
    )
    tag: Mapped[str] = mapped_column(String(100))


class UnitPolicy(Base):
    """An authorization policy: a capability on a domain unit (and optionally the units below
    it) granted to a project, whose contributors and owners may then use it."""

    __tablename__ = "unit_policies"
    __table_args__ = (UniqueConstraint("unit_id", "capability", "project_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(
        ForeignKey("domain_units.id", ondelete="CASCADE"), index=True
    )
    capability: Mapped[str] = mapped_column(String(40))
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    include_children: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MetadataForm(Base):
    """A named metadata form of a domain, owned by a unit; its fields live in versions."""

    __tablename__ = "metadata_forms"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    domain_id: Mapped[str] = mapped_column(ForeignKey("domains.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("domain_units.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MetadataFormVersion(Base):
    """One version of a form's fields (a JSON list of typed field definitions)."""

    __tablename__ = "metadata_form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    form_id: Mapped[str] = mapped_column(
        ForeignKey("metadata_forms.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssetFormValue(Base):
    """The values of a metadata form on an asset, with the form version they were checked on."""

    __tablename__ = "asset_form_values"
    __table_args__ = (UniqueConstraint("asset_id", "form_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[str] = mapped_column(
        ForeignKey("metadata_forms.id", ondelete="CASCADE"), index=True
    )
    form_version: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MetadataRule(Base):
    """A metadata enforcement rule: an action (publish, subscription_request) in a scope
    (a unit, optionally with its children; asset types; projects) requires a form."""

    __tablename__ = "metadata_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(
        ForeignKey("domain_units.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(40), index=True)
    form_id: Mapped[str] = mapped_column(
        ForeignKey("metadata_forms.id", ondelete="CASCADE"), index=True
    )
    include_children: Mapped[bool] = mapped_column(Boolean, default=True)
    asset_types: Mapped[list[str] | None] = mapped_column(JSON)
    project_ids: Mapped[list[str] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- webhooks ----------------------------------------------------------------------------------


class Webhook(Base):
    """An HTTP endpoint notified of governance events; project-scoped (owners) or global."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    """The ``whsec_`` signing secret, encrypted (``governance/webhook_signing``); never
    returned, logged or put in an error."""
    legacy_secret: Mapped[str | None] = mapped_column(String(200))
    """A plaintext secret from before migration 0008, until it is encrypted (then NULL)."""
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    """None: a global webhook (administrators)."""
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEvent(Base):
    """A governance event, written in the transaction of the state change it reports."""

    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_type: Mapped[str] = mapped_column(String(60), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebhookDelivery(Base):
    """One event to one webhook: attempts, backoff and outcome."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


# -- anomaly alerts ----------------------------------------------------------------------------


class Alert(Base):
    """An anomaly of one signal of a project (:mod:`lakehold.governance.alerts`): open while
    it lasts, resolved when the signal returns; at most one open per project, signal and
    subject (a sync job's name, or none)."""

    __tablename__ = "alerts"
    __table_args__ = (
        partial_unique(
            "uq_alerts_open_subject",
            "project_id",
            "signal",
            "subject",
            where="state = 'open' AND subject IS NOT NULL",
        ),
        partial_unique(
            "uq_alerts_open_project",
            "project_id",
            "signal",
            where="state = 'open' AND subject IS NULL",
        ),
        Index("ix_alerts_project_id_opened_at", "project_id", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    signal: Mapped[str] = mapped_column(String(40))
    """statement_failure_rate, sync_lag or ingest_volume."""
    subject: Mapped[str | None] = mapped_column(String(255))
    """What in the project: a sync job's name (sync_lag); None: the project as a whole."""
    direction: Mapped[str] = mapped_column(String(10))
    """above or below the baseline."""
    state: Mapped[str] = mapped_column(String(10), default="open")
    """open or resolved."""
    observed: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    """The bound the observed value crossed (the values when the alert opened)."""
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The window and the counts behind the numbers."""
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_observed: Mapped[float | None] = mapped_column(Float)
    """The signal's value when the alert resolved (None when its subject went away)."""


# -- network allow-list ------------------------------------------------------------------------


class NetworkRule(Base):
    """An administrator's allow-list entry: a host or CIDR and a port (``*``: any) that
    connections and webhooks may reach (:mod:`lakehold.security.network`)."""

    __tablename__ = "network_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    rule: Mapped[str] = mapped_column(String(300), unique=True)
    """Normalized ``<host or CIDR>:<port or *>``."""
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- web sign-in sessions ----------------------------------------------------------------------


class WebSession(Base):
    """A browser's sign-in session (:mod:`lakehold.security.sessions`). Only the SHA-256 of
    the cookie's secret is stored; the CSRF token is derived from that secret, never stored."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    """Written at most once a minute (not on every request)."""
    idle_expires_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    """The absolute end, however active the session is."""
    user_agent: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


# -- Delta Sharing (ADR 37) --------------------------------------------------------------------


class Share(Base):
    """A Delta Sharing share: tables of one project offered to recipients outside Lakehold
    (:mod:`lakehold.governance.sharing`). Its name is lower case (the protocol's names are
    case-insensitive)."""

    __tablename__ = "shares"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[Project] = relationship()


class ShareTable(Base):
    """A listed asset of the share's project, offered as ``schema.table`` (lower case)."""

    __tablename__ = "share_tables"
    __table_args__ = (
        UniqueConstraint("share_id", "schema_name", "name"),
        UniqueConstraint("share_id", "asset_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    share_id: Mapped[str] = mapped_column(ForeignKey("shares.id", ondelete="CASCADE"), index=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    schema_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShareRecipient(Base):
    """An external organisation a project shares with; it reads with bearer tokens."""

    __tablename__ = "share_recipients"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[Project] = relationship()


class RecipientToken(Base):
    """A recipient's bearer token (``lhr_<lookup>_<secret>``): only the secret's SHA-256 is
    stored; it always expires, and is revocable."""

    __tablename__ = "share_recipient_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("share_recipients.id", ondelete="CASCADE"), index=True
    )
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column()


class ShareGrant(Base):
    """A recipient's access to a share, decided like a subscription request: ``requested``
    with a reason, then ``approved`` (per table: in full or through the asset's filters) or
    ``rejected``; an approved one ends ``revoked``. At most one open (requested or approved)
    per share and recipient."""

    __tablename__ = "share_grants"
    __table_args__ = (
        partial_unique(
            "uq_share_grants_open",
            "share_id",
            "recipient_id",
            where="status IN ('requested', 'approved')",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    share_id: Mapped[str] = mapped_column(ForeignKey("shares.id", ondelete="CASCADE"), index=True)
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("share_recipients.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="requested")
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_comment: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column()


class ShareGrantTable(Base):
    """The filters an approval put on one table of the share for one grant, as they were
    then (the named filters' expression and columns are copied: the grant's materialised
    snapshot is built from them). A table of the share without a row is served in full."""

    __tablename__ = "share_grant_tables"
    __table_args__ = (UniqueConstraint("grant_id", "share_table_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("share_grants.id", ondelete="CASCADE"), index=True
    )
    share_table_id: Mapped[str] = mapped_column(
        ForeignKey("share_tables.id", ondelete="CASCADE"), index=True
    )
    row_filter: Mapped[str | None] = mapped_column(String(100))
    """The name of the row filter chosen (its expression is in ``row_expression``)."""
    row_expression: Mapped[str | None] = mapped_column(Text)
    column_filter: Mapped[str | None] = mapped_column(String(100))
    columns: Mapped[list[str] | None] = mapped_column(JSON)
