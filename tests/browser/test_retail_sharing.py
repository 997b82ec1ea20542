"""Scenario 3 (retail data shared across teams) walked through the portal in Chromium.

Two browser sessions: ``retail_owner`` (the steward of project ``retail``) and ``analyst``
(project ``analysts``). Users, projects and the three tables are set up through the API (the
pages have no upload form); every governance step goes through the pages: publish on the
asset page, find by search and request with a reason, approve in /requests (fully, then with
the scenario's row and column filters written there), query in /sql, revoke.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.browser.chromium import Browser
from tests.conftest import SCENARIOS

SCENARIO = (
    "select * from retail.store_sales sales left join retail.customer customer "
    "on sales.cust_id = customer.cust_id inner join retail.inventory inventory "
    "on sales.prod_id = inventory.prod_id where inventory.active = 'Y'"
)
TOTAL = SCENARIO.replace("select *", "select sum(sale_amount) as total", 1)
TABLES = ("customer", "inventory", "store_sales")
REASON = "need this data for analysis"
REFUSED_HTTP = ("status of 404", "status of 400")
"""Console lines of a refused statement's 4xx answer (the page shows its message)."""


@dataclass
class Result:
    """What /sql shows after a run: the caption, the column names and the cells, or the
    error message."""

    error: str | None = None
    caption: str = ""
    columns: tuple[str, ...] = ()
    cells: tuple[tuple[str, ...], ...] = ()


@pytest.fixture(scope="module")
def people(portal, open_browser) -> tuple[Browser, Browser]:
    """The steward and the analyst signed in, each in a browser of their own, with the
    scenario's projects and tables made through the API."""
    owner_token = portal.new_user("retail_owner", "retail owner password")
    analyst_token = portal.new_user("analyst", "analyst password")
    with portal.api() as admin:
        assert admin.post("/domains", json={"name": "Retail"}).status_code == 201
    with portal.api(owner_token) as owner:
        made = owner.post("/projects", json={"name": "retail", "domain": "Retail"})
        assert made.status_code == 201, made.text
        for table in TABLES:
            data = (SCENARIOS / f"retail_{table}.csv").read_bytes()
            uploaded = owner.post(
                "/projects/retail/tables",
                data={"name": table},
                files={"file": (f"{table}.csv", data)},
            )
            assert uploaded.status_code == 201, uploaded.text
    with portal.api(analyst_token) as analyst:
        made = analyst.post("/projects", json={"name": "analysts", "domain": "Retail"})
        assert made.status_code == 201, made.text
    steward, reader = open_browser("steward"), open_browser("analyst")
    steward.sign_in("retail_owner", "retail owner password")
    reader.sign_in("analyst", "analyst password")
    return steward, reader


def _clean(browser: Browser, allowed: tuple[str, ...] = ()) -> None:
    errors = browser.console_errors(allowed)
    assert not errors, f"{browser.name} on {browser.path}:\n" + "\n".join(errors)


def publish(steward: Browser, table: str) -> None:
    steward.go(f"/assets/retail/{table}")
    steward.find("#publishing button[type=submit]").click()
    steward.until(lambda d: "Published as revision 1" in steward.text("#publishing"))


def request_access(analyst: Browser, words: str, table: str) -> None:
    """Find ``retail.<table>``'s listing by searching ``words`` and request it for analysts."""
    analyst.go("/search")
    box = analyst.find("#search-q")
    box.clear()
    box.send_keys(words, Keys.ENTER)
    analyst.until(lambda d: words in analyst.text(".results-count"), "no results shown")
    link = analyst.until(
        lambda d: next(
            (
                a
                for a in d.find_elements(By.CSS_SELECTOR, ".result")
                if f"retail.{table}" in a.text and "listing" in a.text.lower()
            ),
            None,
        ),
        f"retail.{table} is not among the results",
    )
    link.find_element(By.CSS_SELECTOR, ".result-title a").click()
    assert analyst.text("h1") == f"Request access to retail.{table}"
    Select(analyst.find("#request-project")).select_by_value("analysts")
    analyst.find("#request-reason").send_keys(REASON)
    analyst.find("form.stacked button[type=submit]").click()
    analyst.until(lambda d: "/requests" in d.current_url)
    row = analyst.find("#outgoing tbody tr")  # newest first
    assert f"retail.{table}" in row.text and REASON in row.text and "requested" in row.text


def incoming(steward: Browser, table: str) -> str:
    """The element id of the waiting request for ``retail.<table>`` in /requests."""
    steward.go("/requests")
    for card in steward.find_all("article.request-card.status-requested"):
        if f"asks for retail.{table}" in card.text:
            assert REASON in card.text and "analyst" in card.text
            return card.get_attribute("id")
    raise AssertionError(f"no waiting request for retail.{table}")


def approve(steward: Browser, table: str) -> None:
    card = incoming(steward, table)
    steward.find(f"[id='{card}'] form.decision button[type=submit]").click()
    steward.until(lambda d: "/requests" in d.current_url and card in d.current_url)
    assert steward.find_all(".form-error") == []
    assert "Approved by retail_owner" in steward.text(f"[id='{card}']")


