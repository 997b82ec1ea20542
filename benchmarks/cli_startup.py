"""Start-up time of the ``lakehold`` command, in process and against a server.

Usage: python benchmarks/cli_startup.py [--runs 10] [--before DIR]

Creates a fresh ``LAKEHOLD_HOME`` in a temporary folder (one ``lakehold domain list`` run
bootstraps it, unmeasured) and starts ``lakehold serve`` on it, on a free port. Then times
each command ``--runs`` times in subprocesses, the commands taking turns (so that a change of
load hits them all) after one unmeasured round: ``python -c pass`` (the baseline), a DuckDB
one-liner printing ``select 1`` (what the goal of ``sql`` is judged against), ``lakehold
--help``, and ``lakehold domain list`` and ``lakehold sql "select 1"``:
on the home (``LAKEHOLD_HOME``: served by its warm process, ADR 42, started before the runs),
in process (``LAKEHOLD_DAEMON=off``) and against the server (``LAKEHOLD_URL`` and
``LAKEHOLD_TOKEN``, no home).
With ``--before DIR`` (a ``src`` folder of other code, e.g. ``git archive HEAD src | tar -x -C
/tmp/before``) every command is also run with that code first on ``PYTHONPATH`` (its own home,
the same server), marked ``(before)``. Prints the median, minimum and maximum wall time of
each, the median less the baseline's, and the median CPU time (user + system; steadier than
wall time on a busy machine), then one verdict a goal (issues #11 and #12), judged on the
median wall time, with its ratio to the DuckDB one-liner's. A command that fails is reported,
not timed. The ``lakehold`` script is the one next to this Python (the venv's).

Every command runs with bytecode caches, as an installed ``lakehold`` does: in a private
``PYTHONPYCACHEPREFIX`` in the temporary folder (``PYTHONDONTWRITEBYTECODE`` unset), filled
by the unmeasured runs. Not run in the test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

GOALS = {  # command: (seconds, the issue that sets it)
    "domain list (server)": (0.5, "#11"),
    'sql "select 1" (server)': (0.3, "#12"),
    "domain list (home)": (1.2, "#12"),
    'sql "select 1" (home)': (0.3, "#12"),
}
BASELINE = "python -c pass"
DUCKDB = "duckdb one-liner"
DUCKDB_ONE_LINER = "import duckdb; duckdb.sql('select 1').show()"


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]
    failure: str | None = None


def _lakehold() -> list[str]:
    script = Path(sys.executable).with_name("lakehold")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "lakehold.cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _time_once(command: list[str], env: dict[str, str], timing: Timing) -> None:
    if timing.failure:
        return
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        timing.failure = f"exit {done.returncode}: {lines[-1] if lines else ''}"
        return
    timing.wall.append(wall)
    timing.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


@contextmanager
def _server(lakehold: list[str], env: dict[str, str]) -> Iterator[str]:
    """``lakehold serve`` on a free port of 127.0.0.1; its URL."""
    port = _free_port()
    process = subprocess.Popen(
        [*lakehold, "serve"],
        env={**env, "LAKEHOLD_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                raise SystemExit(f"lakehold serve exited with {process.returncode}")
            if time.monotonic() - started > 120:
                raise SystemExit("lakehold serve did not start within 120 s")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _commands(
    lakehold: list[str], local: dict[str, str], remote: dict[str, str], mark: str = ""
) -> dict[str, tuple[list[str], dict[str, str]]]:
    cold = {**local, "LAKEHOLD_DAEMON": "off"}
    return {
        f"lakehold --help{mark}": ([*lakehold, "--help"], cold),
        f"domain list (home){mark}": ([*lakehold, "domain", "list"], local),
        f"domain list (in process){mark}": ([*lakehold, "domain", "list"], cold),
        f"domain list (server){mark}": ([*lakehold, "domain", "list"], remote),
        f'sql "select 1" (home){mark}': ([*lakehold, "sql", "select 1"], local),
        f'sql "select 1" (in process){mark}': ([*lakehold, "sql", "select 1"], cold),
        f'sql "select 1" (server){mark}': ([*lakehold, "sql", "select 1"], remote),
    }


def _warm(lakehold: list[str], env: dict[str, str]) -> None:
    """Start the home's warm process (ADR 42) and wait until it serves."""
    subprocess.run([*lakehold, "domain", "list"], env=env, check=True, capture_output=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = subprocess.run([*lakehold, "daemon", "status"], env=env, capture_output=True)
        if b"serves this shell: yes" in status.stdout:
            return
        time.sleep(0.5)
    raise SystemExit("the home's warm process did not start: see daemon/daemon.log in the home")


def _with_code(env: dict[str, str], src: Path) -> dict[str, str]:
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))}


