"""Peak memory of a `lakehold serve` process while a CSV is uploaded over HTTP.

Usage: python benchmarks/upload_memory.py [--mb 1024] [--keep]

Starts `lakehold serve` (the venv's script, next to this Python) on a free port with a fresh
LAKEHOLD_HOME in a temporary folder, generates a CSV of about ``--mb`` megabytes (id, a
decimal amount, a text column), creates a project, and uploads the file as a new table with
`POST /api/v1/projects/{p}/tables`, streamed from disk by the client (so the client's memory is
not what is measured). The server's resident memory is sampled every 50 ms from /proc; the
kernel's own high-water mark (VmHWM) gives the peak. Printed: the file size, the server's RSS
before, its peak during the upload (from the upload's start to its answer), the peak's growth
and its ratio to the file size, the RSS afterwards, and the staging folder's contents after
the request (it should be empty). ``--upload-only`` sends the file to a project that does not
exist: the server streams it to staging and then answers 404, so the figure is the upload's
alone, without loading the table. Linux only (/proc). Not run in the test suite.

``--merge`` measures merges instead, in process: a table of about ``--mb`` MB is created, then
a CSV of about ``--mb`` MB (half updates, half new keys, 5% duplicate keys) is merged into it,
and a CDC CSV of the same size (updates, deletes, inserts, an order column) applied, each in a
fresh child process whose kernel high-water mark (VmHWM) gives the peak; the same writes of
the file read whole (the in-memory path) run too unless ``--streamed-only``. Printed: each
write's peak growth over the child's RSS after its imports, its ratio to the file size, and a
verdict (goal: the streamed merge and CDC peak below 0.5x the file, and below the in-memory
path).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from lakehold.lakehouse import DeltaTables
from lakehold.lakehouse.readers import read_batch
from lakehold.lakehouse.streaming import open_source

MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def _generate(path: Path, size: int) -> int:
    """A CSV of about ``size`` bytes; its real size."""
    rng = random.Random(7)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("id,amount,label\n")
        written, row = 16, 0
        while written < size:
            lines = []
            for _ in range(10_000):
                row += 1
                label = " ".join(rng.choices(words, k=4))
                lines.append(f"{row},{rng.randint(0, 10**6) / 100:.2f},{label}\n")
            chunk = "".join(lines)
            handle.write(chunk)
            written += len(chunk)
    return path.stat().st_size


def _wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"lakehold serve exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("lakehold serve did not start")


class Sampler(threading.Thread):
    """The highest RSS of ``pid`` seen while running."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, _status(self.pid).get("VmRSS", 0))
            time.sleep(0.05)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(MB):
            yield chunk


def _multipart(path: Path, boundary: str) -> tuple[Iterator[bytes], int]:
    """A streamed multipart body (name, file) and its length."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from _chunks(path)
        yield tail

    return body(), len(head) + path.stat().st_size + len(tail)


_CHILD = """
import json, sys, time
from pathlib import Path
from lakehold.lakehouse import DeltaTables
from lakehold.lakehouse.readers import read_batch
from lakehold.lakehouse.streaming import open_source

def status():
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(rest.split()[0]) * 1024
    return found