def run_sql(analyst: Browser, sql: str) -> Result:
    """Run ``sql`` in /sql as project analysts (typed and submitted with Ctrl+Enter)."""
    analyst.go("/sql")
    Select(analyst.find("#sql-project")).select_by_value("analysts")
    editor = analyst.find("#sql-text")
    editor.clear()
    editor.send_keys(sql)
    editor.send_keys(Keys.CONTROL, Keys.ENTER)

    def shown(driver):
        errors = driver.find_elements(By.CSS_SELECTOR, "#sql-run .sql-error-message")
        if errors:
            return Result(error=errors[0].text)
        done = driver.find_elements(By.CSS_SELECTOR, "#sql-statement:not([hx-trigger]) table")
        return bool(done) and done[0]

    found = analyst.until(shown, "no result or error shown")
    if isinstance(found, Result):
        return found
    caption = found.find_element(By.TAG_NAME, "caption").text
    names = found.find_elements(By.CSS_SELECTOR, "thead .sql-col-name")
    rows = found.find_elements(By.CSS_SELECTOR, "tbody tr")
    cells = tuple(tuple(td.text for td in row.find_elements(By.TAG_NAME, "td")) for row in rows)
    return Result(None, caption, tuple(n.text for n in names), cells)


def assert_refused(analyst: Browser) -> None:
    refused = run_sql(analyst, SCENARIO)
    assert refused.error == "table 'retail.store_sales' not found", refused
    _clean(analyst, REFUSED_HTTP)


def total(analyst: Browser) -> str:
    result = run_sql(analyst, TOTAL)
    assert result.columns == ("total",) and len(result.cells) == 1, result
    return result.cells[0][0]


def test_retail_sharing_through_the_pages(people) -> None:
    steward, analyst = people

    # The steward publishes the three tables on their asset pages.
    for table in TABLES:
        publish(steward, table)
    _clean(steward)

    # Before approval the analysts' query is refused as if the tables did not exist.
    assert_refused(analyst)

    # The analyst finds each listing by search and requests it with the reason.
    searches = (("sales", "store_sales"), ("customer", "customer"), ("inventory", "inventory"))
    for words, table in searches:
        request_access(analyst, words, table)
    _clean(analyst)

    # The steward approves the three fully: 13 rows, 2410.00, cust_email among the columns.
    for table in TABLES:
        approve(steward, table)
    _clean(steward)
    full = run_sql(analyst, SCENARIO)
    assert full.error is None and full.caption == "Rows 1 to 13 of 13", full
    assert len(full.cells) == 13 and "cust_email" in full.columns
    assert total(analyst) == "2410.00"
    _clean(analyst)

    # Asked again for store_sales and customer, the steward approves with filters written in
    # the decision form: rows prod_id = 1 on store_sales, customer without cust_email.
    request_access(analyst, "sales", "store_sales")
    request_access(analyst, "customer", "customer")
    card = incoming(steward, "store_sales")
    form = steward.find(f"[id='{card}'] form.decision")
    Select(form.find_element(By.CSS_SELECTOR, "select[id^='choice-row-']")).select_by_value("_new")
    name = form.find_element(By.CSS_SELECTOR, "input[id^='name-row-']")
    name.clear()
    name.send_keys("widget_a")
    form.find_element(By.CSS_SELECTOR, "textarea[id^='detail-row-']").send_keys("prod_id = 1")
    check = form.find_element(By.CSS_SELECTOR, ".filter-check")
    steward.until(lambda d: "Valid filter." in check.text, "the row filter was not checked")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    steward.until(lambda d: card in d.current_url)
    assert steward.find_all(".form-error") == []

    card = incoming(steward, "customer")
    form = steward.find(f"[id='{card}'] form.decision")
    choice = form.find_element(By.CSS_SELECTOR, "select[id^='choice-column-']")
    Select(choice).select_by_value("_new")
    name = form.find_element(By.CSS_SELECTOR, "input[id^='name-column-']")
    name.clear()
    name.send_keys("no_email")
    for column in ("cust_id", "cust_name", "cust_country"):
        form.find_element(By.CSS_SELECTOR, f"input[type=checkbox][value='{column}']").click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    steward.until(lambda d: card in d.current_url)
    assert steward.find_all(".form-error") == []
    grants = steward.text("#grants")
    assert 'widget_a: "prod_id" = 1' in grants  # as the filter service normalised it
    assert "no_email: cust_id, cust_name, cust_country" in grants
    _clean(steward)

    filtered = run_sql(analyst, SCENARIO)
    assert filtered.error is None and filtered.caption == "Rows 1 to 7 of 7", filtered
    assert "cust_email" not in filtered.columns and "cust_name" in filtered.columns
    assert not any("@" in cell for row in filtered.cells for cell in row)
    assert total(analyst) == "1500.00"
    customers = run_sql(analyst, "select * from retail.customer")
    assert customers.caption == "Rows 1 to 6 of 6" and "cust_email" not in customers.columns
    hidden = run_sql(analyst, "select cust_email from retail.customer")
    assert hidden.error and "example.com" not in hidden.error
    _clean(analyst, REFUSED_HTTP)

    # The steward revokes store_sales: the analysts' query is refused again.
    steward.go("/requests")
    steward.find('button[aria-label="Revoke analysts\'s access to retail.store_sales"]').click()
    steward.until(lambda d: "/requests" in d.current_url)
    assert "retail.store_sales to analysts" not in steward.text("#grants")
    _clean(steward)
    assert_refused(analyst)
    assert run_sql(analyst, "select * from retail.customer").caption == "Rows 1 to 6 of 6"
