"""The SDK's sharing endpoints: filters, listings, subscription requests, grants, webhooks."""

from __future__ import annotations

import builtins
from typing import Any, Literal

from msgspec import UNSET, UnsetType

from lakehold.client import models as m
from lakehold.client.resource import Resource, asset_path, segment


def _filters_path(project: str, asset: str) -> str:
    return f"{asset_path(project, asset)}/filters"


class Filters(Resource):
    """Row filters and column filters of an asset, chosen when a subscription is approved."""

    def create(
        self,
        project: str,
        asset: str,
        name: str,
        kind: Literal["row", "column"],
        *,
        expression: str | None = None,
        columns: list[str] | None = None,
    ) -> m.FilterView:
        """Create a row filter (``expression``, e.g. ``prod_id = 1``) or a column filter
        (``columns``: the included columns) (owners of the project)."""
        body = m.FilterIn(name=name, kind=kind, expression=expression, columns=columns)
        return self._post(_filters_path(project, asset), m.FilterView, json=body)

    def list(self, project: str, asset: str) -> list[m.FilterView]:
        """The filters of an asset (members of the project)."""
        return self._get(_filters_path(project, asset), list[m.FilterView])

    def get(self, project: str, asset: str, name: str) -> m.FilterView:
        """One filter."""
        return self._get(f"{_filters_path(project, asset)}/{segment(name)}", m.FilterView)

    def update(
        self,
        project: str,
        asset: str,
        name: str,
        *,
        new_name: str | None = None,
        expression: str | None = None,
        columns: builtins.list[str] | None = None,
    ) -> m.FilterView:
        """Rename a filter or change it (what is not given stays); every grant using it
        follows at once."""
        body = m.FilterPatch(name=new_name, expression=expression, columns=columns)
        path = f"{_filters_path(project, asset)}/{segment(name)}"
        return self._patch(path, m.FilterView, json=body)

    def delete(self, project: str, asset: str, name: str) -> None:
        """Delete a filter; ``Conflict`` while an active grant uses it."""
        self._delete(f"{_filters_path(project, asset)}/{segment(name)}")


class Listings(Resource):
    """Listings: published assets anyone authenticated can discover."""

    def publish(
        self, project: str, asset: str, *, asset_version: int | None = None
    ) -> m.ListingView:
        """Publish the asset's latest version as a listing (contributors and owners); with
        ``asset_version``, refused unless that is the current version. Publishing again makes
        the next revision, which replaces the active listing."""
        body = m.PublishIn(asset_version=asset_version)
        return self._post(f"{asset_path(project, asset)}/publish", m.ListingView, json=body)

    def unpublish(self, project: str, asset: str) -> m.ListingView:
        """Withdraw the asset's active listing; grants already made stay in force."""
        return self._delete(f"{asset_path(project, asset)}/publish", m.ListingView)

    def list(
        self, *, project: str | None = None, name: str | None = None, limit: int = 100
    ) -> list[m.ListingView]:
        """Active listings (of ``project``; whose name contains ``name``)."""
        params = {"project": project, "name": name, "limit": limit}
        return self._get("/api/v1/listings", list[m.ListingView], params=params)

    def get(self, listing_id: str) -> m.ListingView:
        """One listing with its columns, tags and asset version."""
        return self._get(f"/api/v1/listings/{segment(listing_id)}", m.ListingView)


class Subscriptions(Resource):
    """Subscription requests: a project asks for published assets; their owners decide."""

    def request(
        self,
        project: str,
        listings: list[str],
        reason: str,
        *,
        form_values: dict[str, Any] | None = None,
    ) -> m.SubscriptionRequestView:
        """Request listings (ids, of one owning project) for ``project``, saying why;
        ``form_values`` ({form: {field: value}}) when a metadata rule requires a form."""
        body = m.RequestIn(
            project=project, listings=listings, reason=reason, form_values=form_values
        )
        return self._post("/api/v1/subscription-requests", m.SubscriptionRequestView, json=body)

    def list(
        self,
        *,
        direction: Literal["incoming", "outgoing"] | None = None,
        status: Literal["requested", "approved", "rejected"] | None = None,
        project: str | None = None,
    ) -> list[m.SubscriptionRequestView]:
        """Requests you may see, newest first: ``incoming`` (for your projects' assets) or
        ``outgoing`` (from your projects), by status or project."""
        params = {"direction": direction, "status": status, "project": project}
        return self._get(
            "/api/v1/subscription-requests", list[m.SubscriptionRequestView], params=params
        )

    def get(self, request_id: str) -> m.SubscriptionRequestView:
        """One request with its listings and decision."""
        path = f"/api/v1/subscription-requests/{segment(request_id)}"
        return self._get(path, m.SubscriptionRequestView)

    def approve(
        self,
        request_id: str,
        items: builtins.list[m.ItemIn] | None = None,
        *,
        comment: str | None = None,
    ) -> m.SubscriptionRequestView:
        """Approve (owners of the assets' project): each listing is granted, with the row and
        column filters ``items`` name for it (``ItemIn(listing_id, row_filter=...)``);
        listings left out get full access."""
        body = m.ApproveIn(items=items or [], comment=comment)
        path = f"/api/v1/subscription-requests/{segment(request_id)}/approve"
        return self._post(path, m.SubscriptionRequestView, json=body)

    def reject(self, request_id: str, *, comment: str | None = None) -> m.SubscriptionRequestView:
        """Reject (owners of the assets' project)."""
        path = f"/api/v1/subscription-requests/{segment(request_id)}/reject"
        return self._post(path, m.SubscriptionRequestView, json=m.RejectIn(comment=comment))