def measure(runs: int, before: Path | None = None) -> dict[str, Timing]:
    lakehold = _lakehold()
    with tempfile.TemporaryDirectory(prefix="lakehold-startup-") as folder:
        home = Path(folder) / "home"
        base = {
            **os.environ,
            "XDG_CONFIG_HOME": str(Path(folder) / "config"),
            "PYTHONPYCACHEPREFIX": str(Path(folder) / "pycache"),  # bytecode, as installed
        }
        for name in (
            "LAKEHOLD_TOKEN",
            "LAKEHOLD_URL",
            "LAKEHOLD_PROFILE",
            "LAKEHOLD_DATABASE_URL",
            "PYTHONDONTWRITEBYTECODE",
        ):
            base.pop(name, None)
        local = {**base, "LAKEHOLD_HOME": str(home)}
        # the first command creates the metadata store and the admin token: not measured
        subprocess.run([*lakehold, "domain", "list"], env=local, check=True, capture_output=True)
        with _server(lakehold, local) as url:
            remote = {
                **base,
                "LAKEHOLD_URL": url,
                "LAKEHOLD_TOKEN": (home / "admin_token").read_text().strip(),
            }
            remote.pop("LAKEHOLD_HOME", None)
            commands = {
                BASELINE: ([sys.executable, "-c", "pass"], local),
                DUCKDB: ([sys.executable, "-c", DUCKDB_ONE_LINER], local),
            }
            commands |= _commands(lakehold, local, remote)
            if before is not None:
                old_local = _with_code({**local, "LAKEHOLD_HOME": str(home) + "-before"}, before)
                subprocess.run(
                    [*lakehold, "domain", "list"], env=old_local, check=True, capture_output=True
                )
                old_remote = _with_code(remote, before)
                commands |= _commands(lakehold, old_local, old_remote, " (before)")
            results = {name: Timing([], []) for name in commands}
            _warm(lakehold, local)
            try:
                for run in range(runs + 1):  # the commands take turns; the first round warms up
                    for name, (command, env) in commands.items():
                        timing = results[name] if run else Timing([], [])
                        _time_once(command, env, timing)
                        results[name].failure = results[name].failure or timing.failure
            finally:
                subprocess.run([*lakehold, "daemon", "stop"], env=local, capture_output=True)
            return dict(sorted(results.items(), key=lambda item: _order(item[0], commands)))


def _order(name: str, commands: dict[str, object]) -> tuple[int, int]:
    """Each command next to its ``(before)`` run."""
    plain = name.removesuffix(" (before)")
    return list(commands).index(plain), int(name != plain)


def report(results: dict[str, Timing]) -> None:
    baseline = statistics.median(results[BASELINE].wall)
    duckdb = results[DUCKDB]
    print(f"{'command':<40}{'median':>10}{'min':>10}{'max':>10}{'- baseline':>12}{'cpu':>10}")
    for name, timing in results.items():
        if timing.failure:
            print(f"{name:<40}  failed ({timing.failure})")
            continue
        median = statistics.median(timing.wall)
        print(
            f"{name:<40}{median * 1000:>8.0f}ms{min(timing.wall) * 1000:>8.0f}ms"
            f"{max(timing.wall) * 1000:>8.0f}ms{(median - baseline) * 1000:>10.0f}ms"
            f"{statistics.median(timing.cpu) * 1000:>8.0f}ms"
        )
    print()
    for name, (goal, issue) in GOALS.items():
        timing = results[name]
        target = f"goal ≤ {goal * 1000:.0f} ms ({issue})"
        if timing.failure:
            print(f"{name}: {target}: not measured, the command failed")
            continue
        median = statistics.median(timing.wall)
        verdict = "met" if median <= goal else "NOT met"
        cpu = statistics.median(timing.cpu)
        old = results.get(f"{name} (before)")
        was = ""
        if old is not None and not old.failure:
            ratio = cpu / statistics.median(old.cpu)
            was = f"; before: median {statistics.median(old.wall) * 1000:.0f} ms, cpu x{ratio:.2f}"
        figures = f"median {median * 1000:.0f} ms (cpu {cpu * 1000:.0f} ms{was})"
        print(f"{name}: {figures}, {_against_duckdb(timing, duckdb)}, {target}: {verdict}")


def _against_duckdb(timing: Timing, duckdb: Timing) -> str:
    """The command's median wall and CPU time as multiples of the DuckDB one-liner's."""
    if duckdb.failure:
        return "the DuckDB one-liner failed"
    wall = statistics.median(timing.wall) / statistics.median(duckdb.wall)
    cpu = statistics.median(timing.cpu) / statistics.median(duckdb.cpu)
    return f"x{wall:.1f} a DuckDB one-liner (cpu x{cpu:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command")
    parser.add_argument("--before", type=Path, help="a src folder of the code to compare with")
    arguments = parser.parse_args()
    report(measure(arguments.runs, arguments.before))


if __name__ == "__main__":
    main()
