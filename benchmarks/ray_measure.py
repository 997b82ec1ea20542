"""What the Ray engine benchmark measures besides time: memory, bytes read, equal results.

:class:`Sampler` watches, while a query runs, the driver (the coordinator: Lakehold's own
process) and every Ray worker process on this machine (``ray::`` processes: tasks, Ray Data
operators, Daft's actors): peak resident memory per process, sampled every 20 ms, and the
bytes each read through ``read``/``pread`` (``/proc/<pid>/io`` ``rchar``; Parquet readers
read files that way, so a column the reader skips is never counted).
:func:`same_rows` compares two results value by value.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import math
import threading
import time
from dataclasses import dataclass, field

import psutil
import pyarrow as pa

_MB = 1 << 20


@dataclass
class Usage:
    """Peak RSS of the driver and of the largest worker process, MB; MB read by all."""

    driver_mb: float = 0.0
    worker_mb: float = 0.0
    read_mb: float = 0.0
    workers: int = 0


@dataclass
class Sampler:
    """Samples the driver and the ``ray::`` processes between ``start()`` and ``stop()``."""

    interval_s: float = 0.02
    _peaks: dict[int, int] = field(default_factory=dict)
    _read0: dict[int, int] = field(default_factory=dict)
    _read1: dict[int, int] = field(default_factory=dict)
    _procs: dict[int, psutil.Process] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Sampler:
        self._driver = psutil.Process()
        self._find()
        for pid, proc in self._procs.items():
            self._read0[pid] = _rchar(proc)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        for pid, proc in self._procs.items():
            self._read1[pid] = _rchar(proc)

    def usage(self) -> Usage:
        driver = self._driver.pid
        read = sum(max(self._read1.get(p, 0) - self._read0.get(p, 0), 0) for p in self._read1)
        workers = [v for p, v in self._peaks.items() if p != driver]
        return Usage(
            driver_mb=self._peaks.get(driver, 0) / _MB,
            worker_mb=max(workers, default=0) / _MB,
            read_mb=read / _MB,
            workers=len(workers),
        )

    def _find(self) -> None:
        self._procs.setdefault(self._driver.pid, self._driver)
        for proc in psutil.process_iter(["name"]):
            if (proc.info["name"] or "").startswith("ray::") and proc.pid not in self._procs:
                self._procs[proc.pid] = proc
                self._read0.setdefault(proc.pid, _rchar(proc))

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.interval_s):
            if time.monotonic() - last > 0.5:
                self._find()
                last = time.monotonic()
            self._sample()

    def _sample(self) -> None:
        for pid, proc in list(self._procs.items()):
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            if rss > self._peaks.get(pid, 0):
                self._peaks[pid] = rss
            with contextlib.suppress(psutil.Error):
                self._read1[pid] = proc.io_counters().read_chars


def _rchar(proc: psutil.Process) -> int:
    try:
        return proc.io_counters().read_chars
    except psutil.Error:
        return 0


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def same_rows(got: pa.Table, expected: pa.Table, ordered: bool) -> tuple[bool, str]:
    """Equal values (numbers to a relative 1e-9, decimals and floats alike), in order when
    the statement orders its rows (``ordered``), else as multisets; the reason when not."""
    if got.num_columns != expected.num_columns:
        return False, f"{got.num_columns} columns, expected {expected.num_columns}"
    if got.num_rows != expected.num_rows:
        return False, f"{got.num_rows} rows, expected {expected.num_rows}"
    ours = [tuple(_value(v) for v in row.values()) for row in got.to_pylist()]
    theirs = [tuple(_value(v) for v in row.values()) for row in expected.to_pylist()]
    if not ordered:
        ours, theirs = sorted(ours, key=_key), sorted(theirs, key=_key)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if not all(_close(x, y) for x, y in zip(a, b, strict=True)):
            return False, f"row {i}: {a} != {b}"
    return True, ""


def _value(v: object) -> object:
    if isinstance(v, decimal.Decimal | float) or (isinstance(v, int) and not isinstance(v, bool)):
        return float(v)
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, str):
        return v.rstrip()
    return v


def _key(row: tuple[object, ...]) -> tuple[tuple[int, object], ...]:
    return tuple((0, round(v, 4)) if isinstance(v, float) else (1, str(v)) for v in row)


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b
