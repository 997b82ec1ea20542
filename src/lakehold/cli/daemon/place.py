"""Where a home's warm process keeps its files: ``<home>/daemon/``, its owner's only.

- ``api.sock``: the API over HTTP on a Unix socket (mode 0600);
- ``lock``: held by the process for its whole life (one per home);
- ``state.json``: who serves (pid, stamp, working directory), written once it listens;
- ``wanted``: the stamp the CLI wants served, or ``stop``: a process serving another stamp
  leaves;
- ``active``: touched by each command before it connects (the idle clock starts again);
- ``daemon.log``: its standard error.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIRECTORY = "daemon"
STOP = "stop"


@dataclass(frozen=True)
class State:
    """What ``state.json`` says of the process serving the home."""

    pid: int
    stamp: str
    cwd: str
    cwd_dependent: bool
    started_at: str
    idle_seconds: int


@dataclass(frozen=True)
class Place:
    """The warm process's files for the home ``home`` (an absolute path)."""

    home: Path

    @property
    def directory(self) -> Path:
        return self.home / DIRECTORY

    @property
    def socket(self) -> Path:
        return self.directory / "api.sock"

    @property
    def lock(self) -> Path:
        return self.directory / "lock"

    @property
    def state(self) -> Path:
        return self.directory / "state.json"

    @property
    def wanted(self) -> Path:
        return self.directory / "wanted"

    @property
    def active(self) -> Path:
        return self.directory / "active"

    @property
    def log(self) -> Path:
        return self.directory / "daemon.log"

    def owned(self) -> bool:
        """Whether the directory exists, is a directory of this user, and no one else may
        enter it (anything else is not trusted: no process of another user is ever used)."""
        try:
            info = os.lstat(self.directory)
        except OSError:
            return False
        private = not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
        return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and private

    def make(self) -> None:
        """Create the directory (0700), or narrow an existing one of this user to 0700."""
        self.directory.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(self.directory)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise PermissionError(f"{self.directory} is not a directory of this user")
        os.chmod(self.directory, 0o700)

    def read_state(self) -> State | None:
        """The serving process's state, or None (absent, unreadable or malformed)."""
        try:
            raw: Any = json.loads(self.state.read_text())
            return State(
                pid=int(raw["pid"]),
                stamp=str(raw["stamp"]),
                cwd=str(raw["cwd"]),
                cwd_dependent=bool(raw["cwd_dependent"]),
                started_at=str(raw["started_at"]),
                idle_seconds=int(raw["idle_seconds"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write_state(self, state: State) -> None:
        _write_private(self.state, json.dumps(state.__dict__))

    def read_wanted(self) -> str | None:
        try:
            return self.wanted.read_text().strip() or None
        except OSError:
            return None

    def want(self, stamp: str) -> None:
        """Say which stamp should be served (``stop``: none)."""
        _write_private(self.wanted, stamp)

    def touch_active(self) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(self.active, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.utime(fd)
            finally:
                os.close(fd)

    def active_at(self) -> float:
        try:
            return self.active.stat().st_mtime
        except OSError:
            return 0.0

    def running(self) -> bool:
        """Whether a process holds the lock (it serves, or is starting or stopping)."""
        fd = self.open_lock()
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing releases a lock taken here
        return False

    def open_lock(self) -> int | None:
        try:
            return os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole (a temporary file renamed over it), mode 0600."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)
