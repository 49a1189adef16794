"""Fixtures of the API tests: the app over a migrated database, a token per role, the demo ledger."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from ktpledger.api.app import create_app
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.access import create_token
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.api import demo

ROLES = ("admin", "finance", "lmc", "viewer")
# The demo ledger's main project is part-way through on this day: readers judge time as of it.
DEMO_TODAY = date(2025, 6, 30)


@pytest.fixture
def app(database_url: str) -> Iterator[App]:
    """The application on each backend, its readers' clock at `DEMO_TODAY`."""
    application = bootstrap(Settings(database_url=database_url, today=DEMO_TODAY))
    upgrade(application.database)
    yield application
    application.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


FORM_TOKEN = re.compile(r'name="csrf" value="([^"]*)"')


def form_token(client: TestClient, path: str = "/dashboard/login") -> str:
    """The sign-in or sign-out form's token on the page at `path`, as a browser would read it
    (the page also sets the token's cookie in `client`)."""
    page = client.get(path)
    found = FORM_TOKEN.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def same_origin(client: TestClient) -> dict[str, str]:
    """The `Origin` a browser sends on a form of the dashboard's own pages."""
    return {"Origin": str(client.base_url).rstrip("/")}


def dashboard_post(client: TestClient, path: str, data: dict[str, str] | None = None) -> Response:
    """POST a dashboard form as its own page does: the page's token, the site's own Origin."""
    token = form_token(client, "/dashboard/login" if path.endswith("/login") else "/dashboard")
    return client.post(
        path, data={**(data or {}), "csrf": token}, headers=same_origin(client), follow_redirects=False
    )


def money(text: str) -> Decimal:
    """A figure as the dashboard shows it ("£1,234.50", "-£12.00") as a Decimal."""
    return Decimal(text.replace("£", "").replace(",", ""))


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    """The API over `app` (SQLite and PostgreSQL). https, so the Secure cookie is sent back."""
    with TestClient(create_app(app), base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def tokens(app: App) -> dict[str, str]:
    """A token of each role for every project, and `<role>@main`, limited to the main project."""
    made = {role: create_token(app.database, role, None, f"{role} for tests") for role in ROLES}
    for role in ROLES:
        made[f"{role}@main"] = create_token(app.database, role, [demo.MAIN], f"{role} for {demo.MAIN}")
    return made


@pytest.fixture
def recorded(app: App) -> list[dict[str, object]]:
    """The demo ledger, recorded through the library (every event must be accepted)."""
    results = [result.to_json() for result in app.ledger.append(demo.all_events())]
    refused = [result for result in results if result["status"] != "recorded"]
    assert not refused, refused
    return results


@pytest.fixture
def sqlite_app(sqlite_url: str) -> Iterator[App]:
    """An App on SQLite only (the schemathesis run and the browser tests)."""
    application = bootstrap(Settings(database_url=sqlite_url, today=DEMO_TODAY))
    upgrade(application.database)
    yield application
    application.close()
