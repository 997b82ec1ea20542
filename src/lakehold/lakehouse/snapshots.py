"""A bounded cache of table snapshots by (path, version): a committed version never changes."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from lakehold.lakehouse.results import Snapshot


class SnapshotCache:
    """Least-recently-used snapshots; a hit whose files were vacuumed away is dropped."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, int], Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, version: int) -> Snapshot | None:
        key = (str(path), version)
        with self._lock:
            snapshot = self._entries.get(key)
            if snapshot is None:
                return None
            if not all(os.path.exists(f) for f in snapshot.files):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return snapshot

    def put(self, path: Path, snapshot: Snapshot) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._entries[(str(path), snapshot.version)] = snapshot
            self._entries.move_to_end((str(path), snapshot.version))
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def forget(self, path: Path) -> None:
        """Drop every snapshot of ``path`` (before a vacuum or a drop)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == str(path)]:
                del self._entries[key]
