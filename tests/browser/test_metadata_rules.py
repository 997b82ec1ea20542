"""Scenario 4 (metadata enforcement on publish and subscribe) walked through the portal in
Chromium.

Two browser sessions: ``marketer`` (owner of domain unit Corp/Marketing and of project
``marketing``) and ``analyst`` (project ``analytics`` in the domain's root unit). Users, the
domain, the unit, the projects and the table are set up through the API (the pages have no
upload form); the rest goes through the pages: the forms and rules in /organisation, the
refused publish naming each missing field, the form filled in on the asset page (a wrong value
first), the publish, the search by the Region value, the request refused without the Use Case
and sent with it, and the Use Case shown to the owner in /requests.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.browser.chromium import Browser

CAMPAIGNS = (
    b"campaign_id,name,channel,budget\n1,Spring launch,email,12000\n2,Summer sale,social,8000\n"
)
ASSET = "/assets/marketing/marketing_campaign_asset"
QUALIFIED = "marketing.marketing_campaign_asset"
REQUIRED = ("Model Year", "Region", "Compliance Status")
REGION = "Northern Europe"
USE_CASE = "Measure campaign uplift by region"
REASON = "campaign analysis"
REFUSED_HTTP = ("status of 400",)
"""Console line of a refused form's 400 answer (the page shows its messages)."""


@pytest.fixture(scope="module")
def people(portal, open_browser) -> tuple[Browser, Browser]:
    """The unit's owner and the analyst signed in, each in a browser of their own, with the
    domain, unit, projects and table made through the API."""
    marketer_token = portal.new_user("marketer", "marketer password")
    analyst_token = portal.new_user("analyst", "analyst password")
    with portal.api() as admin:
        assert admin.post("/domains", json={"name": "Corp"}).status_code == 201
        unit = admin.post("/domain-units", json={"domain": "Corp", "name": "Marketing"})
        assert unit.status_code == 201, unit.text
        owner = admin.post(f"/domain-units/{unit.json()['id']}/owners", json={"user": "marketer"})
        assert owner.status_code == 201, owner.text
    with portal.api(marketer_token) as marketer:
        body = {"name": "marketing", "domain": "Corp", "domain_unit": "Marketing"}
        made = marketer.post("/projects", json=body)
        assert made.status_code == 201, made.text
        uploaded = marketer.post(
            "/projects/marketing/tables",
            data={"name": "marketing_campaign_asset"},
            files={"file": ("marketing_campaign_asset.csv", CAMPAIGNS)},
        )
        assert uploaded.status_code == 201, uploaded.text
    with portal.api(analyst_token) as analyst:
        made = analyst.post("/projects", json={"name": "analytics", "domain": "Corp"})
        assert made.status_code == 201, made.text
    steward, reader = open_browser("marketer"), open_browser("analyst")
    steward.sign_in("marketer", "marketer password")
    reader.sign_in("analyst", "analyst password")
    return steward, reader


def _clean(browser: Browser, allowed: tuple[str, ...] = ()) -> None:
    errors = browser.console_errors(allowed)
    assert not errors, f"{browser.name} on {browser.path}:\n" + "\n".join(errors)


def _type(element: WebElement, value: str) -> None:
    element.clear()
    element.send_keys(value)


def create_form(owner: Browser, name: str, fields: list[dict[str, object]]) -> None:
    """Create metadata form ``name`` owned by Corp/Marketing in /organisation/forms."""
    owner.go("/organisation/forms")
    form = owner.find("form[action$='/organisation/forms']")
    Select(owner.find("#form-unit")).select_by_visible_text("Corp/Marketing")
    _type(owner.find("#form-name"), name)
    for i, field in enumerate(fields):
        _type(owner.find(f"#field-{i}-name"), str(field["name"]))
        Select(owner.find(f"#field-{i}-type")).select_by_value(str(field["type"]))
        for flag in ("required", "searchable"):
            if field.get(flag):
                owner.find(f"#field-{i}-{flag}").click()
        if "allowed" in field:
            _type(owner.find(f"#field-{i}-allowed"), str(field["allowed"]))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    owner.until(lambda d: "/organisation/forms/" in d.current_url, "the form was not created")
    assert owner.text("h1") == f"Metadata form {name}"
    shown = owner.text("#fields")
    for field in fields:
        assert str(field["name"]) in shown


def create_rule(owner: Browser, name: str, action: str, form_name: str) -> str:
    """Create rule ``name`` on Corp/Marketing in /organisation/rules; its required fields."""
    owner.go("/organisation/rules")
    Select(owner.find("#rule-unit")).select_by_visible_text("Corp/Marketing")
    _type(owner.find("#rule-name"), name)
    Select(owner.find("#rule-action")).select_by_value(action)
    Select(owner.find("#rule-form")).select_by_visible_text(form_name)
    owner.find("form[action$='/organisation/rules'] button[type=submit]").click()
    owner.until(lambda d: "/organisation/rules/" in d.current_url, "the rule was not created")
    assert owner.text("h1") == f"Metadata rule {name}"
    return owner.text(".org-facts")


def publish_form_on_page(owner: Browser) -> WebElement:
    """The publish_form's form on the asset page."""
    return owner.until(
        lambda d: next(
            (
                f
                for f in d.find_elements(By.CSS_SELECTOR, "form.asset-form")
                if "publish_form" in f.find_element(By.TAG_NAME, "legend").text
            ),
            None,
        ),
        "no publish_form on the asset page",
    )


