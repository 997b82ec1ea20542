"""``GET /api/v1/statements/socket``: each state change of your statements, pushed over a
WebSocket, from the same hub as the event stream (``governance.statement_events``).

Authentication is the API's. The token goes in ``Authorization: Bearer <token>`` on the upgrade
request or, where a client cannot set headers (browsers), in the offered subprotocols as
``lakehold.bearer.<token>`` next to :data:`SUBPROTOCOL`. RFC 6455 lets the server select only
a protocol the client offered; it selects :data:`SUBPROTOCOL` when offered and never echoes
the one carrying the token. A missing, bad, revoked or expired token is refused before the
upgrade: 401 with the API's error body (on an ASGI server without the denial-response
extension, a close with 1008, which it answers with 403). The token is checked again at each
heartbeat and client message: once revoked or expired, the socket closes with 1008.

Server to client, one JSON text message each:

- ``{"type": "ready"}`` once the socket listens;
- ``{"type": "statement", "event_id": ..., "statement": {...}}``: the statement as
  ``GET /statements/{id}`` gives it, after a state change (``event_id`` as the event stream's
  ``id:``), or as it is when subscribed to (``event_id`` null);
- ``{"type": "heartbeat"}`` after :data:`HEARTBEAT_S` of quiet;
- ``{"type": "pong"}``, the answer to a ping;
- ``{"type": "error", "error": ..., "message": ..., "field": ...}``: a bad client message (the
  socket stays open), or a statement one may not read.

Client to server, optional: ``{"type": "subscribe", "statement_id": ...}`` (from then on only
the statements subscribed to, whoever runs them, if the caller may read them as through
``GET /statements/{id}``; answered with the statement as it is) and ``{"type": "ping"}``.

Closes: 1008 when the token is no longer valid; 1013 when the socket fell more than 1024 events
behind (reconnect with ``?last_event_id=``); 1012 from the server when it stops.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from contextlib import suppress
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from lakehold.api.deps import bearer_token
from lakehold.api.schemas import utc
from lakehold.errors import Invalid, LakeholdError, Unauthorized
from lakehold.governance.statement_events import Waiter, follow
from lakehold.governance.statement_views import StatementView
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["statements"])

SUBPROTOCOL = "lakehold.v1"
"""The protocol the server selects; a browser offers it next to the token's."""
BEARER = "lakehold.bearer."
"""Prefix of the offered subprotocol that carries the token."""
HEARTBEAT_S = 15.0
"""A heartbeat message on an idle socket this often keeps proxies from closing it."""
MAX_MESSAGE_CHARS = 4096
MAX_SUBSCRIBED = 1000
_RANK = {"SUBMITTED": 0, "STARTED": 1}
"""Order of the states; every final state ranks after these."""


class Subscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["subscribe"]
    statement_id: str = Field(min_length=1, max_length=64)


class Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ping"]


_MESSAGE: TypeAdapter[Subscribe | Ping] = TypeAdapter(
    Annotated[Subscribe | Ping, Field(discriminator="type")]
)
_VIEW: TypeAdapter[StatementView] = TypeAdapter(StatementView)


def offered_token(websocket: WebSocket) -> str | None:
    """The bearer token of the upgrade request, else of a ``lakehold.bearer.`` subprotocol."""
    token = bearer_token(websocket)
    if token is not None:
        return token
    for offered in websocket.scope.get("subprotocols", []):
        if offered.startswith(BEARER):
            return offered.removeprefix(BEARER) or None
    return None


def parse(message: Mapping[str, Any]) -> Subscribe | Ping:
    """A client message; Invalid naming the field at fault."""
    text = message.get("text")
    if text is None:
        raise Invalid("messages are JSON text, not binary", field="message")
    if len(text) > MAX_MESSAGE_CHARS:
        raise Invalid(f"a message is at most {MAX_MESSAGE_CHARS} characters", field="message")
    try:
        return _MESSAGE.validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = list(first["loc"])[1:]  # after the message's type
        if first["type"] in {"union_tag_invalid", "union_tag_not_found"}:
            where = ["type"]
        field = ".".join(str(part) for part in where) or "message"
        raise Invalid(f"{field}: {first['msg']}", field=field) from None


def _rank(status: str) -> int:
    return _RANK.get(status, len(_RANK))


