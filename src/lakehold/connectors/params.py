"""Validation of a connection's kind and parameters (never its secret)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lakehold.connectors.attach import DEFAULT_PORTS, KINDS
from lakehold.errors import Invalid

SHARING_KIND = "delta_sharing"
"""A Delta Sharing provider, reached with a share profile (its endpoint and bearer token)."""
ALL_KINDS = (*KINDS, SHARING_KIND)
"""Every connection kind; :data:`KINDS` are those DuckDB attaches or reads."""
SHARING_PARAMS = ("endpoint", "expirationTime")
MAX_ENDPOINT = 2000

SERVER_PARAMS = ("host", "port", "database", "user")
#: the TLS parameter of each server kind, named and valued as its scanner takes it
TLS_PARAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "postgresql": (
        "sslmode",
        ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    ),
    "mysql": ("ssl_mode", ("disabled", "preferred", "required", "verify_ca", "verify_identity")),
}
PATH_PARAMS = ("path",)
SECRET_WORDS = ("password", "passwd", "secret", "token")


def check_kind(kind: Any) -> str:
    """``kind`` if it is one of :data:`ALL_KINDS`; Invalid naming the field otherwise."""
    if kind not in ALL_KINDS:
        raise Invalid(
            f"unknown connection kind {kind!r}; one of {', '.join(ALL_KINDS)}", field="kind"
        )
    return kind


def check_params(
    kind: str,
    params: Mapping[str, Any],
    forbidden: Iterable[Path],
    roots: Iterable[Path] | None = None,
) -> dict:
    """Clean parameters for ``kind``: host/port/database/user (and optionally the scanner's TLS
    mode, :data:`TLS_PARAMS`) for servers, an absolute path for sqlite (a file) and files (a
    folder), a share profile's ``endpoint`` and ``expirationTime`` for delta_sharing. Paths
    under ``forbidden`` (Lakehold's own home and warehouse) are refused: a connection must not
    expose the metadata store or bypass grants.
    With ``roots`` (None: any folder), the path must be under one of them: a project owner must
    not read the server's files (``LAKEHOLD_SOURCE_ROOTS``)."""
    if not isinstance(params, Mapping):
        raise Invalid("params is an object", field="params")
    allowed = _allowed(kind)
    for key in params:
        if any(word in str(key).lower() for word in SECRET_WORDS):
            secret = "bearer token" if kind == SHARING_KIND else "password"
            raise Invalid(
                f"give the {secret} as the secret, never in params", field=f"params.{key}"
            )
        if key not in allowed:
            raise Invalid(
                f"unknown parameter '{key}' for a {kind} connection; use {', '.join(allowed)}",
                field=f"params.{key}",
            )
    if kind in ("sqlite", "files"):
        return {"path": str(_check_path(kind, params.get("path"), forbidden, roots))}
    if kind == SHARING_KIND:
        return _sharing_params(params)
    return _server_params(kind, params)


def _allowed(kind: str) -> tuple[str, ...]:
    if kind in ("sqlite", "files"):
        return PATH_PARAMS
    if kind == SHARING_KIND:
        return SHARING_PARAMS
    return (*SERVER_PARAMS, TLS_PARAMS[kind][0])


def endpoint_target(endpoint: str) -> tuple[str, int]:
    """The host and port a share profile's ``endpoint`` (an http(s) URL) reaches."""
    parts = urlsplit(endpoint)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _sharing_params(params: Mapping[str, Any]) -> dict:
    """A share profile's endpoint (an http(s) URL with a host, no credentials, query or
    fragment; without its trailing slash) and the expiry of its token (ISO 8601, kept in UTC;
    a past one is refused)."""
    endpoint = params.get("endpoint")
    field = "params.endpoint"
    if not isinstance(endpoint, str) or not endpoint.strip() or len(endpoint) > MAX_ENDPOINT:
        raise Invalid("a delta_sharing connection needs the profile's endpoint", field=field)
    try:
        parts = urlsplit(endpoint.strip())
        parts.port  # noqa: B018 -- a bad port raises here
    except ValueError:
        raise Invalid("params.endpoint is not a valid http(s) URL", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("params.endpoint is an http:// or https:// URL with a host", field=field)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise Invalid("params.endpoint has no credentials, query or fragment", field=field)
    cleaned: dict[str, Any] = {"endpoint": parts.geturl().rstrip("/")}
    expiry = params.get("expirationTime")
    if expiry is not None:
        at = token_expiry(expiry)
        if at <= datetime.now(UTC):
            raise Invalid(
                f"the profile's token expired at {at.isoformat()}; ask the provider for a new "
                "profile",
                field="params.expirationTime",
            )
        cleaned["expirationTime"] = at.isoformat().replace("+00:00", "Z")
    return cleaned


def token_expiry(value: Any) -> datetime:
    """A profile's ``expirationTime`` (ISO 8601; without a zone: UTC) as an aware datetime;
    Invalid otherwise."""
    try:
        at = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            "params.expirationTime is an ISO 8601 time, e.g. 2027-01-31T00:00:00Z",
            field="params.expirationTime",
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _server_params(kind: str, params: Mapping[str, Any]) -> dict:
    cleaned: dict[str, Any] = {"host": _text(params, "host", "127.0.0.1")}
    port = params.get("port", DEFAULT_PORTS[kind])
    try:
        port = int(port)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise Invalid("port is a number from 1 to 65535", field="params.port")
    cleaned["port"] = port
    for key in ("database", "user"):
        cleaned[key] = _text(params, key, None)
        if cleaned[key] is None:
            raise Invalid(f"a {kind} connection needs params.{key}", field=f"params.{key}")
    key, modes = TLS_PARAMS[kind]
    if params.get(key) is not None:
        if params[key] not in modes:
            raise Invalid(
                f"params.{key} of a {kind} connection is one of {', '.join(modes)}",
                field=f"params.{key}",
            )
        cleaned[key] = params[key]
    return cleaned


def _text(params: Mapping[str, Any], key: str, default: str | None) -> str | None:
    value = params.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str | int) or not str(value).strip() or len(str(value)) > 255:
        raise Invalid(f"params.{key} is a non-empty string", field=f"params.{key}")
    if any(c.isspace() or c in "'\"\\" for c in str(value)) and key != "database":
        raise Invalid(f"params.{key} has no spaces or quotes", field=f"params.{key}")
    return str(value).strip()


def _check_path(
    kind: str, value: Any, forbidden: Iterable[Path], roots: Iterable[Path] | None
) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"a {kind} connection needs params.path", field="params.path")
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise Invalid("params.path is an absolute path", field="params.path")
    path = path.resolve()
    for root in forbidden:
        root = root.resolve()
        if path == root or root in path.parents or path in root.parents:
            raise Invalid(
                "params.path may not contain or be inside Lakehold's own home or warehouse",
                field="params.path",
            )
    if roots is not None and not any(
        path == root.resolve() or root.resolve() in path.parents for root in roots
    ):
        raise Invalid(
            "params.path is not under a folder that connections may read "
            "(LAKEHOLD_SOURCE_ROOTS; administrators may use any folder)",
            field="params.path",
        )
    return path
