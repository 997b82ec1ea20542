"""The warm process itself: ``python -m lakehold.cli.daemon STAMP``, started by a command.

It takes the home's lock (a process serving another stamp is asked to leave, through
``wanted``, and waited for), builds the application as ``lakehold serve`` does but without
the start-up recovery and the background jobs (as a command in process), listens on the
home's socket and leaves when it is idle for ``LAKEHOLD_DAEMON_IDLE_SECONDS``, when another
stamp is wanted (or ``stop``), or when its home, directory, socket, lock or state is gone.

Leaving, it stops taking connections at once. ``stop`` or a lost directory cancel what runs
(a statement ends ABORTED, as on Ctrl-C); otherwise running requests finish first, for up to
the statement timeout. Each start and leave is a line of ``daemon.log``, with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import os
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehold.cli.daemon.place import STOP, Place, State, remove
from lakehold.cli.daemon.stamp import home_of
from lakehold.client.unix_transport import short_path

if TYPE_CHECKING:
    import uvicorn

    from lakehold.config import Settings
    from lakehold.runtime import Runtime

WAIT_FOR_LOCK_SECONDS = 60.0
CHECK_SECONDS = 0.5
LOG_LIMIT_BYTES = 1 << 20
CUT_SECONDS = 10.0
"""After running requests were cancelled, how long they may take to answer."""
EXIT_SECONDS = 10.0
"""After serving, how long the process may take to exit (a stuck thread does not hold it)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Activity:
    """An ASGI wrapper keeping how many requests run and when the last one ended; once
    :meth:`cut`, the running requests hear that their client disconnected (``POST /query``
    then cancels its statement)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.running = 0
        self.last = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cut: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._loop is None:
            self._loop, self._cut = asyncio.get_running_loop(), asyncio.Event()
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        self.running += 1
        try:
            wrapped = self._receive(receive) if scope["type"] == "http" else receive
            await self.app(scope, wrapped, send)
        finally:
            self.running -= 1
            self.last = time.monotonic()

    def _receive(self, receive: Receive) -> Receive:
        async def receive_unless_cut() -> Message:
            assert self._cut is not None
            if self._cut.is_set():
                return {"type": "http.disconnect"}
            message = asyncio.ensure_future(receive())
            cut = asyncio.ensure_future(self._cut.wait())
            try:
                await asyncio.wait({message, cut}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                cut.cancel()
            if message.done():
                return message.result()
            message.cancel()
            return {"type": "http.disconnect"}

        return receive_unless_cut

    def cut(self) -> None:
        """Tell every running request (and any later one) that its client is gone."""
        if self._loop is not None and self._cut is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing runs
                self._loop.call_soon_threadsafe(self._cut.set)

    def touch(self) -> None:
        """Something runs outside a request (a submitted statement): not idle."""
        self.last = time.monotonic()

    def idle_seconds(self, active_at: float) -> float:
        """Seconds since the last request ended or a command announced itself (0: busy)."""
        if self.running:
            return 0.0
        return min(time.monotonic() - self.last, time.time() - active_at)


def main(wanted: str) -> int:
    """Serve this home for commands of stamp ``wanted`` until it is time to leave."""
    say(f"started for {wanted}")
    try:
        return _main(wanted)
    except BaseException as error:
        say(f"failed: {type(error).__name__}: {error}")  # its traceback follows
        raise


def _main(wanted: str) -> int:
    place = Place(home_of(os.environ))
    try:
        place.make()
    except OSError as error:
        say(f"leaving: {error}")
        return 1
    lock = place.open_lock()
    if lock is None:
        say(f"leaving: cannot open {place.lock}")
        return 1
    try:
        if not _take_lock(place, lock, wanted):
            say("leaving: this stamp is served already, or another one is wanted")
            return 0
        if place.read_wanted() != wanted:
            say("leaving: another stamp (or stop) was asked for meanwhile")
            return 0
        place.trim_log(LOG_LIMIT_BYTES)
        _serve(place, wanted, lock)
    finally:
        place.remove_state(os.getpid())
        os.close(lock)
        say("left")
    return 0


def say(message: str) -> None:
    """One line of ``daemon.log`` (this process's standard error)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with contextlib.suppress(OSError, ValueError):
        print(f"{now} warm process {os.getpid()}: {message}", file=sys.stderr, flush=True)


def _exit_soon() -> None:
    """End the process ``EXIT_SECONDS`` from now if a thread still holds it then."""
    timer = threading.Timer(EXIT_SECONDS, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


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


def _serve(place: Place, wanted: str, lock: int) -> None:
    import uvicorn

    from lakehold.api.app import create_app
    from lakehold.cli import collector, observe
    from lakehold.cli.session import open_runtime

    collector.for_a_server()
    runtime, _ = open_runtime()
    try:
        settings = runtime.settings
        activity = Activity(create_app(runtime, recover=False))
        listening = _listen(place.socket)
        config = uvicorn.Config(
            activity,
            log_level=settings.log_level.lower(),
            log_config=observe.log_config(settings),
            access_log=False,
            timeout_graceful_shutdown=None,  # the watcher decides when requests are cut
        )
        server = uvicorn.Server(config)
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        state = State(
            os.getpid(),
            wanted,
            os.getcwd(),
            cwd_dependent(settings),
            started,
            settings.daemon_idle_seconds,
        )
        place.write_state(state)
        watcher = _Watcher(place, wanted, os.fstat(lock).st_ino, activity, runtime, server)
        thread = threading.Thread(target=watcher.run, name="lakehold-daemon-watch", daemon=True)
        thread.start()
        say(f"serving {place.socket}")
        try:
            server.run(sockets=[listening])
        finally:
            _exit_soon()
            watcher.stopping.set()
            with contextlib.suppress(OSError):
                if os.stat(place.socket).st_ino == watcher.socket_inode:
                    place.socket.unlink()
    finally:
        runtime.close()  # submitted statements still running are cancelled (ABORTED)


class _Watcher:
    """Checks every half second whether the process should leave, and makes it leave."""

    def __init__(
        self,
        place: Place,
        wanted: str,
        lock_inode: int,
        activity: Activity,
        runtime: Runtime,
        server: uvicorn.Server,
    ) -> None:
        self.place, self.wanted, self.lock_inode = place, wanted, lock_inode
        self.activity, self.runtime, self.server = activity, runtime, server
        self.socket_inode = os.stat(place.socket).st_ino
        self.stopping = threading.Event()
        self.answered_at_ns = os.lstat(place.state).st_mtime_ns
        """When ``state.json`` was written (the want this process answered)."""

    def run(self) -> None:
        settings = self.runtime.settings
        leaving: str | None = None
        cut_at = forced_at = float("inf")
        while not self.stopping.wait(CHECK_SECONDS):
            if _statements_running(self.runtime):
                self.activity.touch()
            reason, cut = self._reason_to_leave(leaving is not None)
            idle = self.activity.idle_seconds(self.place.active_at())
            if reason is None and leaving is None and idle >= settings.daemon_idle_seconds:
                reason = "idle"
            now = time.monotonic()
            if leaving is None and reason is not None:
                leaving = reason
                say(f"leaving: {reason}")
                self.place.remove_state(os.getpid())  # no new command picks this process
                # leaving on its own (not for another stamp): the next command starts one
                self.place.forget_want(self.wanted, self.answered_at_ns)
                self.server.should_exit = True  # no new connection is taken
                cut_at = now + settings.statement_timeout_seconds
            if leaving is not None and (cut or now >= cut_at) and forced_at == float("inf"):
                if self.activity.running:
                    say(f"cancelling {self.activity.running} running request(s)")
                self.activity.cut()
                forced_at = now + CUT_SECONDS
            if now >= forced_at:
                self.server.force_exit = True

    def _reason_to_leave(self, leaving: bool) -> tuple[str | None, bool]:
        """Why this process should leave now, if it should; and whether what runs is to be
        cancelled (``stop``, or its directory gone) rather than let finish."""
        place = self.place
        if not place.owned():
            return "its directory is gone or others may enter it", True
        wanted = place.read_wanted()
        if wanted == STOP:
            return "stopped (lakehold daemon stop)", True
        if leaving:
            return None, False
        if wanted != self.wanted:
            return "another process is wanted (code, interpreter or environment changed)", False
        try:
            if os.lstat(place.socket).st_ino != self.socket_inode:
                return "its socket was replaced", False
        except OSError:
            return "its socket is gone", False
        try:
            if os.lstat(place.lock).st_ino != self.lock_inode:
                return "its lock was replaced", False
        except OSError:
            return "its lock is gone", False
        state = place.read_state()
        if state is None or state.pid != os.getpid():
            return "its state.json was changed", False
        return None, False


def _statements_running(runtime: Runtime) -> bool:
    """Whether statements submitted to run in the background run (``POST /statements``)."""
    runner = runtime.__dict__.get("runner")  # made by the first submitted statement
    return runner is not None and bool(runner.running())


def _listen(path: Path) -> socket.socket:
    """A listening Unix socket at ``path`` (a stale one removed), mode 0600."""
    remove(path)
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
