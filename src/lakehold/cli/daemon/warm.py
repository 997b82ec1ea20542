"""The CLI's side: a command on a local home uses the home's warm process when it serves this
command's stamp; otherwise the command runs in process, as before, and starts a warm process
for the commands after it (ADR 42)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping

from lakehold.cli.daemon.place import STOP, Place, State
from lakehold.cli.daemon.stamp import PER_COMMAND, home_of, stamp
from lakehold.client.errors import ServerUnreachable
from lakehold.client.transport import Request, Response, Transport
from lakehold.client.unix_transport import UnixTransport, peer_of

SWITCH = "LAKEHOLD_DAEMON"
"""``auto`` (the default): use and start the home's warm process; ``off``: never (any case,
blanks around ignored, as the settings read it). Any other value is the settings' error: such
a command runs in process, which reports it."""
STARTING_SECONDS = 30.0
"""A start asked for this long ago is still under way: no second one is started."""


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether commands may use and start a warm process (POSIX, ``LAKEHOLD_DAEMON`` auto)."""
    value = next((v for k, v in environ.items() if k.upper() == SWITCH), "auto")
    return os.name == "posix" and hasattr(socket, "AF_UNIX") and value.strip().lower() == "auto"


def serves(state: State | None, wanted: str, cwd: str) -> bool:
    """Whether the process of ``state`` may serve a command of stamp ``wanted`` run in
    ``cwd`` (a process whose settings hold relative paths serves its own directory only)."""
    if state is None or state.stamp != wanted:
        return False
    return not state.cwd_dependent or state.cwd == cwd


class WarmTransport(UnixTransport):
    """The transport to a home's warm process, the process ``pid``: nothing is sent on a
    connection unless the kernel says that process of this user is at its other end. When
    it cannot be reached (it left meanwhile, or another process is there), nothing was sent:
    this request and the next ones are served in process instead."""

    def __init__(self, place: Place, pid: int, *, timeout: float) -> None:
        super().__init__(str(place.socket), timeout=timeout)
        self.home = place.home
        self.pid = pid
        self._unreached = False
        self._in_process: Transport | None = None

    def open_socket(self) -> socket.socket:
        try:
            return super().open_socket()
        except OSError:
            self._unreached = True
            raise

    def verify(self, sock: socket.socket) -> None:
        try:
            peer = peer_of(sock)
        except OSError:
            peer = None
        if peer is None or peer.uid != os.getuid() or peer.pid not in {None, self.pid}:
            raise PermissionError(f"{self.socket_path} is not served by warm process {self.pid}")

    def connect(self) -> bool:
        """Connect now; False when the process cannot be reached (nothing was sent)."""
        try:
            self._connect().connect()
        except OSError:
            self.close()
            return False
        return True

    def send(self, request: Request) -> Response:
        if self._in_process is None:
            self._unreached = False
            try:
                return super().send(request)
            except ServerUnreachable:
                if not self._unreached:
                    raise  # the request may have reached it
            self._in_process = _in_process()
        return self._in_process.send(request)

    def close(self) -> None:
        super().close()
        if self._in_process is not None:
            self._in_process.close()


def warm_transport(*, timeout: float) -> WarmTransport | None:
    """The transport to this home's warm process, connected; None when there is none serving
    this command (one is then started for the next commands, unless one is starting)."""
    environ = os.environ
    if not enabled(environ):
        return None
    try:
        cwd = os.getcwd()
        home = home_of(environ)
    except OSError:
        return None  # a working directory removed: nothing to compare a process with
    if not home.is_dir():
        return None  # no home: the command says so in process
    place = Place(home)
    wanted = stamp(environ, home)
    state = place.read_state() if place.owned() else None
    if state is not None and serves(state, wanted, cwd):
        place.touch_active()  # before connecting: the idle clock starts again
        transport = WarmTransport(place, state.pid, timeout=timeout)
        if transport.connect():
            return transport
    start(place, wanted, environ)
    return None


def start(place: Place, wanted: str, environ: Mapping[str, str]) -> None:
    """Start a warm process serving ``wanted`` in the background (a process serving another
    stamp leaves for it); nothing when one was asked for less than 30 s ago and none has come
    up since (a start under way)."""
    try:
        place.make()
        with place.starting():
            under_way = place.wanted_age() < STARTING_SECONDS and not place.answered()
            if under_way and place.read_wanted() == wanted:
                return
            place.want(wanted)
        log = place.open_log()
    except OSError:
        return  # a home this user cannot write, or a directory not its own: in process
    env = {k: v for k, v in environ.items() if k.upper() not in PER_COMMAND}
    env["LAKEHOLD_HOME"] = str(place.home)
    try:
        subprocess.Popen(
            [sys.executable, "-m", "lakehold.cli.daemon", wanted],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # not in the terminal's process group: Ctrl-C is ours
        )
    except OSError:
        return
    finally:
        os.close(log)


def stop(place: Place, *, seconds: float = 30.0) -> bool:
    """Ask the home's warm process to leave and wait for it: False if none was running."""
    if not place.owned() or not place.running():
        return False
    place.want(STOP)
    deadline = time.monotonic() + seconds
    while place.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def _in_process() -> Transport:
    """The home's application served in this process (as without a warm process)."""
    from lakehold.api.inprocess import InProcessTransport
    from lakehold.cli.session import open_runtime

    runtime, _ = open_runtime()
    return InProcessTransport(runtime)
