"""``/metrics`` in the Prometheus text format, from one process or from several.

One process: the default registry. Several (``lakehold serve --workers N``): the starting
process empties a directory and sets ``PROMETHEUS_MULTIPROC_DIR`` before any metric exists
(:mod:`~lakehold.observability.multiprocess`); every process then keeps its values in files
there and a scrape merges them (prometheus-client's ``MultiProcessCollector``: counters and
histograms summed, gauges by their ``multiprocess_mode``). The live gauges of workers that died are
dropped at each scrape (``mark_process_dead``); their counters stay in the sums.

The values read at scrape time (:data:`SCRAPE_TIME`: the build, the warehouse's disk, the sync
lag) come from the process answering, set just before (:func:`scrape`), never from the files
other processes left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Gauge,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from lakehold.observability.metrics import (
    BUILD_INFO,
    SYNC_LAG_SECONDS,
    SYNC_WATERMARK_LAG_SECONDS,
    WAREHOUSE_DISK_FREE_BYTES,
    WAREHOUSE_DISK_SIZE_BYTES,
    project_label,
)
from lakehold.observability.multiprocess import multiprocess_dir

CONTENT_TYPE = CONTENT_TYPE_LATEST
disable_created_metrics()  # no ``_created`` series: one process answers as several do
SCRAPE_TIME = (
    BUILD_INFO,
    WAREHOUSE_DISK_FREE_BYTES,
    WAREHOUSE_DISK_SIZE_BYTES,
    SYNC_LAG_SECONDS,
    SYNC_WATERMARK_LAG_SECONDS,
)
_SCRAPE_TIME_NAMES = frozenset(family.name for m in SCRAPE_TIME for family in m.describe())
_PID = re.compile(r"_(\d+)\.db$")
_scraping = threading.Lock()


def scrape(
    *,
    version: str,
    warehouse: Path,
    lags: Mapping[str, float],
    behind_source: Mapping[str, float],
) -> bytes:
    """Every metric, in the Prometheus text format (:data:`CONTENT_TYPE`), the scrape-time
    values set first (one scrape at a time in a process: each sets them anew)."""
    with _scraping:
        _refresh(version, warehouse)
        _per_project(SYNC_LAG_SECONDS, lags)
        _per_project(SYNC_WATERMARK_LAG_SECONDS, behind_source)
        return render()


def _refresh(version: str, warehouse: Path) -> None:
    """Set the values read at scrape time: the build and the warehouse's file system."""
    BUILD_INFO.info({"version": version})
    try:
        usage = shutil.disk_usage(warehouse)
    except OSError:  # not there (yet): no figures rather than wrong ones
        pass
    else:
        WAREHOUSE_DISK_FREE_BYTES.set(usage.free)
        WAREHOUSE_DISK_SIZE_BYTES.set(usage.total)


def _per_project(gauge: Gauge, values: Mapping[str, float]) -> None:
    """Set a scrape-time gauge to the largest value per project label, and only those."""
    by_label: dict[str, float] = {}
    for project, seconds in values.items():
        label = project_label(project)
        by_label[label] = max(seconds, by_label.get(label, 0.0))
    # clear() warns in multi-process mode (the labels stay in the files), but scrape-time
    # values are collected from this process, not from files: a project without jobs drops out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gauge.clear()
    for label, seconds in by_label.items():
        gauge.labels(label).set(seconds)


def render() -> bytes:
    """Every metric, in the Prometheus text format (:data:`CONTENT_TYPE`)."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY)
    mark_dead_processes(directory)
    registry = CollectorRegistry()
    registry.register(_Files(directory))
    registry.register(_ScrapeTime())
    return generate_latest(registry)


_marked: set[int] = set()


def mark_dead_processes(directory: Path) -> None:
    """Drop the live gauges (the metadata pool's) of processes that no longer run."""
    pids = {int(found.group(1)) for name in os.listdir(directory) if (found := _PID.search(name))}
    for pid in pids - _marked:
        if not _running(pid):
            multiprocess.mark_process_dead(pid, str(directory))
            _marked.add(pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


class _Files:
    """The processes' values from their files, but for the scrape-time ones."""

    def __init__(self, directory: Path) -> None:
        self._files = multiprocess.MultiProcessCollector(None, path=str(directory))

    def collect(self) -> Iterator[Metric]:
        return (m for m in self._files.collect() if m.name not in _SCRAPE_TIME_NAMES)


class _ScrapeTime:
    """The scrape-time values of the process answering."""

    def collect(self) -> Iterable[Metric]:
        for metric in SCRAPE_TIME:
            yield from metric.collect()