warehouse, table, batch, mode, how = sys.argv[1:6]
tables = DeltaTables(Path(warehouse))
before = status()["VmRSS"]
started = time.monotonic()
path = Path(batch)
source = open_source(path, "csv", {}) if how == "streamed" else read_batch(path, "csv")
assert source is not None
options = {"order_column": "seq"} if mode == "cdc" else {}
result = tables.write(Path(table), source, mode=mode, keys=["id"], committer="bench", **options)
print(json.dumps({
    "before": before, "peak": status()["VmHWM"], "seconds": time.monotonic() - started,
    "counts": [result.rows_inserted, result.rows_updated, result.rows_deleted,
               result.duplicates_collapsed],
}))
"""


def _generate_changes(path: Path, size: int, *, cdc: bool) -> int:
    """A merge (or CDC) CSV of about ``size`` bytes over the ids of :func:`_generate`'s file of
    the same size: ids from the middle of it on (half updates, half new), every 20th row
    repeating the previous id; for CDC an op (every 10th row D) and an order column."""
    rng = random.Random(11)
    start = _rows_for(size) // 2
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("id,amount,label" + (",op,seq\n" if cdc else "\n"))
        written, row = 16, 0
        while written < size:
            lines = []
            for _ in range(10_000):
                row += 1
                key = start + row - (1 if row % 20 == 0 else 0)
                extra = f",{'D' if row % 10 == 0 else 'U'},{row}" if cdc else ""
                lines.append(f"{key},{rng.randint(0, 10**6) / 100:.2f},changed{extra}\n")
            chunk = "".join(lines)
            handle.write(chunk)
            written += len(chunk)
    return path.stat().st_size


def _rows_for(size: int) -> int:
    return size // 47  # about the length of a line of _generate's file


def _merge_memory(args: argparse.Namespace, work: Path) -> None:
    base = work / "base.csv"
    print(f"generating {args.mb} MB CSV files (base, merge, CDC) ...", flush=True)
    _generate(base, args.mb * MB)
    files = {}
    for mode in ("merge", "cdc"):
        files[mode] = work / f"{mode}.csv"
        _generate_changes(files[mode], args.mb * MB, cdc=mode == "cdc")
    ways = ["streamed"] if args.streamed_only else ["streamed", "whole"]
    verdicts = []
    for mode in ("merge", "cdc"):
        size = files[mode].stat().st_size
        peaks = {}
        for how in ways:
            warehouse = work / f"warehouse-{mode}-{how}"
            table = warehouse / "p" / "t"
            stream = open_source(base, "csv", {}) or read_batch(base, "csv")
            DeltaTables(warehouse).create(table, stream, committer="bench")
            child = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _CHILD,
                    str(warehouse),
                    str(table),
                    str(files[mode]),
                    mode,
                    how,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                print(f"{mode} {how}: failed\n{child.stderr[-2000:]}")
                continue
            found = json.loads(child.stdout.strip().splitlines()[-1])
            growth = found["peak"] - found["before"]
            peaks[how] = growth / size
            inserted, updated, deleted, collapsed = found["counts"]
            print(
                f"{mode:5} {how:8}: file {size / MB:7.1f} MB, peak growth {growth / MB:7.1f} MB = "
                f"{growth / size:.2f}x the file, {found['seconds']:.1f} s "
                f"(inserted {inserted}, updated {updated}, deleted {deleted}, "
                f"collapsed {collapsed})",
                flush=True,
            )
        if "streamed" in peaks:
            ok = peaks["streamed"] < 0.5 and peaks["streamed"] < peaks.get("whole", 1e9)
            against = f" vs {peaks['whole']:.2f}x read whole" if "whole" in peaks else ""
            verdicts.append(
                f"{mode}: streamed peak {peaks['streamed']:.2f}x the file{against}: "
                f"{'PASS' if ok else 'FAIL'} (goal < 0.5x and below the in-memory path)"
            )
    print("\n".join(verdicts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="CSV size in megabytes (1 GB)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    parser.add_argument(
        "--upload-only",
        action="store_true",
        help="upload to a project that does not exist: the body is streamed to staging, then "
        "refused (404) before any table is loaded; measures the upload path alone",
    )
    parser.add_argument(
        "--merge", action="store_true", help="measure a merge and a CDC of the file, in process"
    )
    parser.add_argument(
        "--streamed-only", action="store_true", help="with --merge: skip the in-memory path"
    )
    args = parser.parse_args()
    if args.merge:
        work = Path(tempfile.mkdtemp(prefix="lakehold-merge-bench-"))
        try:
            _merge_memory(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return

    lakehold = Path(sys.executable).parent / "lakehold"
    if not lakehold.exists():
        raise SystemExit(f"{lakehold} not found: run with the venv's Python")
    work = Path(tempfile.mkdtemp(prefix="lakehold-upload-bench-"))
    home = work / "home"
    csv = work / "big.csv"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"generating a {args.mb} MB CSV ...", flush=True)
    size = _generate(csv, args.mb * MB)
    env = {**os.environ, "LAKEHOLD_HOME": str(home)}
    env.setdefault("LAKEHOLD_MAX_UPLOAD_BYTES", str(max(size * 2, 10 * 1024**3)))
    server = subprocess.Popen(
        [str(lakehold), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(base, server)
        token = (home / "admin_token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=None) as client:
            client.post("/api/v1/domains", json={"name": "Bench"}).raise_for_status()
            client.post(
                "/api/v1/projects", json={"name": "p", "domain": "Bench"}
            ).raise_for_status()
            before = _status(server.pid)["VmRSS"]
            sampler = Sampler(server.pid)
            sampler.start()
            boundary = "lakeholdbenchboundary"
            body, length = _multipart(csv, boundary)
            started = time.monotonic()
            project = "missing" if args.upload_only else "p"
            response = client.post(
                f"/api/v1/projects/{project}/tables",
                content=body,
                headers={
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(length),
                },
            )
            seconds = time.monotonic() - started
            peak = sampler.stop()
            hwm = _status(server.pid)["VmHWM"]
            after = _status(server.pid)["VmRSS"]
        staged = sorted(p.name for p in (home / "staging").iterdir())
        print(f"upload answer     : {response.status_code} in {seconds:.1f} s")
        if response.status_code >= 400:
            print(f"  {response.text[:500]}")
        print(f"file size         : {size / MB:9.1f} MB")
        print(f"server RSS before : {before / MB:9.1f} MB")
        print(f"server RSS peak   : {peak / MB:9.1f} MB (VmHWM since start {hwm / MB:.1f} MB)")
        growth = peak - before
        print(f"peak growth       : {growth / MB:9.1f} MB = {growth / size:.2f}x the file")
        print(f"server RSS after  : {after / MB:9.1f} MB")
        print(f"staging after     : {staged or 'empty'}")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
