"""Which router modules serve a path: the in-process app (ADR 26) is built with those alone.

:data:`PREFIXES` maps path prefixes (``{}`` stands for one path segment) to the modules of
``lakehold.api.routers`` whose routes live under them; the longest prefix of a path wins. A
path under no prefix (``/``, ``/docs``, ``/openapi.json``, the portal) takes the full app.
``tests/api/test_route_table.py`` checks the table against every route of the full app.
"""

from __future__ import annotations

PREFIXES: dict[str, tuple[str, ...]] = {
    "/health": ("health",),
    "/api/v1/me": ("users",),
    "/api/v1/users": ("users",),
    "/api/v1/tokens": ("users",),
    "/api/v1/sessions": ("sessions",),
    "/oauth/token": ("oauth",),
    "/api/v1/auth/oidc": ("oidc",),
    "/api/v1/security": ("security_policy",),
    "/api/v1/identity-providers/{}/revoke-credentials": ("security_policy",),
    "/api/v1/domains": ("domains",),
    "/api/v1/domain-units": ("organisation",),
    "/api/v1/domain-units/{}/policies": ("unit_policies",),
    "/api/v1/groups": ("organisation",),
    "/api/v1/projects": ("projects",),
    "/api/v1/projects/{}/members": ("members",),
    "/api/v1/projects/{}/service-principals": ("service_principals",),
    "/api/v1/projects/{}/assets": ("assets",),
    "/api/v1/projects/{}/assets/{}/metadata": ("asset_metadata",),
    "/api/v1/projects/{}/assets/{}/terms": ("asset_metadata",),
    "/api/v1/projects/{}/assets/{}/columns": ("asset_metadata",),
    "/api/v1/projects/{}/assets/{}/forms": ("forms",),
    "/api/v1/projects/{}/assets/{}/filters": ("filters",),
    "/api/v1/projects/{}/assets/{}/publish": ("listings",),
    "/api/v1/projects/{}/assets/{}/lineage": ("asset_lineage",),
    "/api/v1/projects/{}/tables": ("tables",),
    "/api/v1/projects/{}/connections": ("connections",),
    "/api/v1/connections": ("certificates",),
    "/api/v1/projects/{}/data-sources": ("data_sources",),
    "/api/v1/projects/{}/sync-jobs": ("sync_jobs",),
    "/api/v1/projects/{}/alerts": ("alerts",),
    "/api/v1/glossaries": ("glossaries",),
    "/api/v1/metadata-forms": ("forms",),
    "/api/v1/metadata-rules": ("rules",),
    "/api/v1/listings": ("listings",),
    "/api/v1/subscription-requests": ("subscriptions",),
    "/api/v1/grants": ("subscriptions",),
    "/api/v1/shares": ("shares",),
    "/api/v1/share-recipients": ("shares",),
    "/api/v1/share-grants": ("shares",),
    "/delta-sharing": ("delta_sharing",),
    "/api/v1/webhooks": ("webhooks",),
    "/api/v1/alerts": ("alerts",),
    "/api/v1/network-rules": ("network",),
    "/api/v1/catalog/search": ("search",),
    "/api/v1/statements": ("statements",),
    # an HTTP request for it is answered by /statements/{statement_id}, as in the full app
    "/api/v1/statements/socket": ("statements", "statement_socket"),
    "/api/v1/query": ("statements",),
    "/api/v1/audit": ("audit",),
    "/api/v1/lineage": ("lineage",),
    "/api/v1/column-lineage": ("lineage",),
    "/api/v1/search": ("lineage",),
    "/api/v1/tags": ("lineage",),
    "/api/v1/namespaces": ("marquez",),
    "/api/v1/jobs": ("marquez",),
    "/scim/v2": ("scim",),
    "/metrics": ("metrics",),
}

_SPLIT = [(tuple(prefix.strip("/").split("/")), routers) for prefix, routers in PREFIXES.items()]


def routers_for(path: str) -> tuple[str, ...] | None:
    """The router modules serving ``path`` (as a server decodes it), or None for the full
    app."""
    segments = path.rstrip("/").lstrip("/").split("/")
    best: tuple[str, ...] | None = None
    longest = 0
    for prefix, routers in _SPLIT:
        if longest < len(prefix) <= len(segments) and all(
            want == got or (want == "{}" and got != "")
            for want, got in zip(prefix, segments, strict=False)
        ):
            best, longest = routers, len(prefix)
    return best
