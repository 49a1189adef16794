"""The finance role's forms in real headless Chromium, as tests/api/test_browser_forms.py runs the
spend claim: fill and submit each form (reversal, parental-leave cost, grant payment), see its
effect, confirm; one refusal inline with the values kept. Screenshots go to KTPLEDGER_TEST_ARTIFACTS
(default test-artifacts/) as dashboard-form-<slug>*.png, on a desktop and on a 390 px phone (the
helper asserts nothing is wider than the window).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api.conftest import money
from tests.api.test_browser import browser as browser
from tests.api.test_browser import console_errors, sign_in, wait_until
from tests.api.test_browser_forms import PROJECT, screenshot
from tests.api.test_browser_forms import served as served

pytestmark = [pytest.mark.slow]


def open_form(driver: Any, base: str, application: App, slug: str) -> None:
    from selenium.webdriver.common.by import By

    token = create_token(application.database, "finance", None, "Jo in finance")
    sign_in(driver, base, token)
    driver.get(f"{base}/dashboard/projects/{PROJECT}/record/{slug}")
    wait_until(lambda: driver.find_elements(By.ID, "field-date"), "the form")


def type_into(driver: Any, values: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By

    for name, value in values.items():
        if name == "date":  # as its picker would set it
            driver.execute_script("document.getElementById('field-date').value = arguments[0];", value)
            continue
        field = driver.find_element(By.ID, f"field-{name}")
        field.clear()
        field.send_keys(value)


def preview_and_confirm(driver: Any, slug: str, event_type: str) -> None:
    from selenium.webdriver.common.by import By

    screenshot(driver, f"{slug}-filled")
    screenshot(driver, f"{slug}-filled-phone", width=390)
    driver.set_window_size(1280, 1000)
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: driver.find_elements(By.ID, "preview-heading"), "the preview")
    assert "Nothing has been recorded yet" in driver.page_source


def confirm(driver: Any, slug: str, event_type: str) -> None:
    from selenium.webdriver.common.by import By

    screenshot(driver, f"{slug}-preview")
    screenshot(driver, f"{slug}-preview-phone", width=390)
    driver.set_window_size(1280, 1000)
    driver.find_element(By.CSS_SELECTOR, 'button[value="confirm"]').click()
    wait_until(lambda: "/done/" in driver.current_url, "the result page")
    assert f"Recorded: {event_type} dashboard:" in driver.find_element(By.CSS_SELECTOR, ".recorded").text
    screenshot(driver, f"{slug}-done")
    assert console_errors(driver) == []


def figure(driver: Any, line: str, name: str) -> Decimal:
    from selenium.webdriver.common.by import By

    return money(driver.find_element(By.CSS_SELECTOR, f'tr[data-line="{line}"] [data-figure="{name}"]').text)


def test_a_reversal_picked_from_the_list(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, application = served
    open_form(browser, base, application, "reversal")
    claim = Select(browser.find_element(By.ID, "field-claim"))
    assert [option.text for option in claim.options][1:] == [
        "31 Mar 2025 · Associate employment · claim salary-2025-03 · £4,580.00 outstanding",
        "12 Mar 2025 · Equipment & consumables · claim kit · £350.00 outstanding",
        "28 Feb 2025 · Associate employment · claim salary-2025-02 · £4,580.00 outstanding",
    ]
    claim.select_by_value("kit")
    type_into(browser, {"date": "2025-04-01", "amount": "50.00", "reason": "Part refund from the supplier"})
    preview_and_confirm(browser, "reversal", "ClaimReversed")
    # By hand: spent £350 -> £300; remaining £1,650 -> £1,700.
    assert figure(browser, "consumables", "spent-after") == Decimal("300.00")
    assert figure(browser, "consumables", "remaining-before") == Decimal("1650.00")
    assert figure(browser, "consumables", "remaining-after") == Decimal("1700.00")
    confirm(browser, "reversal", "ClaimReversed")


def test_a_parental_leave_cost(served: tuple[str, App], browser: Any) -> None:
    base, application = served
    open_form(browser, base, application, "parental-leave")
    type_into(
        browser,
        {
            "date": "2025-06-30",
            "amount": "2400.00",
            "description": "Occupational paternity pay above statutory",
        },
    )
    preview_and_confirm(browser, "parental-leave", "ParentalLeaveCost")
    assert figure(browser, "parental_leave", "value-before") == Decimal("0.00")
    assert figure(browser, "parental_leave", "value-after") == Decimal("2400.00")
    confirm(browser, "parental-leave", "ParentalLeaveCost")


def test_a_grant_payment(served: tuple[str, App], browser: Any) -> None:
    base, application = served
    open_form(browser, base, application, "grant-payment")
    type_into(browser, {"date": "2025-04-28", "amount": "9100.00"})
    preview_and_confirm(browser, "grant-payment", "GrantPayment")
    assert figure(browser, "grant_paid", "value-after") == Decimal("9100.00")
    confirm(browser, "grant-payment", "GrantPayment")


def test_a_reversal_of_too_much_is_refused_inline(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, application = served
    open_form(browser, base, application, "reversal")
    Select(browser.find_element(By.ID, "field-claim")).select_by_value("kit")
    type_into(browser, {"date": "2025-04-01", "amount": "400.00", "reason": "Refund"})
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: browser.find_elements(By.ID, "error-summary"), "the refusal")
    assert browser.find_element(By.ID, "field-amount-error").text.startswith("R-34")
    assert browser.find_element(By.ID, "field-amount").get_attribute("value") == "400.00"
    assert browser.find_element(By.ID, "field-reason").get_attribute("value") == "Refund"
    assert (
        Select(browser.find_element(By.ID, "field-claim")).first_selected_option.get_attribute("value")
        == "kit"
    )
    screenshot(browser, "reversal-refused")
    screenshot(browser, "reversal-refused-phone", width=390)
    assert not [event for event in application.ledger.stream(PROJECT) if event.key.startswith("dashboard:")]
