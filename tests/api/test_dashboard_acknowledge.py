"""The dashboard's form to acknowledge an alert (api/dashboard_acknowledge.py, R-39) on SQLite and
PostgreSQL: the "Acknowledge" link for lmc, finance and admin; the preview records nothing; confirm
records one `AlertAcknowledged` through `acknowledge()` by the token on channel `dashboard`, and the
alert moves to the Acknowledged list with its note and date; a second confirm records nothing new;
an empty note is refused inline with the note kept; and every unsafe write is refused and logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from ktpledger.api import form_signing
from ktpledger.api.app import create_app
from ktpledger.bootstrap import App
from ktpledger.domain.events import MAX_TEXT_LENGTH
from tests.api import demo
from tests.api.conftest import bearer
from tests.api.test_acknowledgement import another_projects_alert, open_alerts
from tests.api.test_dashboard_forms import SECURITY_LOG, confirmation, hidden, post, sign_in, stamp

pytestmark = pytest.mark.usefixtures("recorded")

PROJECT = demo.MAIN
NOTE = "Asked the LMC for a virement <today>"


def form_path(alert_id: int | str, project: str = PROJECT) -> str:
    return f"/dashboard/projects/{project}/alerts/{alert_id}/acknowledge"


@pytest.fixture
def alert_id(client: TestClient, tokens: dict[str, str]) -> int:
    return int(open_alerts(client, tokens["viewer"])[0]["id"])


@pytest.fixture
def lmc(client: TestClient, tokens: dict[str, str]) -> TestClient:
    sign_in(client, tokens["lmc"])
    return client


def acknowledgements(client: TestClient, tokens: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(f"/projects/{PROJECT}/events", headers=bearer(tokens["admin"]))
    assert response.status_code == 200, response.text
    return [event for event in response.json() if event["type"] == "AlertAcknowledged"]


def preview(client: TestClient, alert_id: int, note: str = NOTE) -> tuple[Response, dict[str, str]]:
    page = client.get(form_path(alert_id))
    assert page.status_code == 200, page.text
    form = stamp(page.text)
    return post(client, f"{form_path(alert_id)}/preview", {**form, "note": note}), form


def confirmed(client: TestClient, alert_id: int) -> tuple[dict[str, str], Response]:
    response, _ = preview(client, alert_id)
    assert response.status_code == 200, response.text
    data = {**confirmation(response.text), "action": "confirm"}
    return data, post(client, f"{form_path(alert_id)}/confirm", data)


def test_the_project_page_links_each_open_alert_for_lmc_finance_and_admin(
    app: App, tokens: dict[str, str], alert_id: int
) -> None:
    for role in ("lmc", "finance", "admin", "viewer"):
        with TestClient(create_app(app), base_url="https://testserver") as client:
            sign_in(client, tokens[role])
            page = client.get(f"/dashboard/projects/{PROJECT}").text
            assert (f'href="{form_path(alert_id)}"' in page) is (role != "viewer"), role


def test_the_form_shows_the_alerts_sentence_and_dates(lmc: TestClient, tokens: dict[str, str]) -> None:
    first = open_alerts(lmc, tokens["viewer"])[0]
    page = lmc.get(form_path(first["id"]))
    assert page.status_code == 200, page.text
    assert 'name="note"' in page.text and "Nothing is recorded until you confirm" in page.text
    assert "raised " in page.text.lower() and first["raised_on"] is not None


def test_preview_records_nothing(lmc: TestClient, tokens: dict[str, str], alert_id: int) -> None:
    response, _ = preview(lmc, alert_id)
    assert response.status_code == 200, response.text
    page = response.text
    assert "Nothing has been recorded yet" in page
    assert "This records <strong>AlertAcknowledged</strong>" in page
    assert "by lmc for tests (lmc) on 30 June 2025" in page
    assert "No figure changes" in page and "Acknowledged list" in page
    assert "Asked the LMC for a virement &lt;today&gt;" in page
    assert acknowledgements(lmc, tokens) == []


def test_confirm_records_one_acknowledgement_shown_apart_with_its_note_and_date(
    lmc: TestClient, tokens: dict[str, str], alert_id: int
) -> None:
    data, done = confirmed(lmc, alert_id)
    assert done.status_code == 303, done.text
    page = lmc.get(done.headers["location"])
    key = f"dashboard:{data['nonce']}"
    assert f"Recorded: AlertAcknowledged <code>{key}</code>" in page.text
    [event] = acknowledgements(lmc, tokens)
    assert event["key"] == key and event["data"]["note"] == NOTE and event["date"] == "2025-06-30"
    assert event["recorded_by"] == {"name": "lmc for tests", "role": "lmc", "channel": "dashboard"}
    project = lmc.get(f"/dashboard/projects/{PROJECT}").text
    open_part, acknowledged = project.split("<h3>Acknowledged")
    assert f'data-alert="{alert_id}"' in acknowledged.split("</ul>")[0]
    assert f'data-alert="{alert_id}"' not in open_part.split("<h2>Open alerts")[1]
    assert f'href="{form_path(alert_id)}"' not in project
    assert "Acknowledged 30 June 2025 by lmc for tests (lmc): Asked the LMC for a virement &lt;today&gt;" in (
        acknowledged
    )


def test_a_second_confirm_records_nothing_new(lmc: TestClient, tokens: dict[str, str], alert_id: int) -> None:
    data, done = confirmed(lmc, alert_id)
    assert done.status_code == 303
    again = post(lmc, f"{form_path(alert_id)}/confirm", data)
    assert again.status_code == 303, again.text
    assert again.headers["location"].endswith("?already=1")
    page = lmc.get(again.headers["location"])
    assert page.status_code == 200 and "Already recorded" in page.text
    assert "nothing new was recorded" in page.text
    assert len(acknowledgements(lmc, tokens)) == 1


def test_a_second_form_for_an_acknowledged_alert_is_refused_inline(
    lmc: TestClient, tokens: dict[str, str], alert_id: int
) -> None:
    response, _ = preview(lmc, alert_id)
    later, _ = preview(lmc, alert_id, note="Second thoughts")
    assert post(lmc, f"{form_path(alert_id)}/confirm", {**confirmation(response.text), "action": "confirm"})
    refused = post(lmc, f"{form_path(alert_id)}/confirm", {**confirmation(later.text), "action": "confirm"})
    assert refused.status_code == 422, refused.text
    assert "Not recorded: R-39" in refused.text and "acknowledged already" in refused.text
    assert ">Second thoughts</textarea>" in refused.text
    assert len(acknowledgements(lmc, tokens)) == 1


@pytest.mark.parametrize("note", ["", "   ", "x" * (MAX_TEXT_LENGTH + 1)])
def test_a_bad_note_is_refused_inline_with_the_note_kept(
    lmc: TestClient, tokens: dict[str, str], alert_id: int, note: str
) -> None:
    response, _ = preview(lmc, alert_id, note=note)
    assert response.status_code == 422, response.text
    assert "Not recorded: R-39" in response.text and 'aria-invalid="true"' in response.text
    assert f">{note}</textarea>" in response.text
    assert acknowledgements(lmc, tokens) == []


def test_change_returns_the_form_with_the_note_kept(lmc: TestClient, alert_id: int) -> None:
    response, _ = preview(lmc, alert_id)
    back = post(lmc, f"{form_path(alert_id)}/confirm", {**confirmation(response.text), "action": "change"})
    assert back.status_code == 200 and "Asked the LMC for a virement &lt;today&gt;</textarea>" in back.text


def test_a_viewer_gets_403_and_is_logged(
    client: TestClient, tokens: dict[str, str], alert_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in(client, tokens["viewer"])
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        assert client.get(form_path(alert_id)).status_code == 403
        assert post(client, f"{form_path(alert_id)}/preview", {"note": "x"}).status_code == 403
        assert post(client, f"{form_path(alert_id)}/confirm", {"note": "x"}).status_code == 403
    assert any("viewer for tests" in record.getMessage() for record in caplog.records)


def test_a_token_not_granted_the_project_gets_403(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    other = another_projects_alert(app)
    sign_in(client, tokens["lmc@main"])
    page = client.get(form_path(other, "KTP-0500"))
    assert page.status_code == 403 and "not granted" in page.text
    assert post(client, f"{form_path(other, 'KTP-0500')}/preview", {"note": "x"}).status_code == 403
    # Named under the granted project, another project's alert is no alert of it.
    assert client.get(form_path(other)).status_code == 404


def test_an_unknown_alert_is_a_404_page(lmc: TestClient) -> None:
    for alert in ("99999", "x", "0", "9" * 30):
        page = lmc.get(form_path(alert))
        assert page.status_code == 404, (alert, page.text)
        assert "has no alert" in page.text


def test_a_tampered_payload_is_refused_and_logged(
    lmc: TestClient, tokens: dict[str, str], alert_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    response, _ = preview(lmc, alert_id)
    data = confirmation(response.text)
    data["payload"] = form_signing.encode_values({"note": "Something else"})
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        refused = post(lmc, f"{form_path(alert_id)}/confirm", {**data, "action": "confirm"})
    assert refused.status_code == 403 and "values were changed after the preview" in refused.text
    assert any("values were changed" in r.getMessage() for r in caplog.records if r.name == SECURITY_LOG)
    assert acknowledgements(lmc, tokens) == []


def test_a_form_of_another_alert_is_refused(
    lmc: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = (int(a["id"]) for a in open_alerts(lmc, tokens["viewer"])[:2])
    response, _ = preview(lmc, first)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        refused = post(
            lmc, f"{form_path(second)}/confirm", {**confirmation(response.text), "action": "confirm"}
        )
    assert refused.status_code == 403 and "was not issued to this session" in refused.text
    assert acknowledgements(lmc, tokens) == []


def test_an_expired_form_is_refused(
    lmc: TestClient,
    tokens: dict[str, str],
    alert_id: int,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response, form = preview(lmc, alert_id)
    data = confirmation(response.text)
    monkeypatch.setattr(form_signing, "now", lambda: int(form["issued"]) + 12 * 3600 + 1)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        refused = post(lmc, f"{form_path(alert_id)}/confirm", {**data, "action": "confirm"})
    assert refused.status_code == 403 and "the form has expired" in refused.text
    assert acknowledgements(lmc, tokens) == []


def test_a_write_without_the_form_token_is_refused(lmc: TestClient, alert_id: int) -> None:
    response, _ = preview(lmc, alert_id)
    data = {**confirmation(response.text), "action": "confirm", "form_csrf": ""}
    assert post(lmc, f"{form_path(alert_id)}/confirm", data).status_code == 403
    assert hidden(response.text, "nonce")
