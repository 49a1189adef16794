"""The alerts across projects page in headless Chromium (issue 16 item 4): a group opens on its
alerts, a kind filter keeps its line only, nothing logs to the console; it fits, reads and
contrasts at desktop and phone widths (test_browser_phone.py's measures), with screenshots in
test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api.test_alert_groups import TODAY, five
from tests.api.test_browser import Server, browser, console_errors, sign_in_to, wait_until
from tests.api.test_browser_phone import DESKTOP, NARROW, PHONE, emulate, measure, screenshot

__all__ = ["browser", "five"]  # the fixtures, shared with test_browser.py and test_alert_groups.py

pytestmark = [pytest.mark.slow]


@pytest.fixture
def app(sqlite_app: App) -> App:
    """test_alert_groups.py's fixture records into `app`: here the SQLite one the server serves."""
    return sqlite_app


@pytest.fixture
def served(app: App, five: None) -> Iterator[tuple[str, App]]:
    with Server(app) as url:
        yield url, app


def signed_in(driver: Any, base: str, token: str) -> None:
    sign_in_to(driver, base, token, "/dashboard/alerts", "ul.alert-groups")


def kinds(driver: Any) -> list[str]:
    script = "return Array.from(document.querySelectorAll('li.alert-group')).map(g => g.dataset.kind)"
    return list(driver.execute_script(script))


def test_groups_open_and_filter_in_the_browser(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    signed_in(browser, base, create_token(application.database, "viewer", None, "KTP adviser"))
    browser.get(f"{base}/dashboard/alerts?today={TODAY}")
    wait_until(lambda: kinds(browser) == ["over_budget", "claim_due", "threshold"], "the groups")
    group = browser.find_element(By.CSS_SELECTOR, 'li.alert-group[data-kind="claim_due"]')
    rows = group.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert not rows[0].is_displayed()  # closed until asked
    group.find_element(By.TAG_NAME, "summary").click()
    wait_until(lambda: rows[0].is_displayed(), "the group's alerts")
    assert [row.get_attribute("data-project") for row in rows] == [
        "KTP-A",
        "KTP-B",
        "KTP-C",
        "KTP-D",
        "KTP-E",
    ]
    browser.find_element(By.ID, "kind-threshold").click()
    browser.find_element(By.ID, "filter-apply").click()
    wait_until(lambda: "kind=threshold" in browser.current_url, "the filtered page")
    assert kinds(browser) == ["threshold"]
    assert console_errors(browser) == []


def test_the_page_fits_reads_and_contrasts_with_screenshots(served: tuple[str, App], browser: Any) -> None:
    base, application = served
    signed_in(browser, base, create_token(application.database, "admin", None, "KTP office"))
    problems: dict[str, list[str]] = {}
    for width, height in (DESKTOP, PHONE, NARROW):
        emulate(browser, width, height)
        browser.get(f"{base}/dashboard/alerts?today={TODAY}")
        wait_until(lambda: kinds(browser), "the groups")
        browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        found = measure(browser, f"alerts-{width}", width)
        problems[str(width)] = found["problems"]
        screenshot(browser, f"alerts-{width}", width)
    assert {width: found for width, found in problems.items() if found} == {}