class Grants(Resource):
    """Grants: what subscribing projects may read, through which filters."""

    def list(
        self,
        *,
        project: str | None = None,
        asset: str | None = None,
        include_revoked: bool = False,
    ) -> list[m.GrantView]:
        """Grants on your projects' assets and to your projects, newest first (to or on
        ``project``; on ``asset``, project.table)."""
        params = {"project": project, "asset": asset, "include_revoked": include_revoked}
        return self._get("/api/v1/grants", list[m.GrantView], params=params)

    def get(self, grant_id: str) -> m.GrantView:
        """One grant."""
        return self._get(f"/api/v1/grants/{segment(grant_id)}", m.GrantView)

    def update(
        self,
        grant_id: str,
        *,
        row_filter: str | UnsetType | None = UNSET,
        column_filter: str | UnsetType | None = UNSET,
    ) -> m.GrantView:
        """Change an active grant's filters in place (owners of the asset's project): a
        filter's name sets it, ``None`` removes it, omitted keeps it. The subscribing project
        reads through them from its next statement."""
        body = m.GrantFiltersPatch(row_filter=row_filter, column_filter=column_filter)
        return self._patch(f"/api/v1/grants/{segment(grant_id)}", m.GrantView, json=body)

    def revoke(self, grant_id: str) -> m.GrantView:
        """Revoke a grant (owners of the asset's project); effective at once."""
        return self._post(f"/api/v1/grants/{segment(grant_id)}/revoke", m.GrantView)

    def unsubscribe(self, grant_id: str) -> m.GrantView:
        """End a grant to your project (owners of the subscribing project); effective at once."""
        return self._post(f"/api/v1/grants/{segment(grant_id)}/unsubscribe", m.GrantView)


class Webhooks(Resource):
    """Webhooks: endpoints notified of governance events (signed, retried), and their
    deliveries."""

    def create(
        self,
        url: str,
        secret: str,
        *,
        project: str | None = None,
        event_types: list[str] | None = None,
        description: str | None = None,
        active: bool = True,
    ) -> m.WebhookView:
        """Create a webhook of ``project`` (its owners) or a global one (administrators).
        ``secret``: ``whsec_<base64>`` or 16-200 characters; signs each delivery (Standard
        Webhooks), never returned. ``event_types`` omitted: all."""
        body = m.WebhookIn(
            url=url,
            secret=secret,
            project=project,
            event_types=event_types,
            description=description,
            active=active,
        )
        return self._post("/api/v1/webhooks", m.WebhookView, json=body)

    def list(self, *, project: str | None = None) -> list[m.WebhookView]:
        """The webhooks you manage (of ``project``)."""
        return self._get("/api/v1/webhooks", list[m.WebhookView], params={"project": project})

    def get(self, webhook_id: str) -> m.WebhookView:
        """One webhook (without its secret)."""
        return self._get(f"/api/v1/webhooks/{segment(webhook_id)}", m.WebhookView)

    def update(
        self,
        webhook_id: str,
        *,
        enabled: bool | None = None,
        url: str | None = None,
        event_types: builtins.list[str] | None = None,
        secret: str | None = None,
        description: str | None = None,
    ) -> m.WebhookView:
        """Enable or disable a webhook, change its url, events or description (``""``
        clears it), rotate its secret; what is not given stays."""
        body = m.WebhookChange(
            enabled=enabled,
            url=url,
            event_types=event_types,
            secret=secret,
            description=description,
        )
        return self._patch(f"/api/v1/webhooks/{segment(webhook_id)}", m.WebhookView, json=body)

    def delete(self, webhook_id: str) -> None:
        """Delete a webhook and its deliveries."""
        self._delete(f"/api/v1/webhooks/{segment(webhook_id)}")

    def deliveries(
        self,
        webhook_id: str,
        *,
        status: Literal["pending", "delivered", "failed"] | None = None,
        limit: int = 100,
    ) -> builtins.list[m.DeliveryView]:
        """A webhook's deliveries, newest first: status, attempts, last status code or
        error."""
        path = f"/api/v1/webhooks/{segment(webhook_id)}/deliveries"
        params = {"status": status, "limit": limit}
        return self._get(path, list[m.DeliveryView], params=params)

    def redeliver(self, webhook_id: str, delivery_id: str) -> m.DeliveryView:
        """Send a failed delivery again (a fresh series of attempts)."""
        path = f"/api/v1/webhooks/{segment(webhook_id)}/deliveries/{segment(delivery_id)}/redeliver"
        return self._post(path, m.DeliveryView)

    def purge(self, *, older_than_days: int = 30) -> m.PurgeView:
        """Delete delivered and failed deliveries older than N days, with the events no
        pending delivery needs (administrators)."""
        params = {"older_than_days": older_than_days}
        return self._post("/api/v1/webhooks/purge", m.PurgeView, params=params)
