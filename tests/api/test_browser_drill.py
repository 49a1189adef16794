"""The drill-down in real headless Chromium (issue 14, item 4), as tests/api/test_browser.py runs
the dashboard: from the project page's figure to the drill-down, filtered by date, and its CSV
downloaded. The drill-down page's screenshot is saved to the folder KTPLEDGER_TEST_ARTIFACTS names
(default test-artifacts/) as dashboard-drill-down.png.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api import demo, drill_story
from tests.api.conftest import money
from tests.api.test_browser import WAIT, Server, api, console_errors, sign_in, wait_until
from tests.api.test_browser import browser as browser

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / os.environ.get("KTPLEDGER_TEST_ARTIFACTS", "test-artifacts")
PROJECT = drill_story.PROJECT
TRAVEL = drill_story.TRAVEL


@pytest.fixture
def served(sqlite_app: App) -> Iterator[tuple[str, App]]:
    results = sqlite_app.ledger.append([*demo.all_events(), *drill_story.events()])
    assert all(result.status == "recorded" for result in results)
    with Server(sqlite_app) as url:
        yield url, sqlite_app


def drill_figures(driver: Any) -> dict[tuple[str, str], str]:
    """The drill-down page's figures and totals, by line: (category, name) -> text."""
    script = """
        const found = [];
        for (const cell of document.querySelectorAll('.drill-line [data-figure], .drill-line [data-total]')) {
            const line = cell.closest('.drill-line').dataset.category;
            found.push([line, cell.dataset.figure || 'total.' + cell.dataset.total, cell.textContent.trim()]);
        }
        return found;
    """
    return {(line, name): text for line, name, text in driver.execute_script(script)}


def test_from_the_figure_to_its_claims_filtered_and_downloaded(
    served: tuple[str, App], browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    token = create_token(application.database, "lmc", [PROJECT], "LMC chair")
    sign_in(browser, base, token)
    browser.get(f"{base}/dashboard/projects/{PROJECT}")
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "svg.chart-spend"), "the project page")

    # The travel line's "spent" figure is a link to its drill-down.
    link = browser.find_element(By.CSS_SELECTOR, f'tr[data-category="{TRAVEL}"] td[data-figure="spent"] a')
    assert money(link.text) == Decimal("3650.00")
    link.click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, ".drill-line"), "the drill-down page")
    assert browser.current_url.endswith(f"/dashboard/projects/{PROJECT}/transactions?category={TRAVEL}")

    shown = drill_figures(browser)
    allowances = {
        line["category"]: line for line in api(base, token, f"/projects/{PROJECT}/allowances")["lines"]
    }
    for name in ("budget", "spent", "eligible", "ineligible", "remaining"):
        assert money(shown[(TRAVEL, name)]) == Decimal(allowances[TRAVEL][name]), name
    assert money(shown[(TRAVEL, "total.net")]) == Decimal(allowances[TRAVEL]["spent"])
    assert money(shown[(TRAVEL, "total.eligible")]) == Decimal(allowances[TRAVEL]["eligible"])
    rows = browser.find_elements(By.CSS_SELECTOR, ".drill-rows tbody tr")
    assert [row.get_attribute("data-key") for row in rows] == [
        "conf-1",
        "conf-2",
        "conf-3",
        "assoc",
        "rail",
        "hotel",
        "hotel-refund",
    ]
    conf3 = browser.find_element(By.CSS_SELECTOR, 'tr[data-key="conf-3"]').text
    assert "ineligible" in conf3 and "third conference (R-13)" in conf3

    # The whole page, for people to look at.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 6000))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard-drill-down.png"))

    # Filter by date with the page's own form (a date field's value set as its picker would).
    browser.execute_script(
        "document.getElementById('drill-from').value = arguments[0];"
        "document.getElementById('drill-to').value = arguments[1];",
        "2025-03-01",
        "2025-04-30",
    )
    browser.find_element(By.ID, "drill-apply").click()
    wait_until(lambda: "from=2025-03-01" in browser.current_url, "the filtered page")
    keys = [
        row.get_attribute("data-key")
        for row in browser.find_elements(By.CSS_SELECTOR, ".drill-rows tbody tr")
    ]
    assert keys == ["conf-3", "assoc", "rail", "hotel"]
    shown = drill_figures(browser)
    assert money(shown[(TRAVEL, "total.net")]) == Decimal("2700.00")
    assert money(shown[(TRAVEL, "eligible")]) == Decimal("2500.00")  # the line's figure, as it stands

    # Download the filtered CSV with the page's link.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.find_element(By.ID, "drill-csv").click()
    expected = f"{PROJECT}-transactions-{TRAVEL}-2025-03-01-to-2025-04-30.csv"
    wait_until(lambda: (downloads / expected).is_file(), f"the download of {expected}", timeout=WAIT)
    data = (downloads / expected).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [row["key"] for row in table if row["row"] == "spend"] == keys
    hotel = next(row for row in table if row["key"] == "hotel")
    assert hotel["description"].startswith("'=")
    assert console_errors(browser) == []
