"""Models of federated sources: connections, federated tables, data sources (crawlers), their
runs, and asset versions (the column history a crawler records).

A connection's secret (its password) is stored only as ``secret_ciphertext``, encrypted by
:mod:`lakehold.security.secrets`; ``params`` never holds a secret. A server connection also
keeps the TLS certificate its server last presented (``certificate_*``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lakehold.store.models import Base, new_id, utcnow


class Connection(Base):
    """How to reach an external database or a folder of files, owned by a project."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(20))
    """postgresql, mysql, sqlite or files."""
    description: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """host, port, database, user (server kinds) or path (sqlite, files); never a secret."""
    secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    """The password, encrypted (Fernet token); never returned, logged or put in an error."""
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the TLS certificate the server presented (server kinds; lakehold.sources.certificates)
    certificate_checked_at: Mapped[datetime | None] = mapped_column()
    """When the server was last checked (or claimed for a check); None: never."""
    certificate_tls: Mapped[bool | None] = mapped_column(Boolean)
    """Whether the server offered TLS at its last answer; None: it never answered."""
    certificate_error: Mapped[str | None] = mapped_column(String(500))
    """Why the last check could not reach the server; None when it did."""
    certificate_not_after: Mapped[datetime | None] = mapped_column()
    certificate_subject: Mapped[str | None] = mapped_column(String(1000))
    certificate_issuer: Mapped[str | None] = mapped_column(String(1000))
    certificate_fingerprint: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the certificate (hex): a new one restarts its expiry alerts."""
    certificate_alerted_days: Mapped[int | None] = mapped_column(Integer)
    """The last threshold (days; 0: expired) alerted for this certificate; None: none yet."""


class DataSource(Base):
    """A crawler on a connection: which schemas and tables to import as assets, and when."""

    __tablename__ = "data_sources"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str | None] = mapped_column(Text)
    schemas: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Glob patterns of source schemas; empty: the source's default schema(s)."""
    include: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Glob patterns of table names to import; empty: every table."""
    exclude: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Glob patterns of table names to skip."""
    schedule: Mapped[str | None] = mapped_column(String(100))
    """A cron expression (UTC); None: on demand only."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column()
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)


class DataSourceRun(Base):
    """One crawl of a data source: status, what changed, errors."""

    __tablename__ = "data_source_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    data_source_id: Mapped[str] = mapped_column(
        ForeignKey("data_sources.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="queued")
    """queued, running, succeeded or failed."""
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    """manual or schedule."""
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    tables_added: Mapped[int] = mapped_column(Integer, default=0)
    tables_updated: Mapped[int] = mapped_column(Integer, default=0)
    tables_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    tables_missing: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """[{"table": ..., "message": ...}] or [{"message": ...}] for a failed run."""


class FederatedTable(Base):
    """The source object behind an asset of type ``federated_table``."""

    __tablename__ = "federated_tables"

    asset_id: Mapped[str] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), index=True)
    data_source_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_sources.id", ondelete="SET NULL"), index=True
    )
    source_schema: Mapped[str] = mapped_column(String(255))
    source_table: Mapped[str] = mapped_column(String(255))
    """For a folder of files: the file (or folder) path relative to the connection's path."""
    status: Mapped[str] = mapped_column(String(20), default="ok")
    """ok, or missing when the last crawl did not find the source object."""
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssetVersion(Base):
    """One version of an asset's columns, with what changed from the previous version."""

    __tablename__ = "asset_versions"
    __table_args__ = (UniqueConstraint("asset_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """[{"name", "data_type", "nullable"}] in order."""
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """{"added": [...], "removed": [...], "retyped": [{"name", "from", "to"}], "status": ...}."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
