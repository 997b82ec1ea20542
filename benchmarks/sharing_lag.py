"""Delta Sharing (ADR 37): the refresh lag of a filtered grant, with ``lakehold serve`` and its
refresher running, against baselines measured in the same run.

Usage: PYTHONPATH=. python benchmarks/sharing_lag.py [--interval 5] [--commits 5]

Starts ``lakehold serve`` (``LAKEHOLD_SHARING_REFRESH_SECONDS=--interval``) on a fresh home,
shares scenario 3's ``store_sales`` with a recipient through the row filter ``prod_id = 1``,
then ``--commits`` times appends a row to the source over HTTP (at a random moment of the
refresher's cycle) and measures:

1. the lag: from the append's answer to the snapshot's next version on disk, with no recipient
   reading (the refresher's work): ratio lag / interval (about 0.5 expected: a commit lands on
   average half an interval before the next pass);
2. a recipient's query right after a commit, which catches the snapshot up before answering
   (what a reader sees: never a stale version), vs the same query with nothing to catch up:
   ratio catch-up query / plain query.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from tests.conftest import SCENARIOS
from tests.servers import free_port, serve_process

HEADER = b"sale_id,cust_id,sale_date,sale_amount,prod_id,last_purchase_date\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--commits", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        env = {
            **os.environ,
            "LAKEHOLD_HOME": str(home),
            "LAKEHOLD_PORT": str(free_port()),
            "LAKEHOLD_SHARING_REFRESH_SECONDS": str(args.interval),
        }
        for name in ("LAKEHOLD_DATABASE_URL", "LAKEHOLD_URL", "LAKEHOLD_TOKEN"):
            env.pop(name, None)
        with serve_process(env, Path(scratch) / "serve.log") as (url, _):
            token = (home / "admin_token").read_text().strip()
            owner = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
            recipient, snapshot = _share(owner, home)
            lags = [_lag(owner, snapshot, i, args.interval) for i in range(args.commits)]
            plain = [_query(url, recipient) for _ in range(args.commits)]
            caught = []
            for i in range(args.commits):
                _append(owner, 100 + i)
                caught.append(_query(url, recipient))
    lag = statistics.mean(lags)
    print(f"refresh lag (commit -> snapshot version), interval {args.interval:g} s:")
    print(f"  mean {lag:.2f} s, max {max(lags):.2f} s over {args.commits} commits")
    print(f"  ratio lag / interval: {lag / args.interval:.2f}")
    plain_ms, caught_ms = statistics.median(plain) * 1000, statistics.median(caught) * 1000
    print(f"recipient query: plain {plain_ms:.1f} ms, right after a commit {caught_ms:.1f} ms")
    print(f"  ratio catch-up query / plain query: {caught_ms / plain_ms:.2f}")


def _share(owner: httpx.Client, home: Path) -> tuple[str, Path]:
    """Scenario 3's store_sales shared through ``prod_id = 1``: the recipient's token and
    the snapshot's folder."""
    _ok(owner.post("/api/v1/domains", json={"name": "Retail"}))
    _ok(owner.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"}))
    data = (SCENARIOS / "retail_store_sales.csv").read_bytes()
    _ok(
        owner.post(
            "/api/v1/projects/retail/tables",
            data={"name": "store_sales"},
            files={"file": ("store_sales.csv", data)},
        )
    )
    _ok(owner.post("/api/v1/projects/retail/assets/store_sales/publish"))
    _ok(
        owner.post(
            "/api/v1/projects/retail/assets/store_sales/filters",
            json={"name": "widget_a", "kind": "row", "expression": "prod_id = 1"},
        )
    )
    _ok(owner.post("/api/v1/shares", json={"name": "retail_share", "project": "retail"}))
    _ok(owner.post("/api/v1/shares/retail_share/tables", json={"asset": "store_sales"}))
    made = _ok(
        owner.post(
            "/api/v1/share-recipients",
            json={"project": "retail", "name": "acme", "organisation": "ACME"},
        )
    )
    asked = _ok(
        owner.post(
            "/api/v1/share-grants",
            json={"share": "retail_share", "recipient": made["recipient"]["id"], "reason": "b"},
        )
    )
    table = {"table": "retail.store_sales", "row_filter": "widget_a"}
    _ok(owner.post(f"/api/v1/share-grants/{asked['id']}/approve", json={"tables": [table]}))
    folders = [p for p in (home / "warehouse" / ".sharing").iterdir() if p.is_dir()]
    return made["profile"]["bearerToken"], folders[0]


def _append(owner: httpx.Client, sale: int) -> None:
    row = f"{1000 + sale},1,2023-03-01,10.00,1,2023-03-01\n".encode()
    _ok(
        owner.post(
            "/api/v1/projects/retail/tables/store_sales/writes",
            data={"mode": "append"},
            files={"file": ("row.csv", HEADER + row)},
        )
    )


def _lag(owner: httpx.Client, snapshot: Path, sale: int, interval: float) -> float:
    """One commit's lag, the commit made at a random moment of the refresher's cycle."""
    time.sleep(random.uniform(0, interval))
    before = _latest(snapshot)
    _append(owner, sale)
    committed = time.perf_counter()
    while _latest(snapshot) == before:
        time.sleep(0.01)
    return time.perf_counter() - committed


def _latest(snapshot: Path) -> int:
    names = os.listdir(snapshot / "_delta_log")
    return max(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())


def _query(url: str, token: str) -> float:
    started = time.perf_counter()
    answer = httpx.post(
        f"{url}/delta-sharing/shares/retail_share/schemas/retail/tables/store_sales/query",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return time.perf_counter() - started


def _ok(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


if __name__ == "__main__":
    main()
