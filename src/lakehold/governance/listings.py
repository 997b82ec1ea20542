"""Publishing: a listing is the published version of an asset, discoverable by every user.

- Contributors and owners of a project publish its assets. A listing is a snapshot of the
  asset's business metadata at that moment (name, description, tags, columns with types and
  descriptions) and of its current version; only that latest version can be published.
- Publishing again creates the next revision, which replaces the active one (the old one
  becomes ``superseded``); unpublishing withdraws the active listing (``withdrawn``). Grants
  already made stay in force; new subscription requests need an active listing.
- Every authenticated user lists and reads active listings; the inventory (assets, whether
  published or not) stays visible to project members only.
- Publishing and unpublishing serialise per asset (ADR 18: SQLite's write lock, the asset's
  row lock on PostgreSQL): concurrent publishes each make the next revision in turn, leaving
  one active listing; of concurrent unpublishes one wins, the others get a Conflict. Unique
  indexes keep one active listing per asset and each revision number once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lakehold.catalog.search import index_listing
from lakehold.catalog.service import find_asset, readable_project
from lakehold.catalog.snapshots import snapshot_of
from lakehold.errors import Conflict, NotFound
from lakehold.governance import rules
from lakehold.governance.grants import lock_assets
from lakehold.kernel import Action, allowed, governed
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    ACTIVE,
    SUPERSEDED,
    WITHDRAWN,
    Asset,
    Listing,
    Project,
    User,
    utcnow,
)


@dataclass(frozen=True)
class ListingColumn:
    name: str
    data_type: str
    nullable: bool = True
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    glossary_terms: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ListingForm:
    """A metadata form's values on the asset when it was published."""

    name: str
    version: int
    values: dict[str, Any] = field(default_factory=dict)
    searchable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ListingView:
    id: str
    project: str
    asset: str
    qualified_name: str
    revision: int
    name: str
    description: str | None
    asset_type: str
    asset_version: int
    status: str
    published_by: str
    published_at: datetime
    withdrawn_at: datetime | None
    tags: list[str] = field(default_factory=list)
    columns: list[ListingColumn] = field(default_factory=list)
    domain_unit: str | None = None
    glossary_terms: list[str] = field(default_factory=list)
    forms: list[ListingForm] = field(default_factory=list)

    @classmethod
    def of(cls, session: Session, listing: Listing) -> ListingView:
        asset = session.get(Asset, listing.asset_id)
        assert asset is not None
        publisher = session.get(User, listing.published_by)
        snapshot: dict[str, Any] = dict(listing.metadata_snapshot or {})
        return cls(
            id=listing.id,
            project=asset.project.name,
            asset=asset.name,
            qualified_name=f"{asset.project.name}.{asset.name}",
            revision=listing.revision,
            name=listing.name,
            description=listing.description,
            asset_type=str(snapshot.get("asset_type", asset.asset_type)),
            asset_version=int(snapshot.get("asset_version", 0)),
            status=listing.status,
            published_by=publisher.username if publisher else "",
            published_at=listing.published_at,
            withdrawn_at=listing.withdrawn_at,
            tags=list(snapshot.get("tags") or []),
            columns=[ListingColumn(**c) for c in snapshot.get("columns") or []],
            domain_unit=snapshot.get("domain_unit"),
            glossary_terms=list(snapshot.get("glossary_terms") or []),
            forms=[ListingForm(**f) for f in snapshot.get("forms") or []],
        )


def active_listing(session: Session, asset_id: str) -> Listing | None:
    """The active listing of an asset, if it is published."""
    return session.scalar(
        select(Listing).where(Listing.asset_id == asset_id, Listing.status == ACTIVE)
    )


