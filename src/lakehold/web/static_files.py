"""The ``/static`` mount: the package's static directory, vendored files cached for a year."""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from lakehold.web.assets import STATIC

# Vendored paths carry their version (vendor/<name>-<version>/), so they never change.
IMMUTABLE = "public, max-age=31536000, immutable"
# The portal's own files change with Lakehold: revalidated (ETag / Last-Modified) every time.
REVALIDATE = "no-cache"


class StaticAssets(StaticFiles):
    """Static files with a cache policy by path."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            vendored = path.replace("\\", "/").startswith("vendor/")
            response.headers["Cache-Control"] = IMMUTABLE if vendored else REVALIDATE
        return response
