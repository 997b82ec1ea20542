"""Server time of the portal's main pages on the demo data (issue #13: each <= 150 ms).

Usage: python benchmarks/portal.py [--runs 20] [--profile]

Loads the demo (``lakehold.demo.loader``, no federated source) into a fresh home in a
temporary folder, creates a signed-in administrator (a user with a password, signed in
through ``POST /login`` with the form's CSRF token, as a browser does) and an API token for
the same user. Then times each main page through the whole application in process
(``TestClient``: no network, no browser), the pages taking turns ``--runs`` times so that a
change of load hits them all: the wall and the process CPU time of each request. Baselines
measured in the same run: ``GET /health`` and, for each page, the API read it is built on
(e.g. ``GET /api/v1/catalog/search`` for ``/search``). Pages of routers in
``lakehold.web.routes.ROUTERS`` that this file does not name are found from the app and
timed too (GET routes without path parameters). Prints p50/p95 of each, the page's p50 over
its API's and over ``/health``'s, and one verdict a page. ``--profile`` prints the cProfile
of the slowest page (by CPU p50). Not run in the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

GOAL_SECONDS = 0.150  # issue #13: server time of a main page
USER, PASSWORD = "bench", "a long benchmark password"
QUERY = "sales"


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    failure: str | None = None

    def p(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    api: str | None  # the API read the page is built on (None: /health is its baseline)


def _pages(namespace: str) -> list[Page]:
    """The main pages on the demo data, each with its API equivalent."""
    from lakehold.demo import loader

    derived = f"dataset:{namespace}:{loader.TEAM}.{loader.DERIVED}"
    asset = f"{loader.SHOP}/store_sales"
    return [
        Page("/", "/", "/api/v1/catalog/search?" + urlencode({"scope": "inventory", "limit": 6})),
        Page(
            "/search?q=",
            "/search?" + urlencode({"q": QUERY}),
            "/api/v1/catalog/search?" + urlencode({"q": QUERY}),
        ),
        Page(
            "/assets/<p>/<t>",
            f"/assets/{asset}",
            f"/api/v1/projects/{loader.SHOP}/assets/store_sales",
        ),
        Page("  its preview (htmx)", f"/assets/{asset}/preview", None),
        Page(
            "/assets/<p>/<t>/lineage",
            f"/assets/{asset}/lineage",
            f"/api/v1/projects/{loader.SHOP}/assets/store_sales/lineage",
        ),
        Page(
            "/lineage?node=",
            "/lineage?" + urlencode({"node": derived}),
            "/api/v1/lineage?" + urlencode({"nodeId": derived}),
        ),
        Page(
            "  its graph (fetched)",
            "/lineage/graph?" + urlencode({"node": derived, "depth": 2}),
            "/api/v1/lineage?" + urlencode({"nodeId": derived, "depth": 2}),
        ),
        Page("/requests", "/requests", "/api/v1/subscription-requests"),
        Page("/sql", "/sql", "/api/v1/statements"),
        Page("/sessions", "/sessions", "/api/v1/sessions"),
    ]


def _other_pages(known: list[Page]) -> list[Page]:
    """GET pages of ROUTERS that :func:`_pages` does not name: those without path
    parameters, and those whose only one is ``{project}`` (the demo's retail project)."""
    from lakehold.demo import loader
    from lakehold.web.routes import ROUTERS

    named = {page.path.split("?")[0] for page in known} | {"/login", "/logout"}
    found = []
    for module in ROUTERS:
        for route in module.router.routes:
            if not isinstance(route, APIRoute) or "GET" not in (route.methods or ()):
                continue
            path = route.path.replace("{project}", loader.SHOP)
            if "{" in path or path in named:
                continue
            if any(part in path for part in ("/fragment", "/graph", "/expand", "/columns")):
                continue  # parts of a page, not pages
            named.add(path)
            found.append(Page(route.path, path, None))
    return found


def _demo(home: Path):
    """A runtime on a new home with the demo loaded, a password user and its API token."""
    from lakehold.config import Settings
    from lakehold.demo.loader import load_demo
    from lakehold.runtime import Runtime

    runtime = Runtime(Settings(home=home))
    created = runtime.security.bootstrap()
    assert created is not None
    admin = created[0]
    load_demo(runtime, admin, None)
    runtime.security.create_user(admin, USER, password=PASSWORD, is_admin=True)
    token = runtime.security.create_token(admin, "bench", username=USER).value
    assert token is not None
    return runtime, token


def _sign_in(client: TestClient) -> None:
    form = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found, form.text
    data = {"username": USER, "password": PASSWORD, "csrf_token": found.group(1), "next": "/"}
    done = client.post("/login", data=data)
    assert done.status_code == 303, done.text


def _time(client: TestClient, path: str, timing: Timing, headers: dict[str, str]) -> None:
    if timing.failure:
        return
    cpu, start = time.process_time(), time.perf_counter()
    response = client.get(path, headers=headers)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    if response.status_code != 200:
        timing.failure = f"HTTP {response.status_code}"
        return
    timing.wall.append(wall)
    timing.cpu.append(used)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def _profile(app, page: Page, runs: int) -> None:
    """cProfile ``runs`` requests of ``page`` in every thread that serves them: a new
    client's event loop thread and its worker threads (sync routes run there)."""
    profilers: list[cProfile.Profile] = []

    def start(*_: object) -> None:  # the first profile event of a new thread
        sys.setprofile(None)
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()

    threading.setprofile(start)
    try:
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
            _sign_in(client)
            for profiler in profilers:
                profiler.clear()  # the sign-in (a password hash) is not the page's
            for _ in range(runs):
                client.get(page.path)
    finally:
        threading.setprofile(None)
    for profiler in profilers:
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(*profilers, stream=out) if profilers else None
    if stats is None:
        return
    stats.strip_dirs().sort_stats("cumulative").print_stats(40)
    print(f"\nprofile of {page.name} ({runs} requests, server threads):")
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="profile the slowest page")
    args = parser.parse_args(argv)

    from lakehold.api.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        runtime, token = _demo(Path(folder) / "home")
        print(f"demo loaded in {time.perf_counter() - started:.1f} s")
        try:
            app = create_app(runtime)
            with (
                TestClient(
                    app,
                    base_url="https://testserver",
                    follow_redirects=False,
                    raise_server_exceptions=False,  # a failing page is reported, not raised
                ) as browser,
                TestClient(
                    app, base_url="https://testserver", raise_server_exceptions=False
                ) as api,
            ):
                _sign_in(browser)
                pages = _pages(runtime.settings.lineage_namespace)
                pages += _other_pages(pages)
                bearer = {"Authorization": f"Bearer {token}"}
                timings = {"/health": Timing()}
                for page in pages:
                    timings[page.path] = Timing()
                    if page.api:
                        timings[page.api] = Timing()
                for path in timings:  # warm up: imports, template compilation, caches
                    browser.get(path, headers=bearer if path.startswith("/api/") else {})
                for _ in range(args.runs):
                    _time(api, "/health", timings["/health"], {})
                    for page in pages:
                        _time(browser, page.path, timings[page.path], {})
                        if page.api:
                            _time(api, page.api, timings[page.api], bearer)
                _report(pages, timings, args.runs)
                if args.profile:
                    slowest = max(
                        (p for p in pages if timings[p.path].cpu),
                        key=lambda p: statistics.median(timings[p.path].cpu),
                    )
                    _profile(app, slowest, args.runs)
        finally:
            runtime.close()
    return 0