class ListingService:
    """Publish, unpublish and discover listings."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def publish(
        self,
        principal: Principal,
        project: str,
        asset: str,
        *,
        asset_version: int | None = None,
    ) -> ListingView:
        """Publish the asset's latest version (contributors and owners of its project)."""
        name = f"{project}.{asset}"
        with governed(
            self.store,
            principal,
            "listing.publish",
            project=project,
            assets=[name],
            decision=f"{name} was published concurrently; try again",
        ) as command:
            session = command.session
            found = readable_project(session, principal, project)
            command.authorize(Action.LISTING_PUBLISH, found)
            target = find_asset(session, found, asset)
            lock_assets(session, [target.id])
            session.refresh(target)  # as the decision before this one left it
            rules.check_publish(session, target)
            if asset_version is not None and asset_version != target.current_version:
                raise Conflict(
                    f"only the latest version ({target.current_version}) of {name} can be "
                    f"published, not version {asset_version}",
                    field="asset_version",
                )
            previous = active_listing(session, target.id)
            if previous is not None:
                previous.status = SUPERSEDED
                previous.withdrawn_at = utcnow()
                session.flush()  # before the new listing: one active listing per asset
            revision = (
                session.scalar(
                    select(func.max(Listing.revision)).where(Listing.asset_id == target.id)
                )
                or 0
            ) + 1
            listing = Listing(
                asset_id=target.id,
                revision=revision,
                name=target.name,
                description=target.description,
                metadata_snapshot=snapshot_of(target),
                status=ACTIVE,
                published_by=principal.user_id,
            )
            session.add(listing)
            session.flush()
            index_listing(session, listing)
            command.details.update(
                listing=listing.id,
                revision=revision,
                asset_version=target.current_version,
                replaced=previous.id if previous else None,
            )
            return ListingView.of(session, listing)

    def unpublish(self, principal: Principal, project: str, asset: str) -> ListingView:
        """Withdraw the active listing of an asset; existing grants stay in force."""
        name = f"{project}.{asset}"
        with governed(
            self.store,
            principal,
            "listing.unpublish",
            project=project,
            assets=[name],
            decision=f"{name} was unpublished concurrently",
        ) as command:
            session = command.session
            found = readable_project(session, principal, project)
            command.authorize(Action.LISTING_UNPUBLISH, found)
            target = find_asset(session, found, asset)
            lock_assets(session, [target.id])
            listing = active_listing(session, target.id)
            if listing is None:
                raise Conflict(f"{name} is not published")
            listing.status = WITHDRAWN
            listing.withdrawn_at = utcnow()
            session.flush()
            index_listing(session, listing)
            command.details.update(listing=listing.id, revision=listing.revision)
            return ListingView.of(session, listing)

    def list_listings(
        self,
        principal: Principal,
        *,
        project: str | None = None,
        name: str | None = None,
        limit: int = 100,
    ) -> list[ListingView]:
        """Active listings, optionally of one project and with ``name`` in their name."""
        query = (
            select(Listing)
            .join(Asset, Asset.id == Listing.asset_id)
            .join(Project, Project.id == Asset.project_id)
            .where(Listing.status == ACTIVE)
            .order_by(Project.name, Listing.name)
            .limit(limit)
        )
        if project is not None:
            query = query.where(Project.name == project)
        if name:
            pattern = f"%{name.lower()}%"
            query = query.where(
                or_(func.lower(Listing.name).like(pattern), func.lower(Asset.name).like(pattern))
            )
        with self.store.session() as session:
            return [ListingView.of(session, row) for row in session.scalars(query)]

    def get_listing(self, principal: Principal, listing_id: str) -> ListingView:
        """An active listing; members of the asset's project also see earlier revisions."""
        with self.store.session() as session:
            listing = session.get(Listing, listing_id)
            if listing is not None and listing.status != ACTIVE:
                asset = session.get(Asset, listing.asset_id)
                if asset is None or not allowed(
                    principal, Action.PROJECT_READ, asset.project, session=session
                ):
                    listing = None
            if listing is None:
                raise NotFound(f"listing '{listing_id}' not found")
            return ListingView.of(session, listing)
