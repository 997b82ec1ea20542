"""The Lakehold SDK: a typed client of the HTTP API (``Client``), usable from any program.

Its models (``lakehold.client.models``) are generated from the API's OpenAPI document; its
errors are Lakehold's typed errors (``lakehold.errors``).
"""

from lakehold.client.client import Client
from lakehold.client.statements import Result

__all__ = ["Client", "Result"]
