"""The portfolio page (issue 16 item 2) in real headless Chromium, served on 127.0.0.1 over SQLite
with test_portfolio.py's three projects judged as of 25 April 2025: sort by a header, filter with
the form, download the CSV, no console error; at a desktop's, a phone's (390) and the narrowest
phone's (320) width nothing overflows, every text reads and contrasts (test_browser_phone.py's
measure). Screenshots portfolio-1280.png, portfolio-390.png (and portfolio-390-N.png, screenful by
screenful) go to $KTPLEDGER_TEST_ARTIFACTS, as the other browser tests' do.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api.test_browser import Server, browser, console_errors, shown_figures, sign_in_to, wait_until
from tests.api.test_browser_phone import DESKTOP, NARROW, PHONE, emulate, measure, screenshot
from tests.api.test_portfolio import TODAY, three

__all__ = ["browser", "three"]  # the fixtures, shared with test_browser.py and test_portfolio.py

pytestmark = [pytest.mark.slow]


@pytest.fixture
def app(sqlite_app: App) -> App:
    """test_portfolio.py's fixture records into `app`: here the SQLite one the server serves."""
    return sqlite_app


@pytest.fixture
def served(app: App, three: None) -> Iterator[tuple[str, App]]:
    with Server(app) as url:
        yield url, app


def sign_in(driver: Any, base: str, token: str) -> None:
    sign_in_to(driver, base, token, "/dashboard/portfolio", "form.portfolio-filter")


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait_until(lambda: driver.execute_script("return document.readyState") == "complete", url)


def projects(driver: Any) -> list[str]:
    return list(
        driver.execute_script(
            "return Array.from(document.querySelectorAll('table.portfolio tbody tr')).map(r => r.dataset.project)"
        )
    )


def test_sort_filter_and_export_in_the_browser(served: tuple[str, App], browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    sign_in(browser, base, create_token(application.database, "viewer", None, "KTP adviser"))
    open_page(browser, f"{base}/dashboard/portfolio?today={TODAY}")
    assert projects(browser) == ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]  # most pressing first
    shown = shown_figures(browser)
    assert shown[("KTP-RED", "status")] == "red" and shown[("totals", "spent")] == "£33,100.00"

    # Sort by spent: ascending, then (the same header again) descending.
    browser.find_element(By.CSS_SELECTOR, 'th[data-column="spent"] a.sort').click()
    wait_until(lambda: "sort=spent" in browser.current_url, "the sorted page")
    assert projects(browser) == ["KTP-GREEN", "KTP-AMBER", "KTP-RED"]  # 4,000; 12,500; 16,600
    header = browser.find_element(By.CSS_SELECTOR, 'th[data-column="spent"]')
    assert header.get_attribute("aria-sort") == "ascending"
    header.find_element(By.CSS_SELECTOR, "a.sort").click()
    wait_until(lambda: "dir=desc" in browser.current_url, "the page sorted the other way")
    assert projects(browser) == ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]
    assert browser.find_element(By.CSS_SELECTOR, 'th[data-column="spent"]').get_attribute("aria-sort") == (
        "descending"
    )

    # Filter: amber and green only; the sort is kept, and so is the day.
    browser.find_element(By.ID, "status-amber").click()
    browser.find_element(By.ID, "status-green").click()
    browser.find_element(By.ID, "filter-apply").click()
    wait_until(lambda: "status=amber" in browser.current_url, "the filtered page")
    assert "sort=spent" in browser.current_url and f"today={TODAY}" in browser.current_url
    assert projects(browser) == ["KTP-AMBER", "KTP-GREEN"]
    assert shown_figures(browser)[("totals", "spent")] == "£16,500.00"  # 12,500 + 4,000
    assert browser.find_element(By.ID, "status-amber").is_selected()
    # And a knowledge base from the select.
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "filter-knowledge_base")).select_by_visible_text("Northshire College")
    browser.find_element(By.ID, "filter-apply").click()
    wait_until(lambda: "knowledge_base=Northshire" in browser.current_url, "the page for one knowledge base")
    assert projects(browser) == ["KTP-AMBER"]

    # The CSV export: the filtered rows, downloaded by the browser with its session.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.find_element(By.ID, "export-csv").click()
    found = wait_until(
        lambda: [p for p in downloads.glob("*.csv") if p.stat().st_size > 0], "the CSV download"
    )
    time.sleep(0.3)  # let the browser finish writing it
    assert found[0].name == f"ktp-portfolio-{TODAY}.csv"
    rows = list(csv.DictReader(io.StringIO(found[0].read_text("utf-8"))))
    assert [(row["project"], row["status"], row["spent"]) for row in rows] == [
        ("KTP-AMBER", "amber", "12500.00"),
        ("total", "0 red, 1 amber, 0 green", "12500.00"),
    ]
    assert console_errors(browser) == []


def test_the_page_fits_reads_and_contrasts_with_screenshots(served: tuple[str, App], browser: Any) -> None:
    base, application = served
    sign_in(browser, base, create_token(application.database, "admin", None, "KTP office"))
    url = f"{base}/dashboard/portfolio?today={TODAY}"
    problems: dict[str, list[str]] = {}
    for width, height in (DESKTOP, PHONE, NARROW):
        emulate(browser, width, height)
        open_page(browser, url)
        # The disclosure open, so that the screenshot and the measure take the other reasons too.
        browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        found = measure(browser, f"portfolio-{width}", width)
        problems[str(width)] = found["problems"]
        screenshot(browser, f"portfolio-{width}", width, screens=6 if width == PHONE[0] else 0)
    assert {width: found for width, found in problems.items() if found} == {}
    # On a phone each stacked figure says which column it is, in the header's words.
    emulate(browser, *PHONE)
    open_page(browser, url)
    labels = browser.execute_script(
        """
        const table = document.querySelector('table.portfolio');
        const heads = Array.from(table.querySelectorAll('thead th')).map(th => th.textContent.trim());
        const found = [];
        for (const row of table.querySelectorAll('tbody tr, tfoot tr')) {
          Array.from(row.children).forEach((cell, index) => {
            if (cell.tagName === 'TH' || cell.classList.contains('why') || !cell.textContent.trim()) return;
            found.push([heads[index], getComputedStyle(cell, '::before').content.replace(/^"|"$/g, '')]);
          });
        }
        return found;
        """
    )
    assert labels and all(head.lower() == said.lower() for head, said in labels), labels
    assert browser.execute_script(
        "return document.querySelector('svg.chart-scatter.chart-narrow').checkVisibility()"
    )
    assert not browser.execute_script(
        "return document.querySelector('svg.chart-scatter.chart-wide').checkVisibility()"
    )
    assert console_errors(browser) == []
