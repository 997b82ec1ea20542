"""Where a home's warm process keeps its files: ``<home>/daemon/``, its owner's only.

- ``api.sock``: the API over HTTP on a Unix socket (mode 0600);
- ``lock``: held by the process for its whole life (one per home);
- ``state.json``: who serves (pid, stamp, working directory), written once it listens;
- ``wanted``: the stamp the CLI wants served, or ``stop``: a process serving another stamp
  leaves;
- ``start.lock``: held by a command while it decides to start a process (one at a time);
- ``active``: touched by each command before it connects (the idle clock starts again);
- ``daemon.log``: its standard error.

Nothing found there is followed or trusted blindly: every file is opened without following a
symbolic link or blocking (a FIFO), must be a regular file of this user with no other link
(else it is ignored, or replaced when written), and is read up to 64 KiB.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIRECTORY = "daemon"
STOP = "stop"
READ_LIMIT = 64 << 10
"""The most read of a file in the directory: a larger one is taken as garbage."""


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
        """Create the directory (0700). An existing one must be a private directory of this
        user already: one that others could enter is never narrowed and used (what they may
        have left in it stays out of reach), it must be removed."""
        try:
            os.mkdir(self.directory, 0o700)
        except FileExistsError:
            pass
        else:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                os.fchmod(fd, 0o700)  # whatever the umask
            finally:
                os.close(fd)
        if not self.owned():
            raise PermissionError(f"{self.directory} is not a private directory of this user")

    def read_state(self) -> State | None:
        """The serving process's state, or None (absent, unreadable or malformed)."""
        try:
            raw: Any = json.loads(_read(self.state) or "")
            return State(
                pid=int(raw["pid"]),
                stamp=str(raw["stamp"]),
                cwd=str(raw["cwd"]),
                cwd_dependent=bool(raw["cwd_dependent"]),
                started_at=str(raw["started_at"]),
                idle_seconds=int(raw["idle_seconds"]),
            )
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            return None

    def write_state(self, state: State) -> None:
        _write_private(self.state, json.dumps(state.__dict__))

    def remove_state(self, pid: int) -> None:
        """Remove ``state.json`` if it names the process ``pid``."""
        state = self.read_state()
        if state is not None and state.pid == pid:
            with contextlib.suppress(OSError):
                self.state.unlink()

    def read_wanted(self) -> str | None:
        return (_read(self.wanted) or "").strip() or None

    def wanted_age(self) -> float:
        """Seconds since ``wanted`` was written (infinite when there is none)."""
        try:
            return time.time() - os.lstat(self.wanted).st_mtime
        except OSError:
            return float("inf")

    def want(self, stamp: str) -> None:
        """Say which stamp should be served (``stop``: none)."""
        _write_private(self.wanted, stamp)

    def answered(self) -> bool:
        """Whether a process came up (wrote ``state.json``) since ``wanted`` was written: no
        start is under way then, even if the want is recent."""
        try:
            return os.lstat(self.state).st_mtime_ns >= os.lstat(self.wanted).st_mtime_ns
        except OSError:
            return False

    def forget_want(self, stamp: str, answered_at_ns: int) -> None:
        """Remove ``wanted`` if it still asks for ``stamp`` as written before the process
        answering it came up (``answered_at_ns``): that process leaves on its own, and the
        next command starts another at once instead of waiting for the want to age."""
        try:
            if os.lstat(self.wanted).st_mtime_ns <= answered_at_ns and self.read_wanted() == stamp:
                self.wanted.unlink()
        except OSError:
            pass

    def touch_active(self) -> None:
        with contextlib.suppress(OSError):
            fd = _own_file(self.active, os.O_WRONLY)
            try:
                os.utime(fd)
            finally:
                os.close(fd)

    def active_at(self) -> float:
        try:
            return os.lstat(self.active).st_mtime
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
            return _own_file(self.lock, os.O_RDWR)
        except OSError:
            return None

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        """Held while a command decides whether to start a process: commands started at once
        on a fresh home start one process, not one each."""
        fd = _own_file(self.directory / "start.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def open_log(self) -> int:
        """``daemon.log``, open to append (the process's standard error)."""
        return _own_file(self.log, os.O_WRONLY | os.O_APPEND)

    def trim_log(self, limit: int) -> None:
        """Empty ``daemon.log`` when it is over ``limit`` bytes."""
        fd = _open_file(self.log, os.O_WRONLY)
        if fd is None:
            return
        try:
            if os.fstat(fd).st_size > limit:
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)


def _open_file(path: Path, flags: int) -> int | None:
    """An open descriptor of ``path`` if it is a regular file of this user with no other
    link; None for anything else (absent, a symbolic link, a FIFO, a directory...)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and info.st_nlink == 1:
        return fd
    os.close(fd)
    return None


def _own_file(path: Path, flags: int) -> int:
    """``path`` opened as by :func:`_open_file`; anything else found there is removed and a
    new file made (0600). Raises OSError."""
    create = flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(3):  # another process may replace it at the same moment
        fd = _open_file(path, flags)
        if fd is not None:
            return fd
        remove(path)
        try:
            return os.open(path, create, 0o600)
        except FileExistsError:
            continue
    raise PermissionError(f"{path} is not a file of this user")


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie left unreaped by its parent does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process has that pid now
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS): kill said it runs
        return True


def remove(path: Path) -> None:
    """Remove whatever is at ``path`` (a directory with its content); nothing if absent."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def _read(path: Path) -> str | None:
    """The text of ``path`` (a file as :func:`_open_file` takes), None when absent, not
    such a file, or over the read limit."""
    fd = _open_file(path, os.O_RDONLY)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(READ_LIMIT + 1)
    return data.decode(errors="replace") if len(data) <= READ_LIMIT else None


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole (a new file renamed over it), mode 0600; a
    directory found at ``path`` is removed."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        try:
            os.replace(temporary, path)
        except IsADirectoryError:
            remove(path)
            os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
