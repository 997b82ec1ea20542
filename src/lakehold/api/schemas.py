"""The base of response bodies, and the one serializer of response timestamps.

Request body models set ``model_config = ConfigDict(extra="forbid")``: an unknown field is
refused with a 400 naming it (``api.errors``), never silently ignored. Response timestamps are
always UTC with a ``Z``: :func:`utc_router` makes every endpoint's result pass through
:func:`utc` before FastAPI serializes it (SQLite hands back naive times; every time Lakehold
stores is UTC).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response


class Model(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def utc_time(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc(value: Any, _depth: int = 0) -> Any:
    """``value`` with every datetime in it (dataclasses, pydantic models, lists, tuples, dicts)
    made aware UTC, which pydantic serializes with a ``Z``; unchanged parts are not copied."""
    if isinstance(value, datetime):
        return value if value.tzinfo is UTC else utc_time(value)
    if _depth > 32 or value is None or isinstance(value, str | int | float | bytes | Response):
        return value
    if isinstance(value, list | tuple):
        items = [utc(v, _depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else type(value)(items)
    if isinstance(value, dict):
        changed = {k: utc(v, _depth + 1) for k, v in value.items()}
        if all(changed[k] is v for k, v in value.items()):
            return value
        return changed
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        updates = {
            f.name: new
            for f in dataclasses.fields(value)
            if (new := utc(old := getattr(value, f.name), _depth + 1)) is not old
        }
        if not updates:
            return value
        fresh = copy.copy(value)
        for name, new in updates.items():
            object.__setattr__(fresh, name, new)  # frozen dataclasses too
        return fresh
    if isinstance(value, BaseModel):
        updates = {
            name: new
            for name in type(value).model_fields
            if (new := utc(old := getattr(value, name), _depth + 1)) is not old
        }
        return value.model_copy(update=updates) if updates else value
    return value


def _utc_endpoint(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` whose result passes through :func:`utc`; same signature, same kind."""
    if getattr(endpoint, "_lakehold_utc", False) or (
        inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint)
    ):
        return endpoint
    wrapped: Callable[..., Any]
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            return utc(await endpoint(*args, **kwargs))

        wrapped = wrapped_async
    else:

        @functools.wraps(endpoint)
        def wrapped_sync(*args: Any, **kwargs: Any) -> Any:
            return utc(endpoint(*args, **kwargs))

        wrapped = wrapped_sync
    setattr(wrapped, "_lakehold_utc", True)  # noqa: B010 (a function attribute)
    return wrapped


def utc_router(router: APIRouter) -> APIRouter:
    """``router`` with each endpoint's result made UTC (:func:`utc`), before it is included in
    an app (FastAPI builds an included route from its endpoint). Idempotent."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.endpoint = _utc_endpoint(route.endpoint)
    return router