def fill_publish_form(owner: Browser, model_year: str, compliance: str) -> None:
    form = publish_form_on_page(owner)
    _type(form.find_element(By.CSS_SELECTOR, "[name='value:Model Year']"), model_year)
    _type(form.find_element(By.CSS_SELECTOR, "[name='value:Region']"), REGION)
    choice = form.find_element(By.CSS_SELECTOR, "[name='value:Compliance Status']")
    Select(choice).select_by_value(compliance)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def click_publish(owner: Browser) -> None:
    owner.find("#publishing form[action$='/publish'] button[type=submit]").click()


def find_listing(analyst: Browser, words: str) -> None:
    """Search ``words`` and open the asset's listing (its "Request access" page)."""
    analyst.go("/search")
    box = analyst.find("#search-q")
    box.clear()
    box.send_keys(words, Keys.ENTER)
    analyst.until(lambda d: words in analyst.text(".results-count"), "no results shown")
    hit = analyst.until(
        lambda d: next(
            (
                r
                for r in d.find_elements(By.CSS_SELECTOR, ".result")
                if QUALIFIED in r.text and "listing" in r.text.lower()
            ),
            None,
        ),
        f"{QUALIFIED} is not among the results for {words}",
    )
    hit.find_element(By.CSS_SELECTOR, ".result-title a").click()
    assert analyst.text("h1") == f"Request access to {QUALIFIED}"


def test_metadata_rules_through_the_pages(people) -> None:
    owner, analyst = people

    # The Marketing owner defines publish_form and the publishing rule in /organisation.
    create_form(
        owner,
        "publish_form",
        [
            {"name": "Model Year", "type": "number", "required": True, "searchable": True},
            {"name": "Region", "type": "text", "required": True, "searchable": True},
            {
                "name": "Compliance Status",
                "type": "one_of",
                "required": True,
                "allowed": "compliant, pending, non-compliant",
            },
        ],
    )
    facts = create_rule(owner, "publish needs publish_form", "publish", "publish_form")
    assert "Model Year, Region, Compliance Status" in facts
    _clean(owner)

    # Publishing on the asset page is refused, naming each missing field; not published.
    owner.go(ASSET)
    click_publish(owner)
    problems = owner.text("#publish-problems")
    for name in REQUIRED:
        assert f"publish_form: {name} is required" in problems, problems
    assert "Not published" in owner.text("#publishing")
    _clean(owner, REFUSED_HTTP)

    # A wrong value (Model Year is a number) is named next to its field; nothing is saved.
    fill_publish_form(owner, "next year", "compliant")
    form = publish_form_on_page(owner)
    errors = [e.text for e in form.find_elements(By.CSS_SELECTOR, ".field-error")]
    assert errors == ["Model Year must be a number, not 'next year'"], errors
    year = form.find_element(By.CSS_SELECTOR, "[name='value:Model Year']")
    assert year.get_attribute("aria-invalid") == "true"
    assert year.get_attribute("value") == "next year"  # what was typed is kept
    _clean(owner, REFUSED_HTTP)

    # The owner fills the form in properly; publishing succeeds with the values.
    fill_publish_form(owner, "2024", "compliant")
    owner.until(lambda d: "saved=" in d.current_url, "the form was not saved")
    assert "Saved." in publish_form_on_page(owner).text
    click_publish(owner)
    owner.until(lambda d: "Published as revision 1" in owner.text("#publishing"))
    assert owner.find_all("#publish-problems") == []
    _clean(owner)

    # The analyst finds the listing by its Region value and opens its request form, before
    # the subscription rule exists: no Use Case field on it yet.
    find_listing(analyst, REGION)
    assert analyst.find_all("fieldset.metadata-form") == []
    _clean(analyst)

    # The owner adds subscribe_form (Use Case, required) and the subscription rule.
    create_form(owner, "subscribe_form", [{"name": "Use Case", "type": "text", "required": True}])
    facts = create_rule(owner, "requests need a use case", "subscription_request", "subscribe_form")
    assert "Use Case" in facts
    _clean(owner)

    # Sent without a Use Case, the request is refused with the field named next to its input.
    Select(analyst.find("#request-project")).select_by_value("analytics")
    _type(analyst.find("#request-reason"), REASON)
    analyst.find("form.stacked button[type=submit]").click()
    assert "Use Case" in analyst.text("#request-error")
    use_case = analyst.find("fieldset.metadata-form input[name='forms.subscribe_form.Use Case']")
    assert use_case.get_attribute("aria-invalid") == "true"
    described = analyst.find(f"[id='{use_case.get_attribute('aria-describedby')}']")
    assert "is required" in described.text, described.text
    assert analyst.find("#request-reason").get_attribute("value") == REASON  # kept
    # Now the field is on the page, the browser itself will not send it empty.
    assert analyst.driver.execute_script("return arguments[0].validity.valueMissing", use_case)
    _clean(analyst, REFUSED_HTTP)

    # With the Use Case the request goes through.
    use_case.send_keys(USE_CASE)
    analyst.find("form.stacked button[type=submit]").click()
    analyst.until(lambda d: "/requests" in d.current_url, "the request was not sent")
    row = analyst.find("#outgoing tbody tr")
    assert QUALIFIED in row.text and REASON in row.text and "requested" in row.text
    _clean(analyst)

    # The owner sees the Use Case in the incoming request.
    owner.go("/requests")
    cards = [
        c
        for c in owner.find_all("article.request-card.status-requested")
        if f"asks for {QUALIFIED}" in c.text
    ]
    assert len(cards) == 1, [c.text for c in owner.find_all("article.request-card")]
    card = cards[0].text
    assert "analyst" in card and REASON in card
    assert "subscribe_form" in card and "Use Case" in card and USE_CASE in card
    _clean(owner)
