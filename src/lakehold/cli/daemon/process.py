"""The warm process itself: ``python -m lakehold.cli.daemon STAMP``, started by a command.

It takes the home's lock (a process serving another stamp is asked to leave, through
``wanted``, and waited for), builds the application as ``lakehold serve`` does but without
the start-up recovery and the background jobs (as a command in process), listens on the
home's socket and leaves when it is idle for ``LAKEHOLD_DAEMON_IDLE_SECONDS``, when another
stamp is wanted (or ``stop``), or when its home, directory or socket is gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehold.cli.daemon.place import Place, State
from lakehold.cli.daemon.stamp import home_of
from lakehold.client.unix_transport import short_path

if TYPE_CHECKING:
    from lakehold.config import Settings

WAIT_FOR_LOCK_SECONDS = 60.0
CHECK_SECONDS = 0.5
LOG_LIMIT_BYTES = 1 << 20

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Activity:
    """An ASGI wrapper keeping how many requests run and when the last one ended."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.running = 0
        self.last = time.monotonic()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        self.running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.running -= 1
            self.last = time.monotonic()

    def idle_seconds(self, active_at: float) -> float:
        """Seconds since the last request ended or a command announced itself (0: busy)."""
        if self.running:
            return 0.0
        return min(time.monotonic() - self.last, time.time() - active_at)


def main(wanted: str) -> int:
    """Serve this home for commands of stamp ``wanted`` until it is time to leave."""
    place = Place(home_of(os.environ))
    place.make()
    lock = place.open_lock()
    if lock is None or not _take_lock(place, lock, wanted):
        return 0
    try:
        if place.read_wanted() != wanted:
            return 0  # another stamp (or stop) was asked for meanwhile
        _trim_log(place.log)
        _serve(place, wanted)
    finally:
        state = place.read_state()
        if state is not None and state.pid == os.getpid():
            with contextlib.suppress(OSError):
                place.state.unlink()
        os.close(lock)
    return 0


def _take_lock(place: Place, lock: int, wanted: str) -> bool:
    """The home's lock, once a process serving another stamp has left; False when the same
    stamp is served already or another one is wanted meanwhile."""
    deadline = time.monotonic() + WAIT_FOR_LOCK_SECONDS
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            state = place.read_state()
            if state is not None and state.stamp == wanted:
                return False
            if place.read_wanted() != wanted or time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def _serve(place: Place, wanted: str) -> None:
    import uvicorn

    from lakehold.api.app import create_app
    from lakehold.cli import collector, observe
    from lakehold.cli.session import open_runtime

    collector.for_a_server()
    runtime, _ = open_runtime()
    settings = runtime.settings
    activity = Activity(create_app(runtime, recover=False))
    listening = _listen(place.socket)
    config = uvicorn.Config(
        activity,
        log_level=settings.log_level.lower(),
        log_config=observe.log_config(settings),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    idle = settings.daemon_idle_seconds
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    state = State(os.getpid(), wanted, os.getcwd(), cwd_dependent(settings), started, idle)
    place.write_state(state)
    inode = os.stat(place.socket).st_ino
    stopping = threading.Event()

    def watch() -> None:
        while not stopping.wait(CHECK_SECONDS):
            reason = _reason_to_leave(place, wanted, inode)
            if reason is None and activity.idle_seconds(place.active_at()) >= idle:
                reason = "idle"
            if reason is not None:
                with contextlib.suppress(OSError):
                    place.state.unlink()  # no new command picks this process
                server.should_exit = True
                return

    watcher = threading.Thread(target=watch, name="lakehold-daemon-watch", daemon=True)
    watcher.start()
    try:
        server.run(sockets=[listening])
    finally:
        stopping.set()
        with contextlib.suppress(OSError):
            if os.stat(place.socket).st_ino == inode:
                place.socket.unlink()


def _reason_to_leave(place: Place, wanted: str, inode: int) -> str | None:
    """Why this process should leave now, if it should."""
    if not place.owned():
        return "its directory is gone"
    if place.read_wanted() != wanted:
        return "another process is wanted"
    try:
        if os.stat(place.socket).st_ino != inode:
            return "its socket was replaced"
    except OSError:
        return "its socket is gone"
    return None


def _listen(path: Path) -> socket.socket:
    """A listening Unix socket at ``path`` (a stale one removed), mode 0600."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with short_path(str(path)) as address:
        listening.bind(address)
    os.chmod(path, 0o600)
    listening.listen(128)
    return listening


def cwd_dependent(settings: Settings) -> bool:
    """Whether a setting names a relative path (resolved against this process's directory)."""
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, Path) and not v.is_absolute() for v in values):
            return True
    url = settings.database_url or ""
    return url.startswith("sqlite:///") and not url.startswith(("sqlite:////", "sqlite:///:"))


def _trim_log(log: Path) -> None:
    with contextlib.suppress(OSError):
        if log.stat().st_size > LOG_LIMIT_BYTES:
            os.truncate(log, 0)
