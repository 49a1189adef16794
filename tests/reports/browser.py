"""Headless Chromium for the reports' HTML (Debian's chromium and chromedriver): skipped on a
developer's machine without them, failed when CI=true."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI


def headless_chromium(tmp_path: Path, monkeypatch: Any) -> Any:
    """A Selenium driver of headless Chromium with a profile under `tmp_path`; the caller quits it."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        message = "chromium or chromedriver not installed: the HTML is not screenshotted"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look for a driver online
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
