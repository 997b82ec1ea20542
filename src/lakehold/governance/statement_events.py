"""State changes of statements, pushed to whoever waits for them in this process.

The statement service publishes each state change of a statement its runner holds
(:meth:`StatementEvents.submitted`, then :meth:`StatementEvents.publish`, after the change is
committed). A long-poll (``GET /statements/{id}?wait_seconds=N``, :func:`wait_for_change`), the
event stream (``GET /statements/events``, :func:`stream`) and the WebSocket
(``GET /statements/socket``, :func:`follow`) wait on it instead of reading the metadata store
again and again. Waiters live on an event loop and
publishers on the runner's threads: a waiter is woken with ``call_soon_threadsafe``.

Only this process hears of its own statements: a statement runs in the API process that took
it. A long-poll for a statement that runs elsewhere (several API processes behind one address)
reads the metadata store every :data:`REMOTE_POLL_S` instead; the event stream carries the
statements run by the process that serves it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace

from lakehold.governance.statement_views import StatementView

log = logging.getLogger(__name__)

FINAL = frozenset({"FINISHED", "FAILED", "ABORTED"})
REMOTE_POLL_S = 0.2
"""How often a long-poll reads the store for a statement another process runs."""
LOCAL_CHECK_S = 5.0
"""How often a long-poll reads the store for a statement this process runs (a safety net: a
cancel from another process writes the record only)."""
KEEP_EVENTS = 1024
"""Recent events kept for a stream that resumes with ``Last-Event-ID``."""
QUEUE_SIZE = 1024
"""Events a waiter may fall behind before its stream ends (it resumes with Last-Event-ID)."""


@dataclass(frozen=True)
class StatementEvent:
    """A statement's record as it was after one state change; ``id`` orders the events of
    this process (``<stream>.<sequence>``, for ``Last-Event-ID``)."""

    id: str
    seq: int
    user_id: str
    view: StatementView


class Overflow(Exception):
    """A waiter fell more than :data:`QUEUE_SIZE` events behind."""


class Waiter:
    """Events for one listener on the running event loop: of one user (None: everyone's), or of
    some statements only (:meth:`narrow`)."""

    def __init__(self, user_id: str | None, statement_id: str | None) -> None:
        self.user_id = user_id
        self.only: frozenset[str] | None = (
            None if statement_id is None else frozenset({statement_id})
        )
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[StatementEvent | None] = asyncio.Queue(QUEUE_SIZE)

    def wants(self, event: StatementEvent) -> bool:
        only = self.only  # read once: runs on a publisher thread, :meth:`narrow` on the loop
        if only is not None:
            return event.view.id in only
        return self.user_id is None or event.user_id == self.user_id

    def narrow(self, statement_ids: Collection[str] | None) -> None:
        """From now on, the events of these statements only, whoever runs them (the caller has
        checked that its listener may read each); None: of ``user_id`` again."""
        self.only = None if statement_ids is None else frozenset(statement_ids)

    def put(self, event: StatementEvent) -> None:
        """From any thread."""
        with suppress(RuntimeError):  # its loop has closed: nobody listens any more
            self._loop.call_soon_threadsafe(self._offer, event)

    def _offer(self, event: StatementEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._queue.get_nowait()  # room for the end marker
            self._queue.put_nowait(None)

    async def next(self, timeout: float) -> StatementEvent | None:
        """The next event, or None after ``timeout`` seconds; Overflow if events were lost."""
        try:
            event = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        if event is None:
            raise Overflow
        return event


class StatementEvents:
    """The state changes of the statements this process runs, to waiters on event loops."""

    def __init__(self, keep: int = KEEP_EVENTS) -> None:
        self.stream = secrets.token_hex(4)
        self._lock = threading.Lock()
        self._seq = 0
        self._owners: dict[str, tuple[str, str | None]] = {}
        self._recent: deque[StatementEvent] = deque(maxlen=keep)
        self._waiters: set[Waiter] = set()

    def submitted(self, user_id: str, view: StatementView) -> None:
        """A statement of ``user_id`` was recorded and is about to run here."""
        with self._lock:
            self._owners[view.id] = (user_id, view.project)
        self.publish(view)

    def publish(self, view: StatementView) -> None:
        """A statement's record after a state change; ignored for a statement not run here."""
        with self._lock:
            owner = self._owners.get(view.id)
            if owner is None:
                return
            if view.status in FINAL:
                del self._owners[view.id]
            user_id, project = owner
            if view.project is None and project is not None:
                view = replace(view, project=project)
            self._seq += 1
            event = StatementEvent(f"{self.stream}.{self._seq}", self._seq, user_id, view)
            self._recent.append(event)
            waiters = [w for w in self._waiters if w.wants(event)]
        for waiter in waiters:
            waiter.put(event)

    def runs_here(self, statement_id: str) -> bool:
        with self._lock:
            return statement_id in self._owners

    def since(self, last_event_id: str | None, user_id: str | None) -> list[StatementEvent]:
        """Kept events after ``last_event_id`` (one of this process's), of ``user_id``."""
        stream, _, seq = (last_event_id or "").partition(".")
        if stream != self.stream or not seq.isdigit():
            return []
        with self._lock:
            return [
                e
                for e in self._recent
                if e.seq > int(seq) and (user_id is None or e.user_id == user_id)
            ]

    @contextmanager
    def subscribe(
        self, *, user_id: str | None = None, statement_id: str | None = None
    ) -> Iterator[Waiter]:
        """Hear the events of ``user_id`` (None: everyone's), or of one statement, on the
        running event loop, while the block runs."""
        waiter = Waiter(user_id, statement_id)
        with self._lock:
            self._waiters.add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                self._waiters.discard(waiter)


async def wait_for_change(
    events: StatementEvents,
    statement_id: str,
    describe: Callable[[], StatementView],
    *,
    seen: Collection[str] = (),
    wait_seconds: float,
) -> StatementView:
    """A statement once its state is none of ``seen`` (by default the state it has now) or
    it has ended, or as it is after ``wait_seconds``. ``describe`` reads the record (and checks
    that the caller may see it); it runs in a worker thread."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    with events.subscribe(statement_id=statement_id) as waiter:
        view = await asyncio.to_thread(describe)
        waiting_out = set(seen) or {view.status}
        while view.status in waiting_out and view.status not in FINAL:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            interval = LOCAL_CHECK_S if events.runs_here(statement_id) else REMOTE_POLL_S
            try:
                event = await waiter.next(min(remaining, interval))
            except Overflow:  # pragma: no cover - one statement has a handful of events
                event = None
            view = event.view if event is not None else await asyncio.to_thread(describe)
    return view


async def stream(
    events: StatementEvents, user_id: str | None, last_event_id: str | None, heartbeat_s: float
) -> AsyncIterator[StatementEvent | None]:
    """The events of ``user_id``'s statements as they happen: :func:`follow` on a listener of
    its own."""
    with events.subscribe(user_id=user_id) as waiter:
        async for event in follow(events, waiter, last_event_id, heartbeat_s):
            yield event


async def follow(
    events: StatementEvents, waiter: Waiter, last_event_id: str | None, heartbeat_s: float
) -> AsyncIterator[StatementEvent | None]:
    """What ``waiter`` hears as it happens, after the events of its user kept since
    ``last_event_id``; None when nothing happened for ``heartbeat_s`` (and once at the start,
    when the listener is in place). Ends if the listener falls too far behind."""
    yield None
    sent = 0
    for kept in events.since(last_event_id, waiter.user_id):
        sent = kept.seq
        yield kept
    while True:
        try:
            event = await waiter.next(heartbeat_s)
        except Overflow:
            return
        if event is None or event.seq > sent:
            yield event
