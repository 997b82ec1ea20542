"""Subscription requests: a project asks for published assets; the owners decide.

- Contributors and owners of a project request one or more active listings for it, with a
  reason (required) and optional form values (stored as given; the forms that metadata rules
  in scope of the requested assets require are checked first, see ``governance.rules``). All
  listings of a request belong to one owning project, and a project cannot request its own
  assets.
- Owners of the owning project see the request as incoming; members of the subscribing
  project see it as outgoing. Anyone else gets NotFound.
- Only owners of the owning project decide: approve (per listing: full access, or a row
  filter and/or a column filter of the asset, by name) or reject, each with an optional
  comment. A related non-owner gets Forbidden; deciding twice is a Conflict.
- Approval grants each asset to the subscribing project (replacing an earlier grant of the
  same asset to the same project).
- Decisions serialise (ADR 18): of concurrent decisions on one request one wins, the others
  get a Conflict that names the decision taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.service import readable_project
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.governance import decisions, rules
from lakehold.governance.decisions import APPROVED, REJECTED, REQUESTED
from lakehold.governance.events import emit, subscription_payload
from lakehold.governance.grants import lock_assets, replace_grant
from lakehold.governance.listings import active_listing
from lakehold.governance.usernames import username
from lakehold.kernel import Action, Command, allowed, governed
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Asset,
    AssetFilter,
    Grant,
    Listing,
    Project,
    SubscriptionRequest,
    SubscriptionRequestItem,
)

Direction = Literal["incoming", "outgoing"]
_CONCURRENT = "subscription request '{}' was decided concurrently; read it again"


@dataclass(frozen=True)
class ItemDecision:
    """How to approve one listing of a request: full access unless filters are named."""

    listing_id: str
    row_filter: str | None = None
    column_filter: str | None = None


@dataclass(frozen=True)
class RequestItemView:
    id: str
    listing_id: str
    listing_revision: int
    asset: str
    """The asset as ``project.table``."""
    owning_project: str
    row_filter: str | None = None
    column_filter: str | None = None
    grant_id: str | None = None


@dataclass(frozen=True)
class SubscriptionRequestView:
    id: str
    project: str
    """The subscribing project."""
    owning_project: str
    requester: str
    reason: str
    status: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str | None
    form_values: dict[str, Any] = field(default_factory=dict)
    items: list[RequestItemView] = field(default_factory=list)

    @classmethod
    def of(cls, session: Session, request: SubscriptionRequest) -> SubscriptionRequestView:
        project = session.get(Project, request.project_id)
        assert project is not None
        items = []
        for item in _items(session, request):
            listing = session.get(Listing, item.listing_id)
            assert listing is not None
            asset = session.get(Asset, listing.asset_id)
            assert asset is not None
            grant = session.scalar(select(Grant.id).where(Grant.request_item_id == item.id))
            items.append(
                RequestItemView(
                    id=item.id,
                    listing_id=listing.id,
                    listing_revision=listing.revision,
                    asset=f"{asset.project.name}.{asset.name}",
                    owning_project=asset.project.name,
                    row_filter=_filter_name(session, item.row_filter_id),
                    column_filter=_filter_name(session, item.column_filter_id),
                    grant_id=grant,
                )
            )
        items.sort(key=lambda i: i.asset)
        return cls(
            id=request.id,
            project=project.name,
            owning_project=items[0].owning_project if items else "",
            requester=username(session, request.requester_id) or "",
            reason=request.reason,
            status=request.status,
            created_at=request.created_at,
            decided_by=username(session, request.decided_by),
            decided_at=request.decided_at,
            decision_comment=request.decision_comment,
            form_values=dict(request.form_values or {}),
            items=items,
        )


def _items(session: Session, request: SubscriptionRequest) -> list[SubscriptionRequestItem]:
    return list(
        session.scalars(
            select(SubscriptionRequestItem)
            .where(SubscriptionRequestItem.request_id == request.id)
            .order_by(SubscriptionRequestItem.id)
        )
    )


def _filter_name(session: Session, filter_id: str | None) -> str | None:
    found = session.get(AssetFilter, filter_id) if filter_id else None
    return found.name if found else None


def _owning_project(session: Session, request: SubscriptionRequest) -> Project:
    item = session.scalar(
        select(SubscriptionRequestItem).where(SubscriptionRequestItem.request_id == request.id)
    )
    assert item is not None
    listing = session.get(Listing, item.listing_id)
    assert listing is not None
    asset = session.get(Asset, listing.asset_id)
    assert asset is not None
    return asset.project


class SubscriptionService:
    """Request, list, approve and reject subscriptions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- requesting ----------------------------------------------------------------------------

    def request(
        self,
        principal: Principal,
        project: str,
        listings: list[str],
        reason: str,
        *,
        form_values: dict[str, Any] | None = None,
    ) -> SubscriptionRequestView:
        """Request ``listings`` for ``project`` (contributors and owners of ``project``)."""
        with governed(
            self.store,
            principal,
            "subscription.request",
            project=project,
            details={"listings": list(listings or [])},
        ) as command:
            session = command.session
            subscriber = readable_project(session, principal, project)
            command.authorize(Action.SUBSCRIPTION_REQUEST, subscriber)
            reason = decisions.check_reason(reason, "a subscription request needs a reason")
            if not listings:
                raise Invalid("a subscription request names at least one listing", field="listings")
            if form_values is not None and not isinstance(form_values, dict):
                raise Invalid("form values are an object of fields", field="form_values")
            assets: list[Asset] = []
            owning: Project | None = None
            for listing_id in dict.fromkeys(listings):
                asset = rules.listed_asset(session, listing_id)
                if asset.project_id == subscriber.id:
                    raise Invalid(
                        f"{asset.project.name}.{asset.name} is an asset of project "
                        f"'{project}' itself; it needs no subscription",
                        field="listings",
                    )
                if owning is not None and asset.project_id != owning.id:
                    raise Invalid(
                        "the listings of one request belong to one project; send one request "
                        "per owning project",
                        field="listings",
                    )
                owning = asset.project
                assets.append(asset)
            form_values = rules.check_subscription(session, assets, form_values)
            request = SubscriptionRequest(
                project_id=subscriber.id,
                requester_id=principal.user_id,
                reason=reason,
                form_values=dict(form_values or {}),
                status=REQUESTED,
            )
            session.add(request)
            session.flush()
            for listing_id in dict.fromkeys(listings):
                session.add(SubscriptionRequestItem(request_id=request.id, listing_id=listing_id))
            session.flush()
            command.assets = [f"{a.project.name}.{a.name}" for a in assets]
            command.details.update(request=request.id, listings=list(dict.fromkeys(listings)))
            payload = subscription_payload(session, request, principal)
            emit(session, "subscription.requested", payload)
            return SubscriptionRequestView.of(session, request)

    # -- reading -------------------------------------------------------------------------------

    @staticmethod
    def _can_see(session: Session, principal: Principal, request: SubscriptionRequest) -> bool:
        subscriber = session.get(Project, request.project_id)
        assert subscriber is not None
        owning = _owning_project(session, request)
        return allowed(principal, Action.PROJECT_READ, subscriber, session=session) or allowed(
            principal, Action.SUBSCRIPTION_DECIDE, owning, session=session
        )

    def list_requests(
        self,
        principal: Principal,
        *,
        direction: Direction | None = None,
        status: str | None = None,
        project: str | None = None,
    ) -> list[SubscriptionRequestView]:
        """Incoming requests (for assets of projects the principal owns), outgoing ones (from
        projects it is a member of), or both; newest first."""
        if direction not in (None, "incoming", "outgoing"):
            raise Invalid("direction is 'incoming' or 'outgoing'", field="direction")
        query = select(SubscriptionRequest).order_by(SubscriptionRequest.created_at.desc())
        if status is not None:
            query = query.where(SubscriptionRequest.status == status)
        with self.store.session() as session:
            views = []
            for request in session.scalars(query):
                subscriber = session.get(Project, request.project_id)
                owning = _owning_project(session, request)
                assert subscriber is not None
                outgoing = allowed(principal, Action.PROJECT_READ, subscriber, session=session)
                incoming = allowed(principal, Action.SUBSCRIPTION_DECIDE, owning, session=session)
                if direction == "incoming":
                    visible = incoming and (project is None or owning.name == project)
                elif direction == "outgoing":
                    visible = outgoing and (project is None or subscriber.name == project)
                else:
                    visible = (incoming or outgoing) and (
                        project is None or project in (owning.name, subscriber.name)
                    )
                if visible:
                    views.append(SubscriptionRequestView.of(session, request))
            return views

    def get_request(self, principal: Principal, request_id: str) -> SubscriptionRequestView:
        with self.store.session() as session:
            request = session.get(SubscriptionRequest, request_id)
            if request is None or not self._can_see(session, principal, request):
                raise NotFound(f"subscription request '{request_id}' not found")
            return SubscriptionRequestView.of(session, request)

    # -- deciding ------------------------------------------------------------------------------

    def _decidable(self, command: Command, request_id: str) -> tuple[SubscriptionRequest, Project]:
        """The request, if the principal owns its assets' project and it is undecided; read
        under SQLite's write lock or its row's lock (PostgreSQL), as earlier decisions left it."""
        session, principal = command.session, command.principal
        request = session.get(SubscriptionRequest, request_id, with_for_update=True)
        hidden = NotFound(f"subscription request '{request_id}' not found")
        if request is None:
            raise hidden
        owning = _owning_project(session, request)
        subscriber = session.get(Project, request.project_id)
        assert subscriber is not None
        related = allowed(principal, Action.PROJECT_READ, owning, session=session) or allowed(
            principal, Action.PROJECT_READ, subscriber, session=session
        )
        if not related:
            raise hidden
        command.authorize(Action.SUBSCRIPTION_DECIDE, owning)
        decisions.check_undecided(request, f"subscription request '{request_id}'")
        return request, owning

    def approve(
        self,
        principal: Principal,
        request_id: str,
        *,
        items: list[ItemDecision] | None = None,
        comment: str | None = None,
    ) -> SubscriptionRequestView:
        """Approve a request: grant each asset, with the filters chosen for its listing."""
        with governed(
            self.store,
            principal,
            "subscription.approve",
            details={"request": request_id},
            decision=_CONCURRENT.format(request_id),
        ) as command:
            session = command.session
            request, owning = self._decidable(command, request_id)
            subscriber = session.get(Project, request.project_id)
            assert subscriber is not None
            request_items = _items(session, request)
            listings = {i.listing_id: session.get(Listing, i.listing_id) for i in request_items}
            lock_assets(session, [listing.asset_id for listing in listings.values() if listing])
            by_listing = {item.listing_id: item for item in request_items}
            chosen: dict[str, ItemDecision] = {}
            for decision in items or []:
                if decision.listing_id not in by_listing:
                    raise Invalid(
                        f"listing '{decision.listing_id}' is not part of this request",
                        field="items",
                    )
                chosen[decision.listing_id] = decision
            granted = []
            for item in request_items:
                listing = listings[item.listing_id]
                assert listing is not None
                asset = session.get(Asset, listing.asset_id)
                assert asset is not None
                qualified = f"{asset.project.name}.{asset.name}"
                if active_listing(session, asset.id) is None:
                    raise Conflict(f"{qualified} is no longer published", field="items")
                decision = chosen.get(item.listing_id, ItemDecision(item.listing_id))
                row = decisions.chosen_filter(
                    session, asset, decision.row_filter, "row", "row_filter"
                )
                col = decisions.chosen_filter(
                    session, asset, decision.column_filter, "column", "column_filter"
                )
                item.row_filter_id = row.id if row else None
                item.column_filter_id = col.id if col else None
                grant, replaced = replace_grant(
                    session,
                    principal,
                    asset,
                    subscriber,
                    request_item_id=item.id,
                    row_filter_id=item.row_filter_id,
                    column_filter_id=item.column_filter_id,
                )
                granted.append(
                    {
                        "asset": qualified,
                        "grant": grant.id,
                        "row_filter": row.name if row else None,
                        "column_filter": col.name if col else None,
                        "replaced": replaced,
                    }
                )
            decisions.decide(request, APPROVED, principal, comment)
            session.flush()
            command.project = owning.name
            command.assets = [str(g["asset"]) for g in granted]
            command.details.update(subscriber=subscriber.name, grants=granted)
            payload = subscription_payload(session, request, principal)
            emit(session, "subscription.approved", payload)
            return SubscriptionRequestView.of(session, request)

    def reject(
        self, principal: Principal, request_id: str, *, comment: str | None = None
    ) -> SubscriptionRequestView:
        """Reject a request; nothing is granted."""
        with governed(
            self.store,
            principal,
            "subscription.reject",
            details={"request": request_id},
            decision=_CONCURRENT.format(request_id),
        ) as command:
            session = command.session
            request, owning = self._decidable(command, request_id)
            decisions.decide(request, REJECTED, principal, comment)
            session.flush()
            view = SubscriptionRequestView.of(session, request)
            command.project = owning.name
            command.assets = [i.asset for i in view.items]
            command.details.update(subscriber=view.project, comment=comment)
            payload = subscription_payload(session, request, principal)
            emit(session, "subscription.rejected", payload)
            return view
