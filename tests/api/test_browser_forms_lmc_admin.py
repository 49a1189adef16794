"""The dashboard's LMC (and admin) forms in real headless Chromium, as test_browser_forms.py runs
the spend claim: sign in, open each form from the project page, fill it, see the effect worked out
by hand, confirm, see the result; a refusal inline with the values kept. Screenshots go to
KTPLEDGER_TEST_ARTIFACTS (default test-artifacts/) as dashboard-form-<slug>*.png, on a desktop and
on a 390 px phone (nothing may be wider than the window).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api import demo
from tests.api.conftest import money
from tests.api.test_browser import Server, console_errors, sign_in, wait_until
from tests.api.test_browser import browser as browser
from tests.api.test_browser_forms import screenshot

pytestmark = [pytest.mark.slow]

PROJECT = demo.MAIN  # consumables 3,000 (spent 2,361.35); 24 months from 2024-10-01


@pytest.fixture
def served(sqlite_app: App) -> Iterator[tuple[str, App]]:
    results = sqlite_app.ledger.append(demo.all_events())
    assert all(result.status == "recorded" for result in results)
    with Server(sqlite_app) as url:
        yield url, sqlite_app


def signed_in(served: tuple[str, App], browser: Any, role: str = "lmc") -> str:
    base, application = served
    sign_in(browser, base, create_token(application.database, role, None, f"Sam on the {role}"))
    return base


def set_values(driver: Any, values: dict[str, str]) -> None:
    """Each field by its name: a select by its option's value, a date as its picker would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, value in values.items():
        field = driver.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        elif field.get_attribute("type") == "date":
            driver.execute_script("arguments[0].value = arguments[1];", field, value)
        else:
            field.clear()
            field.send_keys(value)


def open_from_project_page(driver: Any, base: str, title: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/dashboard/projects/{PROJECT}")
    wait_until(lambda: driver.find_elements(By.LINK_TEXT, title), "the project page's form link")
    driver.find_element(By.LINK_TEXT, title).click()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "form button.primary"), "the form")


def previewed(driver: Any) -> Callable[[str, str], Decimal]:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "table.effects"), "the preview")

    def shown(line: str, name: str) -> Decimal:
        cell = driver.find_element(
            By.CSS_SELECTOR, f'table.effects tr[data-line="{line}"] [data-figure="{name}"]'
        )
        return money(cell.text)

    return shown


def confirm(driver: Any, slug: str) -> None:
    from selenium.webdriver.common.by import By

    driver.set_window_size(1280, 1000)
    driver.find_element(By.CSS_SELECTOR, 'button[value="confirm"]').click()
    wait_until(lambda: "/done/" in driver.current_url, "the result page")
    assert "Recorded: LMCDecision dashboard:" in driver.find_element(By.CSS_SELECTOR, ".recorded").text
    screenshot(driver, f"{slug}-done")


def photograph(driver: Any, slug: str, step: str) -> None:
    screenshot(driver, f"{slug}-{step}")
    screenshot(driver, f"{slug}-{step}-phone", width=390)
    driver.set_window_size(1280, 1000)


def test_a_virement(served: tuple[str, App], browser: Any) -> None:
    base = signed_in(served, browser)
    open_from_project_page(browser, base, "Virement")
    values = {"date": "2025-07-10", "from": "consumables", "to": "associate_employment", "amount": "500"}
    set_values(browser, {**values, "minute": "LMC 5, item 2"})
    photograph(browser, "virement", "filled")
    shown = previewed(browser)
    # By hand: consumables 3,000 - 500 = 2,500, remaining 2,500 - 2,361.35 = 138.65.
    assert shown("consumables", "budget-after") == Decimal(2500)
    assert shown("consumables", "remaining-after") == Decimal("138.65")
    assert shown("associate_employment", "budget-after") == Decimal(100500)
    photograph(browser, "virement", "preview")
    confirm(browser, "virement")
    assert console_errors(browser) == []


def test_an_approval_to_exceed(served: tuple[str, App], browser: Any) -> None:
    base = signed_in(served, browser, "admin")
    open_from_project_page(browser, base, "Approval to exceed")
    set_values(
        browser,
        {
            "date": "2025-07-10",
            "category": "consumables",
            "limit": "5000",
            "justification": "A second test rig for the trials",
            "approved_by": "KTP adviser J. Smith",
        },
    )
    shown = previewed(browser)
    assert (shown("consumables", "limit-before"), shown("consumables", "limit-after")) == (
        Decimal(4000),
        Decimal(5000),
    )
    photograph(browser, "approve-exceedance", "preview")
    confirm(browser, "approve-exceedance")


def test_a_limit_below_the_budget_is_refused_inline(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base = signed_in(served, browser)
    browser.get(f"{base}/dashboard/projects/{PROJECT}/record/approve-exceedance")
    wait_until(lambda: browser.find_elements(By.ID, "field-limit"), "the form")
    set_values(
        browser,
        {
            "date": "2025-07-10",
            "category": "consumables",
            "limit": "2000",
            "justification": "Too low",
            "approved_by": "KTP adviser J. Smith",
        },
    )
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: browser.find_elements(By.ID, "error-summary"), "the refusal")
    assert browser.find_element(By.ID, "field-limit-error").text.startswith("R-40")
    assert browser.find_element(By.ID, "field-limit").get_attribute("value") == "2000"
    assert browser.find_element(By.ID, "field-justification").get_attribute("value") == "Too low"
    photograph(browser, "approve-exceedance", "refused")
    events = served[1].ledger.stream(PROJECT)
    assert not [event for event in events if event.key.startswith("dashboard:")]


