"""Models of the search index: one document per active listing and per asset of an inventory.

The full-text index itself is dialect-specific and not mapped here (see migration
``0003_search``): an FTS5 external-content table ``search_documents_fts`` kept in step by
triggers on SQLite, a generated ``search_vector`` tsvector column with a GIN index on
PostgreSQL. Tag and glossary-term values live in ``search_facets`` so that filtering and facet
counting are plain SQL on both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lakehold.store.models import Base, utcnow

LISTING, ASSET = "listing", "asset"
TAG, GLOSSARY_TERM = "tag", "glossary_term"


class SearchDocument(Base):
    """What search finds: an active listing (``kind`` listing, ``ref_id`` the listing) or an
    asset of a project's inventory (``kind`` asset, ``ref_id`` the asset)."""

    __tablename__ = "search_documents"
    __table_args__ = (UniqueConstraint("kind", "ref_id"),)

    # An integer key: it is the rowid of the SQLite FTS5 external-content table.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    ref_id: Mapped[str] = mapped_column(String(32))
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    project: Mapped[str] = mapped_column(String(63))
    qualified_name: Mapped[str] = mapped_column(String(127))
    domain_unit_id: Mapped[str | None] = mapped_column(String(32), index=True)
    domain_unit: Mapped[str | None] = mapped_column(Text)
    asset_type: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    glossary_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SearchFacet(Base):
    """A tag or glossary term of a search document."""

    __tablename__ = "search_facets"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("search_documents.id", ondelete="CASCADE"), primary_key=True
    )
    facet: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
