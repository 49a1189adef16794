"""The dashboard in real headless Chromium (Debian's chromium + chromedriver, driven by Selenium),
against the app served by uvicorn on 127.0.0.1 with an ephemeral port.

Skipped, with the reason, only when Chromium is absent and CI is not "true"; with CI=true a missing
browser fails (scripts/install-browser.sh installs it). The project page's screenshot is saved to
dashboard-project.png in $KTPLEDGER_TEST_ARTIFACTS (default test-artifacts/ at the repository's root).
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from ktpledger.api.app import create_app
from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api import demo
from tests.api.conftest import money
from tests.ledger.factory import claim

pytestmark = [pytest.mark.slow]

IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = Path(
    os.environ.get("KTPLEDGER_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)
WAIT = 20.0  # seconds any one wait in these tests may take


def browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    missing = " and ".join(
        name for name, path in (("chromium", chromium), ("chromedriver", driver)) if not path
    )
    message = (
        f"{missing} not installed: run scripts/install-browser.sh (Debian's chromium and chromium-driver)"
    )
    if IN_CI:
        pytest.fail(f"{message}; CI=true, so the browser tests must run")
    pytest.skip(message)


def wait_until(condition: Any, what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Server:
    """uvicorn serving the app in a thread on 127.0.0.1, on a port the OS picks."""

    def __init__(self, application: App) -> None:
        config = uvicorn.Config(
            create_app(application), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, "uvicorn to start")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def served(sqlite_app: App) -> Iterator[tuple[str, App]]:
    results = sqlite_app.ledger.append(demo.all_events())
    assert all(result.status == "recorded" for result in results)
    with Server(sqlite_app) as url:
        yield url, sqlite_app


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    chromium, driver_path = browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def sign_in(driver: Any, base: str, token: str) -> None:
    sign_in_to(driver, base, token, "/dashboard", "table.projects")


def sign_in_to(driver: Any, base: str, token: str, page: str, shown: str) -> None:
    """Sign in with `token` on the way to `page`, and wait until `shown` (a CSS selector) is."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}{page}")
    wait_until(lambda: "/dashboard/login" in driver.current_url, "the login page")
    field = driver.find_element(By.ID, "token")
    field.send_keys(token)
    field.submit()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, shown), page)


def shown_figures(driver: Any) -> dict[tuple[str, str], str]:
    """Every `data-figure` text on the page, by its row's category or project."""
    script = """
        const found = [];
        for (const cell of document.querySelectorAll('[data-figure]')) {
            const row = cell.closest('tr');
            const key = row ? (row.dataset.category || row.dataset.project || '') : '';
            found.push([key, cell.dataset.figure, cell.textContent.trim()]);
        }
        return found;
    """
    return {(key, name): text for key, name, text in driver.execute_script(script)}


def api(base: str, token: str, path: str) -> Any:
    response = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=WAIT)
    response.raise_for_status()
    return response.json()


def test_sign_in_and_the_project_list(served: tuple[str, App], browser: Any) -> None:
    base, application = served
    token = create_token(application.database, "lmc", None, "LMC chair")
    sign_in(browser, base, token)
    shown = shown_figures(browser)
    projects = api(base, token, "/projects")
    assert len(projects) == 3
    for row in projects:
        # A project past its end date and not closed is flagged as such (as of today).
        expected_status = "ended, not closed" if row.get("ended_not_closed") else row["status"]
        assert shown[(row["project"], "status")] == expected_status
        assert shown[(row["project"], "end")] == row["end"]
        assert int(shown[(row["project"], "open_alerts")]) == row["open_alerts"]
    cookie = browser.get_cookie("ktpledger_token")
    assert cookie is not None and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert "ktpledger_token" not in browser.execute_script("return document.cookie")
    assert console_errors(browser) == []