def test_an_extension(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base = signed_in(served, browser)
    open_from_project_page(browser, base, "Extension")
    set_values(browser, {"date": "2025-07-10", "months": "3", "costed": "yes"})
    shown = previewed(browser)
    assert browser.find_element(By.CSS_SELECTOR, '[data-period="end-after"]').text == "2026-12-31"
    # A costed extension: consumables' standard 4,000 for 24 months becomes 4,000 x 27 / 24 = 4,500.
    assert shown("consumables", "limit-after") == Decimal(4500)
    photograph(browser, "extension", "preview")
    confirm(browser, "extension")


def test_a_budget_revision(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base = signed_in(served, browser)
    open_from_project_page(browser, base, "Budget revision")
    assert browser.find_element(By.NAME, "budget.consumables").get_attribute("value") == "3000"
    set_values(
        browser,
        {
            "date": "2025-07-10",
            "minute": "LMC 5, item 4: salary review",
            "budget.consumables": "3500",
            "budget.associate_employment": "101000",
        },
    )
    photograph(browser, "budget-revision", "filled")
    shown = previewed(browser)
    assert shown("consumables", "remaining-after") == Decimal("1138.65")
    assert shown("associate_employment", "remaining-after") == Decimal(63650)
    photograph(browser, "budget-revision", "preview")
    confirm(browser, "budget-revision")


def test_a_closure(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base = signed_in(served, browser, "admin")
    open_from_project_page(browser, base, "Close the project")
    set_values(browser, {"date": "2026-10-15"})
    shown = previewed(browser)
    assert "will be closed on 2026-10-15" in browser.find_element(By.CSS_SELECTOR, "[data-closes]").text
    assert shown("consumables", "remaining-after") == Decimal("638.65")
    photograph(browser, "closure", "preview")
    browser.find_element(By.CSS_SELECTOR, 'button[value="confirm"]').click()
    wait_until(lambda: "/done/" in browser.current_url, "the result page")
    assert "Recorded: ProjectClosed dashboard:" in browser.find_element(By.CSS_SELECTOR, ".recorded").text
    screenshot(browser, "closure-done")


def test_an_amendment(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base = signed_in(served, browser, "admin")
    browser.get(f"{base}/dashboard/projects/{PROJECT}")
    wait_until(lambda: browser.find_elements(By.LINK_TEXT, "Amend the offer"), "the project page")
    photograph(browser, "amendment", "project")  # an admin's Record list: every form of a project
    open_from_project_page(browser, base, "Amend the offer")
    assert browser.find_element(By.NAME, "budget.associate_employment").get_attribute("value") == "100000"
    set_values(
        browser,
        {
            "date": "2025-07-10",
            "reason": "The offer letter says 101,000",
            "budget.associate_employment": "101000",
        },
    )
    photograph(browser, "amendment", "filled")
    shown = previewed(browser)
    assert shown("associate_employment", "remaining-after") == Decimal(63650)
    photograph(browser, "amendment", "preview")
    browser.find_element(By.CSS_SELECTOR, 'button[value="confirm"]').click()
    wait_until(lambda: "/done/" in browser.current_url, "the result page")
    assert "Recorded: OfferAmended dashboard:" in browser.find_element(By.CSS_SELECTOR, ".recorded").text


def test_a_new_project_from_a_costing(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base = signed_in(served, browser, "admin")
    browser.get(f"{base}/dashboard")
    wait_until(lambda: browser.find_elements(By.LINK_TEXT, "New project from a costing"), "the projects page")
    browser.find_element(By.LINK_TEXT, "New project from a costing").click()
    wait_until(lambda: browser.find_elements(By.NAME, "salary"), "the form")
    values = {
        "project": demo.MAIN,
        "title": "Robotic palletising",
        "knowledge_base": "University of Example",
        "business": "Stackwell Ltd",
        "start": "2025-10-01",
        "months": "24",
        "salary": "40000",
        "supervisor_cost": "80000",
        "support_costs": "18000",
    }
    set_values(browser, values)
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_until(lambda: browser.find_elements(By.ID, "error-summary"), "the refusal")
    assert browser.find_element(By.ID, "field-project-error").text.startswith("R-31")
    assert browser.find_element(By.NAME, "salary").get_attribute("value") == "40000"
    photograph(browser, "new-project", "refused")
    set_values(browser, {"project": "KTP-0200"})
    shown = previewed(browser)
    # By hand: 40,000 x 2 years = 80,000; supervisor 0.1 x 80,000 x 2 = 16,000.
    assert shown("associate_employment", "budget-after") == Decimal(80000)
    assert shown("knowledge_base_supervisor", "budget-after") == Decimal(16000)
    assert shown("total", "budget-after") == Decimal(124500)
    photograph(browser, "new-project", "preview")
    browser.find_element(By.CSS_SELECTOR, 'button[value="confirm"]').click()
    wait_until(lambda: "/done/" in browser.current_url, "the result page")
    assert "Recorded: GrantOffered dashboard:" in browser.find_element(By.CSS_SELECTOR, ".recorded").text
    screenshot(browser, "new-project-done")
    browser.find_element(By.LINK_TEXT, "Back to KTP-0200").click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "svg.chart-spend"), "the new project's page")
