"""Headless Chromium driven by Selenium, offline: Debian's chromium and chromedriver by path
(Selenium Manager downloads nothing), a fresh profile per browser session.

:class:`Browser` wraps one WebDriver with what the portal's tests do: open a page, sign in,
wait for an element, read the console's errors, run axe-core on the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)
WAIT_S = 20
BLOCKING = frozenset({"serious", "critical"})
"""axe-core impacts that fail a page."""


def start_chromium(profile: Path) -> webdriver.Chrome:
    """A headless Chromium with its own profile folder ``profile``, logging the console."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager: never reach the network
    os.environ["SE_AVOID_STATS"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


@dataclass
class Browser:
    """One browser session (its own cookies) on the portal at ``url``."""

    driver: webdriver.Chrome
    url: str
    name: str = "browser"
    console: list[dict[str, Any]] = field(default_factory=list)

    def go(self, path: str) -> None:
        """Open ``path`` of the portal and wait for it to load."""
        self.driver.get(self.url + path)

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.url)

    def find(self, css: str) -> WebElement:
        """The first element matching ``css``, waiting for it to be there."""
        return WebDriverWait(self.driver, WAIT_S).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, css)), f"no {css} on {self.path}"
        )

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.find(css).text

    def until(self, check: Any, message: str = "") -> Any:
        """Wait until ``check(driver)`` is truthy; its value."""
        wait = WebDriverWait(
            self.driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)
        )  # an htmx swap may replace what ``check`` looks at
        return wait.until(check, message or f"on {self.path}")

    def sign_in(self, username: str, password: str) -> None:
        """Sign in through the sign-in form, as a person would type it."""
        self.go("/login")
        self.find("#sign-in-username").send_keys(username)
        self.find("#sign-in-password").send_keys(password, Keys.ENTER)
        self.until(lambda d: "/login" not in d.current_url, "still on the sign-in page")

    def console_errors(self, allowed: Iterable[str] = ()) -> list[str]:
        """SEVERE console entries since the last call (CSP violations among them), except
        those containing one of ``allowed``; every entry is kept in :attr:`console`."""
        entries = self.driver.get_log("browser")
        self.console.extend(entries)
        keep = tuple(allowed)
        return [
            e["message"]
            for e in entries
            if e["level"] == "SEVERE" and not any(a in e["message"] for a in keep)
        ]

    def axe_violations(self) -> list[str]:
        """axe-core's serious and critical violations on the page, one line each."""
        if not self.driver.execute_script("return typeof window.axe === 'object'"):
            self.driver.execute_script(AXE.read_text())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations), e => done(String(e)));"
        )
        assert isinstance(result, list), result
        return [
            f"{v['id']} ({v['impact']}): {v['help']} -- "
            + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            for v in result
            if v["impact"] in BLOCKING
        ]

    def focused(self) -> WebElement:
        return self.driver.switch_to.active_element

    def focus_ring(self, element: WebElement) -> str:
        """The focused element's visible focus indicator: its outline or box-shadow ('' when
        it has neither)."""
        style = self.driver.execute_script(
            "const s = getComputedStyle(arguments[0]);"
            "return [s.outlineStyle, s.outlineWidth, s.boxShadow];",
            element,
        )
        outline_style, outline_width, shadow = style
        if outline_style != "none" and outline_width not in ("0px", ""):
            return f"outline {outline_style} {outline_width}"
        return f"box-shadow {shadow}" if shadow and shadow != "none" else ""
