"""The warehouse's folders: table folders, the trash of drops and the quarantine of orphans.

``<root>/<project>/<table>`` holds a table. Folders whose name starts with a dot are Lakehold's
own (``.scans``, ``.trash``, ``.quarantine``) and never tables: project and table names cannot
start with a dot. A dropped table is first renamed into ``.trash/<token>`` (one atomic step that
frees its name), then deleted; an orphan (a table folder the catalog does not know) is moved to
``.quarantine/<project>/<table>-<timestamp>``, never deleted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

LOG = "_delta_log"
TRASH = ".trash"
QUARANTINE = ".quarantine"


def latest_version(path: Path) -> int | None:
    """The newest version in the table's log (by listing ``_delta_log``, without loading the
    table); None when the folder holds no commit."""
    try:
        names = os.listdir(Path(path) / LOG)
    except OSError:
        return None
    versions = [int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit()]
    return max(versions) if versions else None


def table_folders(root: Path) -> Iterator[Path]:
    """Every ``<root>/<project>/<table>`` folder with a ``_delta_log`` (dot-folders skipped)."""
    for project in _children(root):
        for table in _children(project):
            if (table / LOG).is_dir():
                yield table


def _children(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [e for e in entries if e.is_dir() and not e.name.startswith(".")]


def trash_path(root: Path, token: str) -> Path:
    return Path(root) / TRASH / token


def move_to_trash(root: Path, path: Path, token: str) -> Path | None:
    """Rename the table folder into the trash (atomic); None when there is no folder."""
    target = trash_path(root, token)
    if not Path(path).exists():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    Path(path).rename(target)
    return target


def empty_trash(root: Path, token: str) -> None:
    shutil.rmtree(trash_path(root, token), ignore_errors=True)


def quarantine(root: Path, path: Path) -> Path:
    """Move an orphan table folder to ``.quarantine/<project>/<table>-<timestamp>``."""
    path = Path(path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = Path(root) / QUARANTINE / path.parent.name / f"{path.name}-{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True)
    path.rename(target)
    return target


def relative(root: Path, path: Path | str) -> str:
    """``path`` relative to the warehouse root (what reports show, never a server path)."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return Path(path).name