def test_the_project_page_shows_the_apis_figures_and_follows_new_events(
    served: tuple[str, App], browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    token = create_token(application.database, "lmc", [demo.MAIN], "LMC chair")
    sign_in(browser, base, token)
    browser.find_element(By.LINK_TEXT, demo.MAIN).click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "svg.chart-spend"), "the project page")

    shown = shown_figures(browser)
    allowances = api(base, token, f"/projects/{demo.MAIN}/allowances")
    for line in allowances["lines"]:
        for name in ("budget", "spent", "eligible", "ineligible", "remaining"):
            assert money(shown[(line["category"], name)]) == Decimal(line[name]), (line["category"], name)
    summary = api(base, token, f"/projects/{demo.MAIN}/summary")
    assert money(shown[("", "spend.spent")]) == Decimal(summary["spend"]["spent"])
    assert money(shown[("", "spend.forecast")]) == Decimal(summary["spend"]["forecast"])
    assert money(shown[("", "spend.budget")]) == Decimal(summary["spend"]["budget"])
    assert int(shown[("", "open_alerts")]) == len(summary["open_alerts"])
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.chart-bars g.bar-row")
    assert {bar.get_attribute("data-category") for bar in bars} >= {
        "associate_employment",
        "travel_subsistence",
    }
    assert len(browser.find_elements(By.CSS_SELECTOR, "ul.alerts li")) == len(summary["open_alerts"])
    assert len(browser.find_elements(By.CSS_SELECTOR, "ol.decisions li")) == len(summary["decisions"])

    # The screenshot of the whole page, for people to look at.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 6000))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard-project.png"))

    # New events arrive: the figures follow without a reload.
    browser.execute_script("window.__sameDocument = true;")
    before = money(shown[("consumables", "spent")])
    response = httpx.post(
        f"{base}/events",
        json=claim("late-sensor", "125.40", project=demo.MAIN, date="2025-06-29"),
        headers={"Authorization": f"Bearer {create_token(application.database, 'finance', None)}"},
        timeout=WAIT,
    )
    assert response.status_code == 200, response.text

    def updated() -> bool:
        return money(shown_figures(browser)[("consumables", "spent")]) == before + Decimal("125.40")

    wait_until(updated, "the page to show the new claim")
    assert browser.execute_script("return window.__sameDocument === true")
    refreshed = api(base, token, f"/projects/{demo.MAIN}/allowances")
    consumables = next(line for line in refreshed["lines"] if line["category"] == "consumables")
    assert money(shown_figures(browser)[("consumables", "spent")]) == Decimal(consumables["spent"])
    assert "Live" in browser.find_element(By.ID, "live").text
    assert console_errors(browser) == []


def test_the_reconciliation_downloads_work_from_the_page(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    sign_in(browser, base, create_token(application.database, "viewer", None))
    browser.get(f"{base}/dashboard/projects/{demo.MAIN}")
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, ".downloads a"), "the download links")
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".downloads a")}
    assert set(links) == {"HTML", "PDF", "Excel (XLSX)", "CSV"}
    fetched = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        Promise.all(arguments[0].map(url => fetch(url, {credentials: 'same-origin'})
            .then(r => [r.status, r.headers.get('content-type')])))
            .then(done, error => done(String(error)));
        """,
        list(links.values()),
    )
    assert [status for status, _ in fetched] == [200, 200, 200, 200]
    assert any(media.startswith("application/pdf") for _, media in fetched)
    browser.get(links["HTML"])
    wait_until(lambda: demo.MAIN in browser.page_source, "the HTML statement")
    assert console_errors(browser) == []


def test_sign_out_in_the_browser(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    sign_in(browser, base, create_token(application.database, "viewer", None, "viewer"))
    browser.find_element(By.XPATH, "//button[normalize-space()='Sign out']").click()
    wait_until(lambda: "/dashboard/login" in browser.current_url, "the login page after signing out")
    assert browser.get_cookie("ktpledger_token") is None
    browser.get(f"{base}/dashboard")
    wait_until(lambda: "/dashboard/login" in browser.current_url, "the login page, signed out")
    assert console_errors(browser) == []


class ForeignSite:
    """A page on another site (http://localhost, while the dashboard is http://127.0.0.1) whose form
    posts an attacker's token to the dashboard's sign-in as soon as it loads."""

    def __init__(self, target: str, token: str) -> None:
        page = (
            f'<!doctype html><form id="f" method="post" action="{target}/dashboard/login">'
            f'<input name="token" value="{token}"><input name="csrf" value="guessed"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="foreign-site", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://localhost:{self.server.server_address[1]}/"

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def test_a_form_on_another_site_cannot_sign_the_browser_in(served: tuple[str, App], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base, application = served
    attacker = create_token(application.database, "viewer", None, "attacker")
    with ForeignSite(base, attacker) as page:
        browser.get(page)
        wait_until(lambda: browser.current_url.startswith(f"{base}/dashboard/login"), "the posted form")
        heading = wait_until(lambda: browser.find_elements(By.TAG_NAME, "h1"), "the refusal page")
        assert heading[0].text == "Sign-in refused"
        assert "another site" in browser.find_element(By.CSS_SELECTOR, "p.problem").text
    assert browser.get_cookie("ktpledger_token") is None
    browser.get(f"{base}/dashboard")
    wait_until(lambda: "/dashboard/login" in browser.current_url, "the login page: not signed in")
