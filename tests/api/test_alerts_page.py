"""The alerts across projects page (`/dashboard/alerts`, issue 16 item 4), on both databases: the
five projects of tests/api/test_alert_groups.py judged on 25 April 2025 (worked there by hand):
one line per kind, most pressing first, each opening on its alerts; filtered by kind and project;
a viewer sees only the projects granted; a bad filter is a 422 page naming it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api.test_alert_groups import NAMES, TODAY, five
from tests.api.test_dashboard import sign_in

__all__ = ["five"]  # the fixture, shared with test_alert_groups.py

pytestmark = pytest.mark.usefixtures("five")
GROUP = re.compile(r'<li class="alert-group" data-kind="([^"]+)" data-severity="([^"]+)">')
SUMMARY = re.compile(r'<span class="group-summary">([^<]+)</span>')


def page(client: TestClient, query: str = "", status: int = 200) -> str:
    response = client.get(f"/dashboard/alerts?today={TODAY}{query}")
    assert response.status_code == status, response.text
    return response.text


def test_one_line_per_kind_most_pressing_first(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/dashboard/alerts", follow_redirects=False).status_code == 303
    sign_in(client, tokens["admin"])
    html = page(client)
    assert GROUP.findall(html) == [("over_budget", "red"), ("claim_due", "amber"), ("threshold", "info")]
    assert SUMMARY.findall(html)[1] == "Claim due: 5 alerts in 5 projects (KTP-A, KTP-B, KTP-C and 2 more)."
    assert "8 alerts in 5 projects" in html
    # Each alert of a group, linked to its project (the day kept).
    for name in NAMES:
        assert f'href="/dashboard/projects/{name}?today={TODAY}"' in html
    assert 'aria-current="page">Alerts</a>' in html


def test_filters_by_kind_and_project(client: TestClient, tokens: dict[str, str], app: App) -> None:
    sign_in(client, tokens["admin"])
    assert GROUP.findall(page(client, "&kind=claim_due&kind=threshold")) == [
        ("claim_due", "amber"),
        ("threshold", "info"),
    ]
    only_e = page(client, "&project=KTP-E&kind=threshold")
    assert SUMMARY.findall(only_e) == [
        "Threshold: 2 alerts in 1 project (KTP-E), on Equipment &amp; consumables (2)."
    ]
    assert 'id="kind-threshold" checked' in only_e and '<option value="KTP-E" selected>' in only_e
    bad = page(client, "&kind=overspent", status=422)
    assert 'data-field="kind"' in bad and "R-41" in bad
    unknown = page(client, "&project=KTP-NONE", status=422)
    assert 'data-field="project"' in unknown
    assert 'id="no-alerts"' in page(client, "&project=KTP-A&kind=over_budget")


def test_a_viewer_sees_the_projects_granted(client: TestClient, app: App) -> None:
    sign_in(client, create_token(app.database, "viewer", ["KTP-B"], "adviser"))
    html = page(client)
    assert GROUP.findall(html) == [("claim_due", "amber")]
    assert "KTP-E" not in html
    assert 'data-field="project"' in page(client, "&project=KTP-E", status=422)
