"""The dashboard's spend claim form in real headless Chromium, as tests/api/test_browser.py runs the
dashboard: sign in as finance, fill the form, see the effect, confirm, see the project page's figure
change; then a bad amount refused inline with the typed values kept. No JavaScript is needed by the
form (the page's script only moves focus). Screenshots go to the folder KTPLEDGER_TEST_ARTIFACTS
names (default test-artifacts/) as dashboard-form-*.png, on a desktop and on a 390 px phone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api import demo
from tests.api.conftest import money
from tests.api.test_browser import Server, console_errors, sign_in, wait_until
from tests.api.test_browser import browser as browser

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / os.environ.get("KTPLEDGER_TEST_ARTIFACTS", "test-artifacts")
PROJECT = demo.SECOND  # consumables: budget £2,000, spent £350


@pytest.fixture
def served(sqlite_app: App) -> Iterator[tuple[str, App]]:
    results = sqlite_app.ledger.append(demo.all_events())
    assert all(result.status == "recorded" for result in results)
    with Server(sqlite_app) as url:
        yield url, sqlite_app


def screenshot(driver: Any, name: str, width: int = 1280) -> None:
    """The whole page at `width`, saved as dashboard-form-`name`.png; nothing may be wider."""
    driver.set_window_size(width, 1000)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(int(height) + 40, 6000))
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: the page is {overflow} px wider than the window at {width} px"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / f"dashboard-form-{name}.png"))


def fill(driver: Any, values: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # A date field's value set as its picker would.
    driver.execute_script("document.getElementById('field-date').value = arguments[0];", values["date"])
    Select(driver.find_element(By.ID, "field-category")).select_by_visible_text(values["category"])
    for name in ("amount", "description"):
        field = driver.find_element(By.ID, f"field-{name}")
        field.clear()
        field.send_keys(values[name])


def spent_on_page(driver: Any) -> Decimal:
    from selenium.webdriver.common.by import By

    cell = driver.find_element(By.CSS_SELECTOR, 'tr[data-category="consumables"] td[data-figure="spent"]')
    return money(cell.text)


def test_a_spend_claim_from_the_form_to_the_figure(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    token = create_token(application.database, "finance", None, "Jo in finance")
    sign_in(browser, base, token)
    browser.get(f"{base}/dashboard/projects/{PROJECT}")
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "svg.chart-spend"), "the project page")
    assert spent_on_page(browser) == Decimal(350)
    browser.find_element(By.LINK_TEXT, "Spend claim").click()
    wait_until(lambda: browser.find_elements(By.ID, "field-amount"), "the form")
    fill(
        browser,
        {
            "date": "2025-06-10",
            "category": "Equipment & consumables",
            "amount": "123.45",
            "description": "Sample jars for the mix trials",
        },
    )
    screenshot(browser, "filled")
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "table.effects"), "the preview")
    row = 'table.effects tr[data-line="consumables"]'

    def shown(name: str) -> Decimal:
        return money(browser.find_element(By.CSS_SELECTOR, f'{row} [data-figure="{name}"]').text)

    # By hand: £2,000 budget, £350 spent, a claim of £123.45.
    assert shown("spent-before") == Decimal("350.00")
    assert shown("spent-after") == Decimal("473.45")
    assert shown("remaining-before") == Decimal("1650.00")
    assert shown("remaining-after") == Decimal("1526.55")
    assert browser.switch_to.active_element.get_attribute("id") == "preview-heading"
    screenshot(browser, "preview")
    screenshot(browser, "preview-phone", width=390)
    browser.set_window_size(1280, 1000)
    browser.find_element(By.CSS_SELECTOR, 'button[value="confirm"]').click()
    wait_until(lambda: "/done/" in browser.current_url, "the result page")
    assert "Recorded: SpendClaimed dashboard:" in browser.find_element(By.CSS_SELECTOR, ".recorded").text
    screenshot(browser, "done")
    browser.find_element(By.LINK_TEXT, f"Back to {PROJECT}").click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "svg.chart-spend"), "the project page")
    assert spent_on_page(browser) == Decimal("473.45")
    screenshot(browser, "project")
    assert console_errors(browser) == []


def test_a_bad_amount_is_refused_inline_with_the_values_kept(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, application = served
    token = create_token(application.database, "finance", None, "Jo in finance")
    sign_in(browser, base, token)
    browser.get(f"{base}/dashboard/projects/{PROJECT}/record/spend-claim")
    wait_until(lambda: browser.find_elements(By.ID, "field-amount"), "the form")
    fill(
        browser,
        {
            "date": "2025-06-10",
            "category": "Travel & subsistence",
            "amount": "12.345",
            "description": "Train to the site visit",
        },
    )
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: browser.find_elements(By.ID, "error-summary"), "the refusal")
    error = browser.find_element(By.ID, "field-amount-error").text
    assert error.startswith("R-22"), error
    assert browser.switch_to.active_element.get_attribute("id") == "error-summary"
    amount = browser.find_element(By.ID, "field-amount")
    assert amount.get_attribute("value") == "12.345"
    assert amount.get_attribute("aria-invalid") == "true"
    assert "field-amount-error" in (amount.get_attribute("aria-describedby") or "")
    assert (
        browser.find_element(By.ID, "field-description").get_attribute("value") == "Train to the site visit"
    )
    assert browser.find_element(By.ID, "field-date").get_attribute("value") == "2025-06-10"
    chosen = Select(browser.find_element(By.ID, "field-category")).first_selected_option.text
    assert chosen == "Travel & subsistence"
    screenshot(browser, "refused")
    screenshot(browser, "refused-phone", width=390)
    # The refusal is a 422 (the page is the form again), which Chromium logs as a failed load.
    assert [error for error in console_errors(browser) if "status of 422" not in error] == []
    events = application.ledger.stream(PROJECT)
    assert not [event for event in events if event.key.startswith("dashboard:")]