class StatementSocket:
    """One accepted socket: pushes what its waiter hears, answers what the client sends."""

    def __init__(
        self,
        websocket: WebSocket,
        runtime: Runtime,
        principal: Principal,
        token: str,
        waiter: Waiter,
    ) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.principal = principal
        self.token = token
        self.waiter = waiter
        self._sending = asyncio.Lock()
        self._sent: dict[str, int] = {}
        """Subscribed statements: the rank of the latest state sent (none goes backwards)."""

    async def run(self, last_event_id: str | None) -> None:
        """Until the client or the server closes the socket, or it must close."""
        tasks = [
            asyncio.create_task(self._push(last_event_id)),
            asyncio.create_task(self._listen()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect):
                raise error

    async def _push(self, last_event_id: str | None) -> None:
        events = self.runtime.statements.events
        ready = False
        async for event in follow(events, self.waiter, last_event_id, HEARTBEAT_S):
            if event is None and not ready:
                ready = True
                await self._send({"type": "ready"})
            elif event is None:
                if not await self._still_valid():
                    return
                await self._send({"type": "heartbeat"})
            elif self.waiter.wants(event):  # subscribing may have narrowed it since
                await self._statement(event.view, event.id)
        await self._close(status.WS_1013_TRY_AGAIN_LATER, "fell behind: reconnect")

    async def _listen(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if not await self._still_valid():
                return
            try:
                request = parse(message)
                if isinstance(request, Ping):
                    await self._send({"type": "pong"})
                else:
                    await self._subscribe(request.statement_id)
            except LakeholdError as error:
                await self._send({"type": "error", **error.to_dict()})

    async def _subscribe(self, statement_id: str) -> None:
        """Narrow the socket to this statement too (first, so that no change is missed), then
        send its state now; undone if the caller may not read it."""
        before = self.waiter.only
        if before is not None and statement_id not in before and len(before) >= MAX_SUBSCRIBED:
            raise Invalid(
                f"a socket follows at most {MAX_SUBSCRIBED} statements", field="statement_id"
            )
        self.waiter.narrow((before or frozenset()) | {statement_id})
        try:
            view = await run_in_threadpool(
                self.runtime.statements.describe, self.principal, statement_id
            )
        except LakeholdError:
            self.waiter.narrow(before)
            raise
        await self._statement(view, None)

    async def _statement(self, view: StatementView, event_id: str | None) -> None:
        """Send ``view``, unless a later state of this subscribed statement went first; an
        answer to a subscribe (no ``event_id``) is always sent."""
        async with self._sending:
            if self.waiter.only is not None:
                rank = _rank(view.status)
                if event_id is not None and rank <= self._sent.get(view.id, -1):
                    return
                self._sent[view.id] = max(rank, self._sent.get(view.id, -1))
            statement = _VIEW.dump_python(utc(view), mode="json")
            message = {"type": "statement", "event_id": event_id, "statement": statement}
            await self.websocket.send_text(json.dumps(message))

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._sending:
            await self.websocket.send_text(json.dumps(message))

    async def _close(self, code: int, reason: str) -> None:
        async with self._sending:
            await self.websocket.close(code, reason)

    async def _still_valid(self) -> bool:
        """Whether the token still authenticates its principal; else the socket closes (1008)."""
        try:
            await run_in_threadpool(self.runtime.security.authenticate, self.token)
        except Unauthorized as error:
            await self._close(status.WS_1008_POLICY_VIOLATION, error.message)
            return False
        return True


async def _refuse(websocket: WebSocket, error: Unauthorized) -> None:
    """Refuse the upgrade: 401 and the API's error body, or a close with 1008 (403)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        response = JSONResponse(
            error.to_dict(), status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
        await websocket.send_denial_response(response)
    else:
        await websocket.close(status.WS_1008_POLICY_VIOLATION, error.message)


@router.websocket("/statements/socket")
async def statement_socket(
    websocket: WebSocket,
    last_event_id: Annotated[
        str | None,
        Query(max_length=64, description="Replay your events after this one, if still kept"),
    ] = None,
) -> None:
    """Each state change of your statements, pushed (see the module's docstring)."""
    runtime: Runtime = websocket.app.state.runtime
    token = offered_token(websocket)
    try:
        principal = await run_in_threadpool(runtime.security.authenticate, token)
    except Unauthorized as error:
        await _refuse(websocket, error)
        return
    assert token is not None  # it authenticated
    offered = websocket.scope.get("subprotocols", [])
    with runtime.statements.events.subscribe(user_id=principal.user_id) as waiter:
        await websocket.accept(SUBPROTOCOL if SUBPROTOCOL in offered else None)
        socket = StatementSocket(websocket, runtime, principal, token, waiter)
        with suppress(WebSocketDisconnect):  # the client went away
            await socket.run(last_event_id)
