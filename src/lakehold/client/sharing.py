"""The SDK's sharing endpoints."""

from __future__ import annotations

from lakehold.client.resource import Resource


class Filters(Resource):
    """Filters."""


class Listings(Resource):
    """Listings."""


class Subscriptions(Resource):
    """Subscriptions."""


class Grants(Resource):
    """Grants."""


class Webhooks(Resource):
    """Webhooks."""
