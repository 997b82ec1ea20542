"""The SDK's sources endpoints."""

from __future__ import annotations

from lakehold.client.resource import Resource


class Connections(Resource):
    """Connections."""


class DataSources(Resource):
    """DataSources."""


class SyncJobs(Resource):
    """SyncJobs."""
