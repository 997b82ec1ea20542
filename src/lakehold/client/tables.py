"""The SDK's tables endpoints."""

from __future__ import annotations

from lakehold.client.resource import Resource


class Tables(Resource):
    """Tables."""
