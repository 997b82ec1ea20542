"""Synchronous statements stop when their client goes away.

``POST /query`` runs its statement in a worker thread while the request waits. If the client
disconnects meanwhile (Ctrl-C on ``lakehold sql``, a closed notebook, a dropped connection),
nobody will read the answer: the statement is cancelled at once instead of running on to its
timeout, and its record ends ABORTED. So it is when the request is cancelled (Ctrl-C on a
command served in process, whose exit waited for the statement's thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request

from lakehold.query.cancel import CancelHandle

T = TypeVar("T")


async def run_while_connected(request: Request, work: Callable[[CancelHandle], T]) -> T:
    """``work(cancel)`` in a worker thread; ``cancel`` fires if the client disconnects first."""
    cancel = CancelHandle()
    running = asyncio.ensure_future(run_in_threadpool(work, cancel))
    watching = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({running, watching}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            cancel.cancel()
        return await running
    except asyncio.CancelledError:
        # The request itself was cancelled: Ctrl-C on a command served in process (asyncio.run
        # cancels its task), or a server stopping. Nobody will read the answer either; the
        # worker thread must not run on (a process exits only once it ends).
        cancel.cancel()
        raise
    finally:
        watching.cancel()


async def _disconnected(request: Request) -> None:
    """Return when the client disconnects (the body has been read: only that can come)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
