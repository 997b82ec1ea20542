"""The SDK's lineage endpoints."""

from __future__ import annotations

from lakehold.client.resource import Resource


class Lineage(Resource):
    """Lineage."""
