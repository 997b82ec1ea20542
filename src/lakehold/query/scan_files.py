"""A private, per-statement directory of links to exactly the files a plan reads.

The DuckDB connection that runs user SQL may open these links and nothing else: the
warehouse's own paths -- which an attacker may know -- are never allowed on it. Each
statement gets a directory named by 128 random bits under the scan root, readable by
Lakehold's user only (in a sandbox, the sandbox's own such directory, emptied before it serves
again), and each file a link named by its position; the names appear only
in the views the engine generates and are scrubbed from every error, so user SQL cannot
name them. The directory goes when the statement ends; :func:`purge_stale` removes what a
crashed process left behind.

A link is a hard link (no copy, DuckDB's native Parquet scan at full speed). A hard link
needs the same file system, so the scan root lives in the warehouse; a file elsewhere (a
folder-of-files source on another disk) is copied instead. Symbolic links are never used:
DuckDB resolves them, so ``allowed_paths`` would admit their targets.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType

DEFAULT_ROOT = Path(tempfile.gettempdir()) / "lakehold-scans"
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_SANDBOX_FILE = re.compile(r"^sandbox-[0-9a-f]{32}\.duckdb(\.wal)?$")


class ScanFiles:
    """Links made for one statement; a context manager that removes them on exit.

    ``inside``: the links go straight into ``root``, a private directory of the statement's
    own for as long as it runs (a sandbox's, :mod:`lakehold.query.sandboxes`), and ``close``
    leaves it empty rather than removing it: no directory is made and removed per statement.
    """

    def __init__(self, root: Path | None = None, *, inside: bool = False) -> None:
        root = root or DEFAULT_ROOT
        self._inside = inside
        self.directory = root if inside else root / secrets.token_hex(16)
        if not inside:
            self._make()
        self._links: dict[str, str] = {}

    def _make(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, exist_ok=self._inside)
        except FileNotFoundError:  # a new root, or one removed since
            self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.mkdir(mode=0o700, exist_ok=self._inside)

    def link(self, path: str) -> str:
        """The path under which the statement reads ``path`` (the same file, linked once)."""
        found = self._links.get(path)
        if found is not None:
            return found
        suffix = Path(path).suffix
        target = self.directory / f"{len(self._links)}{suffix if _SUFFIX.match(suffix) else ''}"
        try:
            os.link(path, target)
        except FileNotFoundError:
            if not self._inside or self.directory.is_dir():
                raise  # the data file is gone
            self._make()  # a sandbox's directory purged while it was idle
            os.link(path, target)
        except OSError:  # another file system, or hard links not supported: copy
            shutil.copyfile(path, target)
        self._links[path] = str(target)
        return str(target)

    @property
    def links(self) -> tuple[str, ...]:
        """Every link made so far."""
        return tuple(self._links.values())

    def close(self) -> None:
        """Remove the links it made (the data files stay), then the directory, or, ``inside``,
        anything else left in it; a tree walk only if something else is left."""
        for found in self._links.values():
            with contextlib.suppress(OSError):
                os.unlink(found)
        if self._inside:
            with contextlib.suppress(OSError), os.scandir(self.directory) as left:
                for entry in left:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        with contextlib.suppress(OSError):
                            os.unlink(entry.path)
            return
        try:
            self.directory.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> ScanFiles:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def purge_stale(root: Path | None = None, *, older_than_s: float) -> int:
    """Remove statement directories and sandbox files (:mod:`lakehold.query.sandboxes`)
    older than ``older_than_s``, left by a dead process; the number removed. (An idle live
    sandbox whose directory or file goes keeps working: its file is open, and its directory
    is made again by its next statement.)"""
    root = root or DEFAULT_ROOT
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for entry in root.iterdir():
        with contextlib.suppress(OSError):
            if entry.stat().st_mtime >= cutoff:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
            elif _SANDBOX_FILE.match(entry.name):
                entry.unlink()
                removed += 1
    return removed
