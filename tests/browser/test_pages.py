"""Every portal page in Chromium: no console errors (CSP violations included), no serious or
critical axe-core violations, and the sign-in form and the search box work by keyboard with a
visible focus.

One server and one signed-in browser for the module: ``owner`` owns project ``shop`` (table
``orders``, published) and ``lab``; ``buyer`` has asked for ``shop.orders``, so the owner's
/requests has a decision form.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from tests.browser.chromium import Browser

PASSWORD = "the owner's password"
ORDERS = b"order_id,customer,amount,placed_on\n1,ann,12.50,2026-01-02\n2,bob,7.25,2026-01-03\n"
REDOC_LOGO = "cdn.redoc.ly/redoc/logo-mini.svg"
"""ReDoc's own logo, which it asks its CDN for (offline: refused by the CSP)."""


@pytest.fixture(scope="module")
def listing(portal) -> str:
    """The id of ``shop.orders``'s listing, with the data set up through the API."""
    portal.new_user("owner", PASSWORD)
    buyer = portal.new_user("buyer", "the buyer's password")
    with portal.api() as admin:
        assert admin.post("/domains", json={"name": "Sales"}).status_code == 201
        token = admin.post("/tokens", json={"name": "owner-setup", "username": "owner"})
    with portal.api(token.json()["value"]) as api:
        for project in ("shop", "lab"):
            made = api.post("/projects", json={"name": project, "domain": "Sales"})
            assert made.status_code == 201, made.text
        files = {"file": ("orders.csv", ORDERS)}
        uploaded = api.post("/projects/shop/tables", data={"name": "orders"}, files=files)
        assert uploaded.status_code == 201, uploaded.text
        published = api.post("/projects/shop/assets/orders/publish")
        assert published.status_code == 201, published.text
        listing_id = published.json()["id"]
    with portal.api(buyer) as api:
        assert api.post("/projects", json={"name": "desk", "domain": "Sales"}).status_code == 201
        body = {"project": "desk", "listings": [listing_id], "reason": "monthly report"}
        asked = api.post("/subscription-requests", json=body)
        assert asked.status_code == 201, asked.text
    return listing_id


@pytest.fixture(scope="module")
def anonymous(open_browser) -> Browser:
    return open_browser("anonymous")


@pytest.fixture(scope="module")
def owner(open_browser, listing) -> Browser:
    browser = open_browser("owner")
    browser.sign_in("owner", PASSWORD)
    return browser


def signed_in_pages(listing: str) -> list[str]:
    return [
        "/",
        "/search",
        "/search?q=orders",
        "/assets/shop/orders",
        "/assets/shop/orders/lineage",
        "/lineage",
        "/requests",
        f"/listings/{listing}/request",
        "/sql",
        "/sessions",
        "/assets/shop/no_such_table",
        # pages added since the scenario's (ROUTERS)
        "/pivot",
        "/account",
        "/projects/shop/sources",
        "/organisation",
        *(
            f"/organisation/{part}"
            for part in ("groups", "projects", "glossaries", "forms", "rules")
        ),
    ]


def check_page(browser: Browser, allowed: tuple[str, ...] = (), *, axe: bool = True) -> None:
    errors = browser.console_errors(allowed)
    assert not errors, f"console errors on {browser.path}:\n" + "\n".join(errors)
    if axe:
        violations = browser.axe_violations()
        assert not violations, f"axe on {browser.path}:\n" + "\n".join(violations)


@pytest.mark.parametrize("path", ["/", "/login", "/search"])
def test_anonymous_pages(anonymous, path) -> None:
    anonymous.go(path)
    check_page(anonymous)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_without_errors(anonymous, path) -> None:
    """The vendored Swagger UI and ReDoc (their own markup: no axe here)."""
    anonymous.go(path)
    anonymous.find("#swagger-ui .information-container" if path == "/docs" else "redoc h1")
    check_page(anonymous, (REDOC_LOGO,) if path == "/redoc" else (), axe=False)


def test_signed_in_pages(owner, listing) -> None:
    failures = []
    for path in signed_in_pages(listing):
        owner.go(path)
        try:
            # A missing asset answers 404: the browser logs the page's own status.
            check_page(owner, ("status of 404",) if "no_such" in path else ())
        except AssertionError as failure:
            failures.append(str(failure))
    assert not failures, "\n\n".join(failures)


def test_sql_result_and_search_results(owner) -> None:
    """Pages after htmx swapped a result in: a statement's grid, search results."""
    owner.go("/sql")
    editor = owner.find("#sql-text")
    editor.clear()
    editor.send_keys("select * from shop.orders order by order_id")
    owner.find("#sql-form button[type=submit]").click()
    caption = owner.find("#sql-statement:not([hx-trigger]) table caption")
    assert caption.text == "Rows 1 to 2 of 2"
    check_page(owner)
    owner.go("/search")
    owner.find("#search-q").send_keys("orders", Keys.ENTER)
    owner.until(lambda d: "orders" in owner.text(".results-count"))
    check_page(owner)
    # Ticking a filter searches again at once (one request: no aborted one in the console).
    owner.find(".facet input[type=checkbox]").click()
    owner.until(lambda d: "&" in d.current_url and "q=orders" in d.current_url, "no new search")
    owner.find(".results-count")
    check_page(owner)


def tab_to(browser: Browser, css: str, *, most: int = 40) -> WebElement:
    """Press TAB from the top of the page until the element ``css`` has the focus."""
    browser.driver.execute_script("document.activeElement && document.activeElement.blur()")
    target = browser.find(css)
    for _ in range(most):
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        if browser.focused() == target:
            assert browser.focus_ring(target), f"no visible focus on {css}"
            return target
    raise AssertionError(f"{css} not reached with {most} TABs on {browser.path}")


def type_keys(browser: Browser, *keys: str) -> None:
    ActionChains(browser.driver).send_keys(*keys).perform()


def test_sign_in_and_search_by_keyboard(open_browser, listing) -> None:
    browser = open_browser("keyboard")
    browser.go("/login")
    skip = tab_to(browser, ".skip-link")
    assert skip.text == "Skip to content"
    tab_to(browser, "#sign-in-username")
    type_keys(browser, "owner", Keys.TAB)
    password = browser.focused()
    assert password.get_attribute("id") == "sign-in-password" and browser.focus_ring(password)
    type_keys(browser, PASSWORD, Keys.TAB)
    button = browser.focused()
    assert button.text == "Sign in" and browser.focus_ring(button)
    type_keys(browser, Keys.ENTER)
    browser.until(lambda d: "/login" not in d.current_url, "not signed in")
    assert browser.find_all("button.link-button")[0].text == "Sign out"

    browser.go("/search")
    tab_to(browser, "#search-q")
    type_keys(browser, "orders", Keys.ENTER)
    browser.until(lambda d: "orders" in browser.text(".results-count"), "no results")
    link = tab_to(browser, ".result-title a")
    target = link.get_attribute("href")
    assert "orders" in link.text
    type_keys(browser, Keys.ENTER)
    browser.until(lambda d: d.current_url == target, f"not on {target}")
    assert "orders" in browser.text("h1")
    check_page(browser)
