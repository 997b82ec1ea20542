"""The SDK's access endpoints."""

from __future__ import annotations

from lakehold.client.resource import Resource


class Users(Resource):
    """Users."""


class Tokens(Resource):
    """Tokens."""


class NetworkRules(Resource):
    """NetworkRules."""


class Audit(Resource):
    """Audit."""
