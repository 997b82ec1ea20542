"""Keeping the search index in step with listings and assets, in the caller's transaction.

- ``index_listing``: an active listing replaces its asset's previous listing document; a
  superseded or withdrawn one just removes it.
- ``index_asset``: the asset's inventory document, from its current business metadata (as a
  listing would snapshot it). Called when an asset is created, written or described. Dropping
  an asset removes its documents through the foreign keys (``ON DELETE CASCADE``).
- ``reindex_all``: rebuild every document (existing data, or after a change of what is indexed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from lakehold.catalog.search.documents import document_text
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


def _write(
    session: Session,
    kind: str,
    ref_id: str,
    asset: Asset,
    *,
    title: str,
    description: str | None,
    snapshot: dict[str, Any] | None,
    updated_at: datetime,
) -> SearchDocument:
    project = asset.project
    unit = session.get(DomainUnit, project.domain_unit_id) if project.domain_unit_id else None
    text = document_text(snapshot)
    document = SearchDocument(
        kind=kind,
        ref_id=ref_id,
        asset_id=asset.id,
        project_id=project.id,
        project=project.name,
        qualified_name=f"{project.name}.{asset.name}",
        domain_unit_id=unit.id if unit is not None else None,
        domain_unit=unit_path(session, unit) if unit is not None else None,
        asset_type=text.asset_type or asset.asset_type,
        title=title,
        description=description,
        keywords=text.keywords,
        body=text.body,
        tags=text.tags,
        glossary_terms=text.glossary_terms,
        updated_at=updated_at,
    )
    session.add(document)
    session.flush()
    session.add_all(
        [SearchFacet(document_id=document.id, facet=TAG, value=v) for v in text.tags]
        + [
            SearchFacet(document_id=document.id, facet=GLOSSARY_TERM, value=v)
            for v in text.glossary_terms
        ]
    )
    session.flush()
    return document


def _remove(session: Session, *conditions) -> None:
    session.flush()
    session.execute(
        delete(SearchDocument).where(*conditions).execution_options(synchronize_session=False)
    )


def index_listing(session: Session, listing: Listing) -> None:
    """Index an active listing in place of its asset's earlier one; unindex an inactive one."""
    _remove(session, SearchDocument.kind == LISTING, SearchDocument.asset_id == listing.asset_id)
    if listing.status != ACTIVE:
        return
    asset = session.get(Asset, listing.asset_id)
    if asset is None:
        return
    _write(
        session,
        LISTING,
        listing.id,
        asset,
        title=listing.name,
        description=listing.description,
        snapshot=listing.metadata_snapshot,
        updated_at=listing.published_at,
    )


def index_asset(asset: Asset) -> None:
    """(Re)index an asset of an inventory with its current business metadata."""
    session = object_session(asset)
    if session is None:
        raise ValueError("index_asset needs an asset attached to a session")
    # Imported here: the snapshot reads glossaries and forms, which import this module.
    from lakehold.catalog.snapshots import snapshot_of

    session.flush()
    _remove(session, SearchDocument.kind == ASSET, SearchDocument.ref_id == asset.id)
    _write(
        session,
        ASSET,
        asset.id,
        asset,
        title=asset.name,
        description=asset.description,
        snapshot=snapshot_of(asset),
        updated_at=asset.updated_at,
    )


def remove_asset(session: Session, asset_id: str) -> None:
    """Remove every document of an asset (its inventory entry and its listing)."""
    _remove(session, SearchDocument.asset_id == asset_id)


def reindex_all(session: Session) -> int:
    """Rebuild the whole index from the store; the number of documents written."""
    _remove(session)
    count = 0
    for asset in session.scalars(select(Asset).order_by(Asset.id)):
        index_asset(asset)
        count += 1
    for listing in session.scalars(select(Listing).where(Listing.status == ACTIVE)):
        index_listing(session, listing)
        count += 1
    return count
