"""What a warm process must share with a command to serve it: the same code, interpreter and
environment. Its stamp is a digest of them, computed in a few milliseconds without importing
Lakehold's modules: a process whose stamp differs is replaced, never used."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

PER_COMMAND = frozenset(
    {
        "LAKEHOLD_TOKEN",
        "LAKEHOLD_CLIENT_ID",
        "LAKEHOLD_CLIENT_SECRET",
        "LAKEHOLD_REQUEST_ID",
        "LAKEHOLD_PROFILE",
        "LAKEHOLD_URL",
        "LAKEHOLD_HOME",  # stamped as the absolute home instead
        "LAKEHOLD_DAEMON",
    }
)
"""Variables a command sends with each request (or that choose the process): not stamped."""

SHELL = frozenset(
    {
        "PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES", "TERM", "TERM_PROGRAM",
        "TERM_PROGRAM_VERSION", "TERM_SESSION_ID", "COLORTERM", "PS1", "PS2", "PS4",
        "PROMPT_COMMAND", "HISTFILE", "HISTSIZE", "HISTCONTROL", "WINDOWID", "TMUX", "TMUX_PANE",
        "STY", "WINDOW", "SSH_TTY", "SSH_CLIENT", "SSH_CONNECTION", "SSH_AUTH_SOCK", "GPG_TTY",
        "DISPLAY", "XAUTHORITY", "LS_COLORS", "LESS", "PAGER", "EDITOR", "VISUAL", "NO_COLOR",
        "FORCE_COLOR", "CLICOLOR", "MAIL", "DBUS_SESSION_BUS_ADDRESS", "SESSION_MANAGER",
        "VSCODE_GIT_IPC_HANDLE", "VSCODE_INJECTION", "PYTEST_CURRENT_TEST",
    }
)  # fmt: skip
"""A shell's and terminal's own variables, different in each terminal: not stamped."""


def home_of(environ: Mapping[str, str]) -> Path:
    """The home a command works on, as the settings read it (``LAKEHOLD_HOME`` in any case,
    else ``~/.lakehold``), made absolute against this directory."""
    value = next((v for k, v in environ.items() if k.upper() == "LAKEHOLD_HOME"), None)
    return Path(value).absolute() if value else Path.home() / ".lakehold"


def stamp(environ: Mapping[str, str], home: Path) -> str:
    """The digest of the code, the interpreter and the environment serving ``home``."""
    digest = hashlib.sha256()
    interpreter = os.path.realpath(sys.executable)  # bin/python and bin/python3 are one
    where = f"{interpreter}\0{sys.prefix}\0{sys.version}\0{home}\0"
    digest.update(where.encode("utf-8", "surrogateescape"))  # a path need not be UTF-8
    for name in sorted(environ):
        if name.upper() in PER_COMMAND or name in SHELL:
            continue
        digest.update(f"{name}={environ[name]}\0".encode("utf-8", "surrogateescape"))
    _code(digest)
    return digest.hexdigest()[:32]


def _code(digest: hashlib._Hash) -> None:
    """Every file of the package (path, time, size) and each site directory's own time
    (installing or removing a distribution changes it)."""
    package = Path(__file__).resolve().parents[2]  # src/lakehold
    pending = [str(package)]
    while pending:
        for entry in _entries(pending.pop()):
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    pending.append(entry.path)
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:  # removed as it was listed (an editor's temporary file)
                continue
            digest.update(os.fsencode(f"{entry.path}\0{info.st_mtime_ns}\0{info.st_size}\0"))
    for path in sys.path:
        if not path.endswith(("site-packages", "dist-packages")):
            continue
        try:
            digest.update(os.fsencode(f"{path}\0{os.stat(path).st_mtime_ns}\0"))
        except OSError:
            continue


def _entries(directory: str) -> list[os.DirEntry[str]]:
    """The entries of ``directory``, sorted (none if it went meanwhile)."""
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError:
        return []
