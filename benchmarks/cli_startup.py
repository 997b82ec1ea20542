"""Start-up time of the ``lakehold`` command.

Usage: python benchmarks/cli_startup.py [--runs 10]

Creates a fresh ``LAKEHOLD_HOME`` in a temporary folder (one ``lakehold domain list`` run
bootstraps it, unmeasured), then runs each of ``python -c pass`` (the baseline),
``lakehold --help`` and ``lakehold domain list`` ``--runs`` times in subprocesses, one after
the other, and prints the median, minimum and maximum wall time of each, and the median less
the baseline's. The ``lakehold`` script is the one next to this Python (the venv's). Not run in
the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _lakehold() -> list[str]:
    script = Path(sys.executable).with_name("lakehold")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "lakehold.cli"]


def _time(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lakehold-startup-") as home:
        env = {**os.environ, "LAKEHOLD_HOME": home}
        env.pop("LAKEHOLD_TOKEN", None)
        lakehold = _lakehold()
        # the first command creates the metadata store and the admin token: not measured
        subprocess.run([*lakehold, "domain", "list"], env=env, check=True, capture_output=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "lakehold --help": [*lakehold, "--help"],
            "lakehold domain list": [*lakehold, "domain", "list"],
        }
        results = {name: _time(command, env, args.runs) for name, command in commands.items()}
    baseline = statistics.median(results["python -c pass"])
    print(f"{'command':<24}{'median':>10}{'min':>10}{'max':>10}{'- baseline':>12}")
    for name, times in results.items():
        median = statistics.median(times)
        print(
            f"{name:<24}{median * 1000:>8.0f}ms{min(times) * 1000:>8.0f}ms"
            f"{max(times) * 1000:>8.0f}ms{(median - baseline) * 1000:>10.0f}ms"
        )


if __name__ == "__main__":
    main()
