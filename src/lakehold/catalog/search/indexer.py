"""Keeping the search index in step with listings and assets, in the caller's transaction.

- ``index_listing``: an active listing replaces its asset's previous listing document; a
  superseded or withdrawn one just removes it.
- ``index_asset``: the asset's inventory document, from its current business metadata (as a
  listing would snapshot it). Called when an asset is created, written or described. Dropping
  an asset removes its documents through the foreign keys (``ON DELETE CASCADE``).
- ``reindex_all``: rebuild every document (existing data, or after a change of what is indexed).
- ``write_documents``: the one writer of documents and their facets, batched (bulk loads use it
  directly, so their index content is what the calls above write).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, object_session

from lakehold.catalog.search.documents import document_text
from lakehold.catalog.search.statistics import refresh_statistics
from lakehold.catalog.units import unit_path
from lakehold.store.models import Asset, DomainUnit, Listing
from lakehold.store.search import (
    ASSET,
    GLOSSARY_TERM,
    LISTING,
    TAG,
    SearchDocument,
    SearchFacet,
)

ACTIVE = "active"  # Listing.status of a discoverable listing
BATCH = 1000  # documents per insert statement


@dataclass(frozen=True)
class Source:
    """What one document is made of: where it lives and the metadata snapshot it indexes."""

    kind: str
    ref_id: str
    asset_id: str
    project_id: str
    project: str
    asset_name: str
    asset_type: str
    title: str
    description: str | None
    snapshot: dict[str, Any] | None
    updated_at: datetime
    domain_unit_id: str | None = None
    domain_unit: str | None = None


def _source(
    session: Session,
    kind: str,
    ref_id: str,
    asset: Asset,
    *,
    title: str,
    description: str | None,
    snapshot: dict[str, Any] | None,
    updated_at: datetime,
) -> Source:
    project = asset.project
    unit = session.get(DomainUnit, project.domain_unit_id) if project.domain_unit_id else None
    return Source(
        kind=kind,
        ref_id=ref_id,
        asset_id=asset.id,
        project_id=project.id,
        project=project.name,
        asset_name=asset.name,
        asset_type=asset.asset_type,
        title=title,
        description=description,
        snapshot=snapshot,
        updated_at=updated_at,
        domain_unit_id=unit.id if unit is not None else None,
        domain_unit=unit_path(session, unit) if unit is not None else None,
    )


def _batches(sources: Iterable[Source]) -> Iterator[list[Source]]:
    iterator = iter(sources)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def write_documents(session: Session, sources: Iterable[Source]) -> int:
    """Insert a document (and its tag and glossary-term facets) per source; how many."""
    count = 0
    for batch in _batches(sources):
        texts = [document_text(source.snapshot) for source in batch]
        rows = [
            {
                "kind": s.kind,
                "ref_id": s.ref_id,
                "asset_id": s.asset_id,
                "project_id": s.project_id,
                "project": s.project,
                "qualified_name": f"{s.project}.{s.asset_name}",
                "domain_unit_id": s.domain_unit_id,
                "domain_unit": s.domain_unit,
                "asset_type": text.asset_type or s.asset_type,
                "title": s.title,
                "description": s.description,
                "keywords": text.keywords,
                "body": text.body,
                "tags": text.tags,
                "glossary_terms": text.glossary_terms,
                "updated_at": s.updated_at,
            }
            for s, text in zip(batch, texts, strict=True)
        ]
        ids = session.scalars(
            insert(SearchDocument).returning(SearchDocument.id, sort_by_parameter_order=True),
            rows,
        ).all()
        facets = [
            {"document_id": document_id, "facet": facet, "value": value}
            for document_id, text in zip(ids, texts, strict=True)
            for facet, values in ((TAG, text.tags), (GLOSSARY_TERM, text.glossary_terms))
            for value in values
        ]
        if facets:
            session.execute(insert(SearchFacet), facets)
        count += len(batch)
    return count


def _remove(session: Session, *conditions) -> None:
    session.flush()
    session.execute(
        delete(SearchDocument).where(*conditions).execution_options(synchronize_session=False)
    )


def _listing_source(session: Session, listing: Listing) -> Source | None:
    asset = session.get(Asset, listing.asset_id)
    if asset is None:
        return None
    return _source(
        session,
        LISTING,
        listing.id,
        asset,
        title=listing.name,
        description=listing.description,
        snapshot=listing.metadata_snapshot,
        updated_at=listing.published_at,
    )


def _asset_source(asset: Asset) -> Source:
    session = object_session(asset)
    if session is None:
        raise ValueError("index_asset needs an asset attached to a session")
    # Imported here: the snapshot reads glossaries and forms, which import this module.
    from lakehold.catalog.snapshots import snapshot_of

    return _source(
        session,
        ASSET,
        asset.id,
        asset,
        title=asset.name,
        description=asset.description,
        snapshot=snapshot_of(asset),
        updated_at=asset.updated_at,
    )


def index_listing(session: Session, listing: Listing) -> None:
    """Index an active listing in place of its asset's earlier one; unindex an inactive one."""
    _remove(session, SearchDocument.kind == LISTING, SearchDocument.asset_id == listing.asset_id)
    source = _listing_source(session, listing) if listing.status == ACTIVE else None
    if source is not None:
        write_documents(session, [source])


def index_asset(asset: Asset) -> None:
    """(Re)index an asset of an inventory with its current business metadata."""
    session = object_session(asset)
    if session is None:
        raise ValueError("index_asset needs an asset attached to a session")
    session.flush()
    _remove(session, SearchDocument.kind == ASSET, SearchDocument.ref_id == asset.id)
    write_documents(session, [_asset_source(asset)])


def remove_asset(session: Session, asset_id: str) -> None:
    """Remove every document of an asset (its inventory entry and its listing)."""
    _remove(session, SearchDocument.asset_id == asset_id)


def reindex_all(session: Session) -> int:
    """Rebuild the whole index from the store; the number of documents written."""
    _remove(session)
    assets = session.scalars(select(Asset).order_by(Asset.id))
    count = write_documents(session, map(_asset_source, assets))
    listings = session.scalars(select(Listing).where(Listing.status == ACTIVE))
    sources = (_listing_source(session, listing) for listing in listings)
    count += write_documents(session, (source for source in sources if source is not None))
    if count:  # statistics of an empty index would mislead the planner once it fills
        refresh_statistics(session)
    return count
