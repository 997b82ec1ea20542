"""A task that reports what a Ray worker has loaded (shipped by value: it imports nothing)."""

from __future__ import annotations

import sys


def loaded() -> list[str]:
    """The Lakehold and test modules loaded in this worker process."""
    return sorted(m for m in sys.modules if m.split(".")[0] in ("lakehold", "tests"))
