"""Waiting on a plain thread for a submitted statement to end, for an adapter whose call holds
a thread for the statement's whole run (the Flight SQL endpoint, ADR 0038).

The wait hears the statement's state changes as the long-poll does
(:func:`lakehold.governance.statement_events.wait_for_change`: woken at once by this process's
runner, the record read again otherwise), on an event loop of its own, and asks the caller
every :data:`CHECK_S` whether it still wants the result: if not (its client went away or
cancelled the call), the statement is cancelled and ends ABORTED, as a cancel over HTTP ends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING

from lakehold.errors import Conflict
from lakehold.governance.statement_events import FINAL, wait_for_change
from lakehold.governance.statement_views import StatementView
from lakehold.query.cancel import TIMED_OUT_MESSAGE
from lakehold.security.principal import Principal

if TYPE_CHECKING:
    from lakehold.governance.statements import StatementService

CHECK_S = 0.25
"""How often the caller is asked whether it still wants the result."""
RUNNING = ("SUBMITTED", "STARTED")


def wait_until_ended(
    service: StatementService,
    principal: Principal,
    statement_id: str,
    *,
    abandoned: Callable[[], bool],
) -> StatementView:
    """The statement's record once it has ended (FINISHED, FAILED or ABORTED); it is cancelled
    as soon as ``abandoned()`` is true."""
    return asyncio.run(_until_ended(service, principal, statement_id, abandoned))


async def _until_ended(
    service: StatementService,
    principal: Principal,
    statement_id: str,
    abandoned: Callable[[], bool],
) -> StatementView:
    describe = partial(service.describe, principal, statement_id)
    cancelled = False
    while True:
        view = await wait_for_change(
            service.events, statement_id, describe, seen=RUNNING, wait_seconds=CHECK_S
        )
        if view.status in FINAL:
            return view
        if not cancelled and abandoned():
            cancelled = True
            with suppress(Conflict):  # it ended meanwhile: the next wait returns it
                view = await asyncio.to_thread(service.cancel, principal, statement_id)
                if view.status in FINAL:
                    return view


def timed_out(view: StatementView) -> bool:
    """Whether an ended statement failed by running past its timeout."""
    return view.status == "FAILED" and (view.error or "").startswith(TIMED_OUT_MESSAGE)
