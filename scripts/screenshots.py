"""Screenshots of the portal's main pages on the demo data, for the README.

Usage: python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

Loads the demo (``lakehold demo --no-serve``, no federated source) into a fresh
``LAKEHOLD_HOME`` in a temporary folder, gives a new administrator a password through
``POST /api/v1/users`` (with the admin token the demo saved), starts ``lakehold serve`` on a
free port, signs in through the login form in headless Chromium (Selenium and chromedriver:
``apt-get install chromium chromium-driver``, ``pip install selenium``) and saves a PNG of each
page at 1280x900: home, search, an asset, its lineage, requests and the SQL editor with a
result and its chart (that one as tall as its content). Not run in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from lakehold.cli.session import ADMIN_TOKEN_FILE

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "portal", "a long screenshot password"
WIDTH, HEIGHT = 1280, 900
TALLEST = 1800  # the SQL page's height, at most
SQL = (
    "select region_name, count(*) as policies, sum(insured_value) as insured\n"
    "from insurance.policies\ngroup by region_name\norder by insured desc"
)
SETTLED = (  # no htmx request in flight, the page loaded
    "return document.readyState === 'complete' && !document.querySelector('.htmx-request')"
)


def _lakehold() -> list[str]:
    script = Path(sys.executable).with_name("lakehold")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lakehold.cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _post_json(url: str, token: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


@contextmanager
def _demo_server(home: Path) -> Iterator[str]:
    """``lakehold serve`` on a new demo home, with a password user; its base URL."""
    env = {**os.environ, "LAKEHOLD_HOME": str(home), "LAKEHOLD_DEMO_SOURCE": "off"}
    env.pop("LAKEHOLD_TOKEN", None)
    env.pop("LAKEHOLD_URL", None)
    port = _free_port()
    subprocess.run([*_lakehold(), "demo", "--no-serve"], env=env, check=True, capture_output=True)
    token = (home / ADMIN_TOKEN_FILE).read_text().strip()  # the admin token the demo saved
    log = (home / "serve.log").open("wb")
    server = subprocess.Popen(
        [*_lakehold(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/health")
        body = {"username": USER, "password": PASSWORD, "is_admin": True}
        _post_json(f"http://127.0.0.1:{port}/api/v1/users", token, body)
        yield f"http://localhost:{port}"  # browsers keep Secure cookies on http://localhost
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def _browser(chromium: str) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        f"--window-size={WIDTH},{HEIGHT}",
        "--hide-scrollbars",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def _viewport(driver: WebDriver, width: int, height: int) -> None:
    """Size the window so that the page itself is ``width`` x ``height``."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * width - int(inner[0]), 2 * height - int(inner[1]))


def _settle(driver: WebDriver, ready: Callable[[WebDriver], object] | None = None) -> None:
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: d.execute_script(SETTLED))
    if ready is not None:
        wait.until(ready)
    time.sleep(0.5)  # transitions, layout of drawn graphs


def _found(css: str) -> Callable[[WebDriver], bool]:
    return lambda d: bool(d.find_elements(By.CSS_SELECTOR, css))


def _sign_in(driver: WebDriver, base: str) -> None:
    driver.get(f"{base}/login")
    driver.find_element(By.NAME, "username").send_keys(USER)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)
    _viewport(driver, WIDTH, HEIGHT)


def _shot(driver: WebDriver, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    driver.save_screenshot(str(path))
    print(
        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
        f"{path.stat().st_size // 1024} KB"
    )


def _sql(driver: WebDriver, base: str, out: Path) -> None:
    """The editor with the demo's first query run and its bar chart drawn, page-tall."""
    driver.get(f"{base}/sql")
    _settle(driver)
    editor = driver.find_element(By.ID, "sql-text")
    editor.clear()
    editor.send_keys(SQL)
    driver.find_element(By.CSS_SELECTOR, "#sql-form button[type=submit]").click()
    WebDriverWait(driver, 60).until(_found("#sql-chart-canvas"))
    driver.find_element(By.CSS_SELECTOR, ".sql-chart-form button[type=submit]").click()
    _settle(driver, _found("#sql-chart-canvas canvas"))
    height = driver.execute_script("return document.documentElement.scrollHeight")
    _viewport(driver, WIDTH, min(max(HEIGHT, int(height)), TALLEST))
    driver.execute_script("window.scrollTo(0, 0)")
    _settle(driver)
    _shot(driver, out, "sql")
    _viewport(driver, WIDTH, HEIGHT)


def take(base: str, out: Path, chromium: str) -> None:
    """Sign in and save each page's screenshot into ``out``."""
    driver = _browser(chromium)
    try:
        _sign_in(driver, base)
        pages: list[tuple[str, str, Callable[[WebDriver], object] | None]] = [
            ("home", "/", None),
            ("search", "/search?q=sales", None),
            ("asset", "/assets/retail/store_sales", _found("#asset-heading")),
            (
                "lineage",
                "/assets/analysts/widget_customers/lineage",
                _found("#lineage-graph canvas"),
            ),
            ("requests", "/requests", None),
        ]
        for name, path, ready in pages:
            driver.get(base + path)
            _settle(driver, ready)
            _shot(driver, out, name)
        _sql(driver, base, out)
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, _demo_server(Path(folder) / "home") as base:
        take(base, args.out.resolve(), args.chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
