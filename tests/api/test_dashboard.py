"""The LMC dashboard, server-side: login and its cookie, the pages for the demo ledger, the figures
shown equal the API's JSON, escaping, and the live-update fragment."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from ktpledger.api.app import create_app
from ktpledger.api.formatting import label
from ktpledger.bootstrap import App
from tests.api import demo
from tests.api.conftest import bearer, dashboard_post, form_token, money
from tests.ledger.factory import decision, offer

pytestmark = pytest.mark.usefixtures("recorded")


class Figures(HTMLParser):
    """Collects the text of every element with `data-figure`, keyed by its row's `data-category`."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[tuple[str, str], str] = {}
        self._row: str = ""
        self._open: tuple[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr":
            self._row = found.get("data-category") or found.get("data-project") or ""
        if "data-figure" in found:
            self._open = (self._row, str(found["data-figure"]))
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag in ("td", "span"):
            self.figures[self._open] = "".join(self._text).strip()
            self._open = None
        if tag == "tr":
            self._row = ""


def figures(html: str) -> dict[tuple[str, str], str]:
    parser = Figures()
    parser.feed(html)
    return parser.figures


def sign_in(client: TestClient, token: str) -> None:
    response = dashboard_post(client, "/dashboard/login", {"token": token})
    assert response.status_code == 303


def test_pages_need_a_sign_in(client: TestClient) -> None:
    for path in ("/dashboard", f"/dashboard/projects/{demo.MAIN}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/dashboard/login?next=/dashboard")
    assert client.get(f"/dashboard/projects/{demo.MAIN}/panel").status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard"


def test_the_login_page_and_static_files_need_no_token(client: TestClient) -> None:
    page = client.get("/dashboard/login")
    assert page.status_code == 200
    assert 'name="token"' in page.text
    assert "Content-Security-Policy" in page.headers
    for asset in ("dashboard.css", "dashboard.js", "favicon.svg"):
        assert client.get(f"/dashboard/static/{asset}").status_code == 200


@pytest.mark.parametrize(
    ("base_url", "headers", "warned"),
    [
        ("http://ktp.example.ac.uk", {}, True),  # plain HTTP to another host: the cookie is dropped
        ("https://ktp.example.ac.uk", {}, False),
        ("http://ktp.example.ac.uk", {"X-Forwarded-Proto": "https"}, False),  # TLS at a proxy
        ("http://127.0.0.1:8000", {}, False),  # this machine: browsers keep Secure cookies
        ("http://localhost:8000", {}, False),
    ],
)
def test_the_login_page_warns_when_the_secure_cookie_cannot_be_kept(
    app: App, base_url: str, headers: dict[str, str], warned: bool
) -> None:
    # The browser's Origin: the scheme a proxy in front reports, else the one it used.
    origin = base_url.replace("http://", "https://") if headers else base_url
    with TestClient(create_app(app), base_url=base_url) as plain:
        page = plain.get("/dashboard/login", headers=headers)
        csrf = form_token(plain)
        # A browser that kept the token's cookie (a Secure cookie: not one over plain HTTP to
        # another host), then one that dropped it: that sign-in is refused, and the page says why.
        kept = {**headers, "Origin": origin, "Cookie": f"__Host-ktpledger_csrf={csrf}"}
        refused = plain.post("/dashboard/login", data={"token": "nope", "csrf": csrf}, headers=kept)
        dropped = plain.post(
            "/dashboard/login", data={"token": "nope", "csrf": csrf}, headers={**headers, "Origin": origin}
        )
    assert page.status_code == 200 and refused.status_code == 401
    for response in (page, refused):
        assert ("came over plain HTTP" in response.text) is warned
    if base_url.startswith("http://"):  # a client keeps a Secure cookie only over https
        assert dropped.status_code == 403
        assert ("came over plain HTTP" in dropped.text) is warned


def test_a_bad_token_does_not_sign_in(client: TestClient) -> None:
    response = dashboard_post(client, "/dashboard/login", {"token": "nope"})
    assert response.status_code == 401
    assert "unknown or has been revoked" in response.text
    assert "ktpledger_token=" not in response.headers.get("set-cookie", "")


def test_signing_in_sets_a_secure_httponly_strict_cookie(client: TestClient, tokens: dict[str, str]) -> None:
    response = dashboard_post(
        client, "/dashboard/login", {"token": tokens["lmc"], "next": f"/dashboard/projects/{demo.MAIN}"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/dashboard/projects/{demo.MAIN}"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"ktpledger_token={tokens['lmc']};")
    for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert flag.lower() in cookie.lower(), flag


def test_next_never_leaves_the_dashboard(client: TestClient, tokens: dict[str, str]) -> None:
    for target in ("https://elsewhere.example/", "//elsewhere.example", "/dashboard//x", "/docs"):
        response = dashboard_post(client, "/dashboard/login", {"token": tokens["viewer"], "next": target})
        assert response.headers["location"] == "/dashboard", target


def test_signing_out_clears_the_cookie(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["viewer"])
    assert client.get("/dashboard").status_code == 200
    response = dashboard_post(client, "/dashboard/logout")
    assert response.status_code == 303
    assert (
        'ktpledger_token=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_the_project_list(client: TestClient, tokens: dict[str, str], app: App) -> None:
    sign_in(client, tokens["viewer"])
    page = client.get("/dashboard")
    assert page.status_code == 200
    shown = figures(page.text)
    for row in client.get("/projects", headers=bearer(tokens["viewer"])).json():
        assert shown[(row["project"], "status")] == row["status"]
        assert shown[(row["project"], "end")] == row["end"]
        assert int(shown[(row["project"], "open_alerts")]) == row["open_alerts"]
        assert f'href="/dashboard/projects/{row["project"]}"' in page.text


def test_a_project_token_sees_only_its_project(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["viewer@main"])
    page = client.get("/dashboard")
    assert demo.MAIN in page.text and demo.SECOND not in page.text
    assert client.get(f"/dashboard/projects/{demo.SECOND}").status_code == 403


def test_the_project_page_shows_the_apis_figures(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["lmc"])
    page = client.get(f"/dashboard/projects/{demo.MAIN}")
    assert page.status_code == 200
    shown = figures(page.text)
    allowances = client.get(f"/projects/{demo.MAIN}/allowances", headers=bearer(tokens["lmc"])).json()
    for line in allowances["lines"]:
        for name in ("budget", "spent", "eligible", "ineligible", "remaining"):
            assert money(shown[(line["category"], name)]) == Decimal(line[name]), (line["category"], name)
    summary = client.get(f"/projects/{demo.MAIN}/summary", headers=bearer(tokens["lmc"])).json()
    for name in ("budget", "spent", "eligible", "ineligible", "remaining"):
        assert money(shown[("", f"totals.{name}")]) == Decimal(summary["totals"][name])
    assert money(shown[("", "spend.spent")]) == Decimal(summary["spend"]["spent"])
    assert money(shown[("", "spend.forecast")]) == Decimal(summary["spend"]["forecast"])
    assert int(shown[("", "open_alerts")]) == len(summary["open_alerts"]) > 0
    # The charts, the alerts, the LMC history and the downloads are all there.
    assert page.text.count("<svg") >= 2
    assert "Spend over time" in page.text and "Budget by category" in page.text
    assert "Virement of £1,000 from Equipment &amp; consumables to Travel &amp; subsistence" in page.text
    assert "LMC 3, item 4" in page.text
    for alert in summary["open_alerts"]:
        if alert["id"] is None:  # a calendar finding (a quarter not claimed, R-45): no stored id
            assert alert["message"].split(":")[0] in page.text
            continue
        assert f'data-alert="{alert["id"]}"' in page.text
    for fmt in ("html", "pdf", "xlsx", "csv"):
        link = f"/projects/{demo.MAIN}/reconciliation?format={fmt}"
        assert f'href="{link}"' in page.text
        assert client.get(link).status_code == 200  # the cookie reads the download
    assert escape(label("travel_subsistence")) in page.text
    assert f'data-revision="{summary["revision"]}"' in page.text


@pytest.mark.parametrize("project", [demo.SECOND, demo.CLOSED])
def test_other_projects_render(client: TestClient, tokens: dict[str, str], project: str) -> None:
    sign_in(client, tokens["admin"])
    page = client.get(f"/dashboard/projects/{project}")
    assert page.status_code == 200
    summary = client.get(f"/projects/{project}/summary", headers=bearer(tokens["admin"])).json()
    assert figures(page.text)[("", "status")].startswith(summary["status"])
    if project == demo.SECOND:
        assert "KB overheads (derived)" in page.text


def test_unknown_project_page_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["admin"])
    response = client.get("/dashboard/projects/KTP-NOPE")
    assert response.status_code == 404
    assert "R-31" in response.text


def test_the_panel_follows_new_events(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["admin"])
    url = f"/projects/{demo.MAIN}/summary"
    before = client.get(url).json()["revision"]
    client.post(
        "/events",
        json=decision("lmc-late", "2025-06-29", project=demo.MAIN, kind="extension", months=2),
        headers=bearer(tokens["lmc"]),
    )
    after = client.get(url).json()
    assert after["revision"] != before
    panel = client.get(f"/dashboard/projects/{demo.MAIN}/panel")
    assert panel.status_code == 200
    assert f'data-revision="{after["revision"]}"' in panel.text
    assert "Extension of 2 month(s), no-cost" in panel.text
    assert "<html" not in panel.text  # a fragment, not a page


def test_user_text_is_escaped(client: TestClient, tokens: dict[str, str]) -> None:
    nasty = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = client.post(
        "/events",
        json=[
            offer("KTP-0666", title=nasty, business=f"{nasty} & Co", knowledge_base='Uni "of" <b>'),
            decision(
                "lmc-nasty",
                "2024-10-15",
                project="KTP-0666",
                kind="virement",
                **{"from": "consumables", "to": "associate_employment", "amount": "100", "minute": nasty},
            ),
        ],
        headers=bearer(tokens["admin"]),
    )
    assert response.status_code == 200, response.text
    sign_in(client, tokens["admin"])
    for path in ("/dashboard", "/dashboard/projects/KTP-0666", "/dashboard/projects/KTP-0666/panel"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(" in page, path


def test_dashboard_headers(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["viewer"])
    page = client.get(f"/dashboard/projects/{demo.MAIN}")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert "https://" not in page.text.replace("https://testserver", "")  # nothing from elsewhere
