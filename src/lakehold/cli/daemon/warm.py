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
from pathlib import Path

from lakehold.cli.daemon.place import STOP, Place, State
from lakehold.cli.daemon.stamp import PER_COMMAND, home_of, stamp
from lakehold.client.unix_transport import UnixTransport

SWITCH = "LAKEHOLD_DAEMON"
"""``auto`` (the default): use and start the home's warm process; ``off``: never."""
STARTING_SECONDS = 30.0
"""A start asked for this long ago is still under way: no second one is started."""


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether commands may use and start a warm process (POSIX, ``LAKEHOLD_DAEMON`` not
    ``off``)."""
    value = next((v for k, v in environ.items() if k.upper() == SWITCH), "auto")
    return os.name == "posix" and hasattr(socket, "AF_UNIX") and value.strip().lower() != "off"


def serves(state: State | None, wanted: str, cwd: str) -> bool:
    """Whether the process of ``state`` may serve a command of stamp ``wanted`` run in
    ``cwd`` (a process whose settings hold relative paths serves its own directory only)."""
    if state is None or state.stamp != wanted:
        return False
    return not state.cwd_dependent or state.cwd == cwd


class WarmTransport(UnixTransport):
    """The transport to a home's warm process, knowing the home."""

    def __init__(self, place: Place, *, timeout: float) -> None:
        super().__init__(str(place.socket), timeout=timeout)
        self.home = place.home


def warm_transport(*, timeout: float) -> WarmTransport | None:
    """The transport to this home's warm process, connected; None when there is none serving
    this command (one is then started for the next commands, unless one is starting)."""
    environ = os.environ
    if not enabled(environ):
        return None
    home = home_of(environ)
    if not home.is_dir():
        return None  # no home: the command says so in process
    place = Place(home)
    wanted = stamp(environ, home)
    if place.owned() and serves(place.read_state(), wanted, os.getcwd()):
        place.touch_active()  # before connecting: the idle clock starts again
        transport = WarmTransport(place, timeout=timeout)
        try:
            transport._connect().connect()
        except OSError:
            transport.close()
        else:
            return transport
    start(place, wanted, environ)
    return None


def start(place: Place, wanted: str, environ: Mapping[str, str]) -> None:
    """Start a warm process serving ``wanted`` in the background (a process serving another
    stamp leaves for it); nothing when one was asked for less than 30 s ago."""
    try:
        place.make()
        if place.read_wanted() == wanted and _age(place.wanted) < STARTING_SECONDS:
            return
        place.want(wanted)
        log = os.open(place.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        return  # a home this user cannot write: commands run in process
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


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")