def _report(pages: list[Page], timings: dict[str, Timing], runs: int) -> None:
    health = timings["/health"]
    print(f"\n{runs} runs each; times in ms (wall p50, p95; CPU p50, p95)")
    print(f"{'request':<44} {'wall p50':>8} {'p95':>7} {'cpu p50':>8} {'p95':>7}")

    def row(label: str, timing: Timing) -> None:
        if timing.failure:
            print(f"{label:<44} failed: {timing.failure}")
            return
        wall, cpu = timing.wall, timing.cpu
        print(
            f"{label[:44]:<44} {_ms(statistics.median(wall))} {_ms(timing.p(wall, 0.95))}"
            f" {_ms(statistics.median(cpu))} {_ms(timing.p(cpu, 0.95))}"
        )

    row("GET /health", health)
    for page in pages:
        row(f"page {page.path}", timings[page.path])
        if page.api:
            row(f"  api {page.api}", timings[page.api])
    print(
        "\nverdicts (goal: server time <= 150 ms, judged on CPU p50: the page's own work, "
        "steady under load; wall p50 shown; ratios of CPU p50)"
    )
    health_cpu = statistics.median(health.cpu)
    for page in pages:
        timing = timings[page.path]
        if timing.failure:
            print(f"FAIL  {page.name:<26} {timing.failure}")
            continue
        cpu = statistics.median(timing.cpu)
        ratios = f"x{cpu / health_cpu:.1f} /health"
        api = timings.get(page.api) if page.api else None
        if api is not None and api.cpu:
            ratios += f", x{cpu / statistics.median(api.cpu):.1f} its API"
        verdict = "PASS" if cpu <= GOAL_SECONDS else "MISS"
        print(
            f"{verdict}  {page.name:<26} CPU p50 {cpu * 1000:.0f} ms, p95 "
            f"{timing.p(timing.cpu, 0.95) * 1000:.0f} ms; wall p50 "
            f"{statistics.median(timing.wall) * 1000:.0f} ms ({ratios})"
        )


if __name__ == "__main__":
    sys.exit(main())
