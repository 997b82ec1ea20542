"""The base of the SDK's resource groups (``client.tables``, ``client.listings``...): typed
calls over the client's session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

if TYPE_CHECKING:
    from lakehold.client.session import Session

T = TypeVar("T")


def segment(value: str) -> str:
    """``value`` as one path segment (``/`` and every reserved character escaped)."""
    return quote(str(value), safe="")


def asset_path(project: str, asset: str) -> str:
    """The path of one asset of a project."""
    return f"/api/v1/projects/{segment(project)}/assets/{segment(asset)}"


class Resource:
    """One group of endpoints."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _get(self, path: str, into: type[T], *, params: Mapping[str, Any] | None = None) -> T:
        return self._session.call("GET", path, into, params=params)

    def _post(
        self,
        path: str,
        into: type[T],
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> T:
        return self._session.call("POST", path, into, json=json, params=params)

    def _patch(self, path: str, into: type[T], *, json: Any = None) -> T:
        return self._session.call("PATCH", path, into, json=json)

    def _put(self, path: str, into: type[T], *, json: Any = None) -> T:
        return self._session.call("PUT", path, into, json=json)

    def _delete(
        self, path: str, into: Any = None, *, params: Mapping[str, Any] | None = None
    ) -> Any:
        return self._session.call("DELETE", path, into, params=params)

    def _upload(
        self,
        path: str,
        into: type[T],
        *,
        fields: Mapping[str, str | None],
        file: tuple[str, Iterable[bytes]],
        method: str = "POST",
    ) -> T:
        return self._session.upload(method, path, into, fields=fields, file=file)
