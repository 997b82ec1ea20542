"""Where the processes of ``lakehold serve --workers N`` keep their metric values.

prometheus-client chooses how every value is kept when it is first imported: in memory, or in
a file of ``PROMETHEUS_MULTIPROC_DIR`` when that is set. The process that starts the workers
therefore prepares the directory before anything imports prometheus-client (this module does
not), and the workers inherit the variable.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    """The directory of the processes' values, when several processes serve."""
    value = os.environ.get(ENV) or os.environ.get(ENV.lower())
    return Path(value) if value else None


def prepare_multiprocess_dir(path: Path) -> Path:
    """Make ``path`` an empty directory (mode 0700) and point prometheus-client at it, for this
    process and the ones it starts."""
    if "prometheus_client" in sys.modules and multiprocess_dir() != path:
        raise RuntimeError("prometheus-client was imported before its directory was set")
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(mode=0o700, parents=True)
    os.environ[ENV] = str(path)
    return path
