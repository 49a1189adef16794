"""The finance role's forms in real headless Chromium, as tests/api/test_browser_forms.py runs the
spend claim: fill and submit each form (reversal, parental-leave cost, grant payment), and an export upload (the Agresso fixture of
tests/imports/fixtures) previewed and confirmed, see its
effect, confirm; one refusal inline with the values kept. Screenshots go to KTPLEDGER_TEST_ARTIFACTS
(default test-artifacts/) as dashboard-form-<slug>*.png, on a desktop and on a 390 px phone (the
helper asserts nothing is wider than the window).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api import demo
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
    # The project page lists the finance forms; on a phone they wrap, nothing wider than the window.
    browser.get(f"{base}/dashboard/projects/{PROJECT}")
    wait_until(lambda: browser.find_elements(By.LINK_TEXT, "Export upload"), "the project page")
    screenshot(browser, "reversal-project-phone", width=390)


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


FIXTURES = Path(__file__).resolve().parents[1] / "imports" / "fixtures"


def test_an_export_upload_previewed_and_confirmed(
    served: tuple[str, App], browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    token = create_token(application.database, "finance", None, "Jo in finance")
    sign_in(browser, base, token)
    browser.get(f"{base}/dashboard/projects/{demo.MAIN}")
    wait_until(lambda: browser.find_elements(By.LINK_TEXT, "Export upload"), "the project page")
    browser.find_element(By.LINK_TEXT, "Export upload").click()
    wait_until(lambda: browser.find_elements(By.ID, "field-file"), "the upload form")
    browser.find_element(By.ID, "field-file").send_keys(str(FIXTURES / "agresso_2025_01.csv"))
    browser.find_element(By.ID, "field-profile").send_keys(str(FIXTURES / "agresso.toml"))
    screenshot(browser, "export-upload-filled")
    screenshot(browser, "export-upload-filled-phone", width=390)
    browser.set_window_size(1280, 1000)
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: browser.find_elements(By.ID, "preview-heading"), "the preview")
    statuses = [
        row.get_attribute("data-status") for row in browser.find_elements(By.CSS_SELECTOR, "tr[data-row]")
    ]
    assert statuses == ["would record"] * 8 + ["skipped"] * 2
    # By hand: consumables 1,200.00 + 1,399.99 + 12.00 + 12.00 claimed, 200.00 reversed.
    net = browser.find_element(By.CSS_SELECTOR, 'tr[data-total-line="consumables"] [data-total="net"]').text
    assert money(net) == Decimal("2423.99")
    moved = figure(browser, "consumables", "spent-after") - figure(browser, "consumables", "spent-before")
    assert moved == Decimal("2423.99")
    screenshot(browser, "export-upload-preview")
    screenshot(browser, "export-upload-preview-phone", width=390)
    browser.set_window_size(1280, 1000)
    browser.find_element(By.CSS_SELECTOR, 'button[value="confirm"]').click()
    wait_until(lambda: "/done/" in browser.current_url, "the result page")
    assert "8 recorded, 2 skipped" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    screenshot(browser, "export-upload-done")
    assert console_errors(browser) == []
    keys = {event.key for event in application.ledger.stream(demo.MAIN)}
    assert "agresso:5010:INV-1001:1" in keys and "agresso:6020:CN-2002:1" in keys


def test_an_export_without_a_profile_is_refused_inline(
    served: tuple[str, App], browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    token = create_token(application.database, "finance", None, "Jo in finance")
    sign_in(browser, base, token)
    browser.get(f"{base}/dashboard/projects/{demo.MAIN}/record/export-upload")
    wait_until(lambda: browser.find_elements(By.ID, "field-file"), "the upload form")
    browser.find_element(By.ID, "field-file").send_keys(str(FIXTURES / "agresso_2025_01.csv"))
    browser.find_element(By.ID, "field-sheet").send_keys("Transactions")
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: browser.find_elements(By.ID, "error-summary"), "the refusal")
    assert browser.find_element(By.ID, "field-profile-error").text.startswith("R-30")
    assert browser.find_element(By.ID, "field-sheet").get_attribute("value") == "Transactions"
    screenshot(browser, "export-upload-refused")
    screenshot(browser, "export-upload-refused-phone", width=390)
    assert not [event for event in application.ledger.stream(demo.MAIN) if event.key.startswith("agresso:")]
