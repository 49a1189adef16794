"""Acknowledging an alert from the dashboard in real headless Chromium (api/dashboard_acknowledge.py):
sign in as lmc, follow an open alert's "Acknowledge" link, type a note, see the preview, confirm,
and find the alert in the Acknowledged list with the note; then an empty note refused inline.
Screenshots go to KTPLEDGER_TEST_ARTIFACTS (default test-artifacts/) as
dashboard-form-acknowledge*.png, on a desktop and on a 390 px phone; nothing may be wider.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api import demo
from tests.api.test_browser import Server, console_errors, sign_in, wait_until
from tests.api.test_browser import browser as browser
from tests.api.test_browser_forms import screenshot

pytestmark = [pytest.mark.slow]

PROJECT = demo.MAIN
NOTE = "Asked the LMC for a virement from travel; decision at the next meeting"


@pytest.fixture
def served(sqlite_app: App) -> Iterator[tuple[str, App]]:
    results = sqlite_app.ledger.append(demo.all_events())
    assert all(result.status == "recorded" for result in results)
    with Server(sqlite_app) as url:
        yield url, sqlite_app


def open_the_first_alert(browser: Any, base: str, application: App) -> str:
    """Signed in as lmc, on the form of the project page's first open alert; its id."""
    from selenium.webdriver.common.by import By

    token = create_token(application.database, "lmc", None, "Sam on the LMC")
    sign_in(browser, base, token)
    browser.get(f"{base}/dashboard/projects/{PROJECT}")
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "a[data-acknowledge]"), "the project page")
    link = browser.find_elements(By.CSS_SELECTOR, "a[data-acknowledge]")[0]
    alert_id = str(link.get_attribute("data-acknowledge"))
    link.click()
    wait_until(lambda: browser.find_elements(By.ID, "field-note"), "the form")
    return alert_id


def test_an_lmc_acknowledges_an_alert_from_the_project_page(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    alert_id = open_the_first_alert(browser, base, application)
    assert "raised" in browser.find_element(By.CSS_SELECTOR, "[data-dates]").text.lower()
    browser.find_element(By.ID, "field-note").send_keys(NOTE)
    screenshot(browser, "acknowledge")
    screenshot(browser, "acknowledge-phone", width=390)
    browser.set_window_size(1280, 1000)
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: browser.find_elements(By.ID, "preview-heading"), "the preview")
    effect = browser.find_element(By.CSS_SELECTOR, "[data-effect]").text
    assert "This records AlertAcknowledged" in effect and "by Sam on the LMC (lmc) on 30 June 2025" in effect
    screenshot(browser, "acknowledge-preview")
    screenshot(browser, "acknowledge-preview-phone", width=390)
    browser.set_window_size(1280, 1000)
    browser.find_element(By.CSS_SELECTOR, 'button[value="confirm"]').click()
    wait_until(lambda: "/done/" in browser.current_url, "the result page")
    assert "Recorded: AlertAcknowledged dashboard:" in browser.find_element(By.CSS_SELECTOR, ".recorded").text
    screenshot(browser, "acknowledge-done")
    browser.find_element(By.LINK_TEXT, f"Back to {PROJECT}").click()
    selector = f'ul.acknowledged li[data-alert="{alert_id}"]'
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, selector), "the Acknowledged list")
    shown = browser.find_element(By.CSS_SELECTOR, selector).text
    assert f"Acknowledged 30 June 2025 by Sam on the LMC (lmc): {NOTE}" in shown
    assert not browser.find_elements(By.CSS_SELECTOR, f'a[data-acknowledge="{alert_id}"]')
    browser.execute_script("document.querySelector(arguments[0]).scrollIntoView()", selector)
    screenshot(browser, "acknowledge-project")
    screenshot(browser, "acknowledge-project-phone", width=390)
    assert console_errors(browser) == []


def test_an_empty_note_is_refused_inline(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    open_the_first_alert(browser, base, application)
    browser.find_element(By.ID, "field-note").send_keys("   ")
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: browser.find_elements(By.ID, "error-summary"), "the refusal")
    assert "Not recorded: R-39" in browser.find_element(By.ID, "error-summary").text
    assert browser.switch_to.active_element.get_attribute("id") == "error-summary"
    note = browser.find_element(By.ID, "field-note")
    assert note.get_attribute("aria-invalid") == "true" and note.get_attribute("value") == "   "
    screenshot(browser, "acknowledge-refused")
    screenshot(browser, "acknowledge-refused-phone", width=390)
    # The refusal is a 422 (the page is the form again), which Chromium logs as a failed load.
    assert [error for error in console_errors(browser) if "status of 422" not in error] == []
    events = application.ledger.stream(PROJECT)
    assert not [event for event in events if event.type == "AlertAcknowledged"]
