"""A channel that goes down: its notifications are retried for the retry period (days), not a count
of attempts; a `channel_down` system alert goes out through the other channels; nothing is given up
while the channel is merely down for minutes. The clock is fixed: each "beat" is a `deliver_due`
call at a simulated time, 30 s apart, as Celery beat runs it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from ktpledger.adapters.notifiers import LogNotifier, Notifier, WebhookNotifier
from ktpledger.bootstrap import App
from ktpledger.service.notify import DeliveryReport, deliver_due
from ktpledger.service.system_alerts import read_system_alerts
from tests.notify.conftest import SECRET, T0, Recorder, WebhookServer, insert_alert, notification

BEAT = timedelta(seconds=30)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def beats(
    app: App,
    notifiers: dict[str, Notifier],
    *,
    until: timedelta,
    start: timedelta = timedelta(0),
    every: timedelta = BEAT,
    before: Callable[[timedelta], None] = lambda _at: None,
) -> DeliveryReport:
    """Run delivery at T0 + start, then every `every`, up to T0 + until; `before(at)` sets the
    world up for the run at T0 + at first."""
    total = DeliveryReport()
    at = start
    while at <= until:
        before(at)
        total += deliver_due(app.database, notifiers, now=T0 + at)
        at += every
    return total


def test_a_webhook_down_for_seven_minutes_gets_its_whole_backlog_when_it_returns(
    app: App, webhook_server: WebhookServer
) -> None:
    # Before the fix every row was `failed` after its 8th attempt, at 7:00, and never sent again.
    ids = [insert_alert(app.database, ("log", "webhook")) for _ in range(3)]
    notifiers: dict[str, Notifier] = {
        "log": Recorder("log"),
        "webhook": WebhookNotifier(webhook_server.url, SECRET),
    }
    down_until = 7 * MINUTE  # refuses every request up to and including 7:00

    def world(at: timedelta) -> None:
        webhook_server.default = 503 if at <= down_until else 200

    total = beats(app, notifiers, until=down_until + 6 * MINUTE, before=world)

    assert total.failed == 0
    for alert_id in ids:
        row = notification(app.database, alert_id, "webhook")
        assert (row["status"], row["last_error"]) == ("delivered", None)
        # Back-off is capped at 5 minutes: delivered within one cap and a beat of the return.
        assert T0 + down_until < row["delivered_at"] <= T0 + down_until + 5 * MINUTE + BEAT
    accepted = sorted(json.loads(hit.body)["id"] for hit in webhook_server.accepted())
    assert accepted == ids  # each exactly once
    assert any(hit.status == 503 for hit in webhook_server.hits)


def test_a_notification_is_failed_only_once_its_retry_period_has_passed(
    app: App, webhook_server: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The default retry period is 72 hours from the first attempt; delivery runs every hour here.
    alert_id = insert_alert(app.database, ("webhook",))
    webhook_server.default = 503
    notifiers: dict[str, Notifier] = {"webhook": WebhookNotifier(webhook_server.url, SECRET)}

    before = beats(app, notifiers, until=71 * HOUR, every=HOUR)
    assert before == DeliveryReport(retried=72)
    row = notification(app.database, alert_id, "webhook")
    assert (row["status"], row["attempts"]) == ("pending", 72)
    # The back-off never reaches past the period's end: the last attempt is made as it ends.
    assert row["next_attempt_at"] <= T0 + 72 * HOUR

    with caplog.at_level(logging.WARNING, logger="ktpledger.notify"):
        assert deliver_due(app.database, notifiers, now=T0 + 72 * HOUR) == DeliveryReport(failed=1)
    row = notification(app.database, alert_id, "webhook")
    assert (row["status"], row["attempts"]) == ("failed", 73)
    assert "gave up after 73 attempts over 72 h" in row["last_error"]
    assert "HTTP 503" in row["last_error"]
    assert [r.levelno for r in caplog.records if "failed for good" in r.getMessage()] == [logging.WARNING]
    # Given up: nothing is sent again by itself.
    assert deliver_due(app.database, notifiers, now=T0 + 100 * HOUR) == DeliveryReport()
    assert len(webhook_server.hits) == 73


def test_channel_down_goes_once_through_the_other_channels_and_is_resolved_on_recovery(
    app: App, webhook_server: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [insert_alert(app.database, ("log", "webhook")) for _ in range(3)]
    log = Recorder("log")
    notifiers: dict[str, Notifier] = {"log": log, "webhook": WebhookNotifier(webhook_server.url, SECRET)}
    down_until = 7 * MINUTE

    def world(at: timedelta) -> None:
        webhook_server.default = 503 if at <= down_until else 200

    beats(app, notifiers, until=down_until, before=world)
    [down] = read_system_alerts(app.database)
    assert (down["kind"], down["subject"], down["status"]) == ("channel_down", "webhook", "open")
    # Raised at the first failure 5 minutes (the default) after the first failure, at 9:00.
    assert down["raised_at"].startswith("2025-03-14T09:05:00")
    assert down["detail"]["failing_since"].startswith("2025-03-14T09:00:00")
    assert "HTTP 503" in down["message"] and "webhook" in down["message"]
    sent_down = [m for m in log.sent if m.get("type") == "system_alert"]
    assert [(m["kind"], m["subject"], m["id"]) for m in sent_down] == [
        ("channel_down", "webhook", down["id"])
    ]

    with caplog.at_level(logging.WARNING, logger="ktpledger.alerts"):
        beats(app, notifiers, start=down_until + BEAT, until=down_until + 6 * MINUTE, before=world)
    assert read_system_alerts(app.database) == []
    [resolved] = read_system_alerts(app.database, include_resolved=True)
    assert (resolved["id"], resolved["status"]) == (down["id"], "resolved")
    assert "delivered again" in resolved["resolved_reason"]
    assert any("channel_down about webhook resolved" in r.getMessage() for r in caplog.records)
    # Once, through the log only: the webhook that was down never carried it, before or after.
    assert len([m for m in log.sent if m.get("type") == "system_alert"]) == 1
    assert all(json.loads(hit.body).get("type") != "system_alert" for hit in webhook_server.hits)
    assert sorted(json.loads(hit.body)["id"] for hit in webhook_server.accepted()) == ids


def test_channel_down_with_no_other_channel_is_for_administrators_only(
    app: App, webhook_server: WebhookServer
) -> None:
    insert_alert(app.database, ("webhook",))
    webhook_server.default = 503
    notifiers: dict[str, Notifier] = {"webhook": WebhookNotifier(webhook_server.url, SECRET)}
    # One row: attempts at 0:00, 0:30, 1:00, 1:30, 2:00, 3:00, 4:30 and 7:00 (its back-off grows),
    # and the first failure 5 minutes or more into the run is at 7:00.
    beats(app, notifiers, until=6 * MINUTE + BEAT)
    assert read_system_alerts(app.database) == []
    beats(app, notifiers, start=7 * MINUTE, until=7 * MINUTE)
    [down] = read_system_alerts(app.database)
    assert (down["kind"], down["subject"]) == ("channel_down", "webhook")
    assert all(json.loads(hit.body).get("type") != "system_alert" for hit in webhook_server.hits)


def test_a_run_stops_trying_a_channel_at_its_first_failure(app: App, webhook_server: WebhookServer) -> None:
    # Ten due rows on a channel that is down cost one attempt (one timeout) per run, not ten: the
    # embedded default's `record` waits for its run at exit.
    for _ in range(10):
        insert_alert(app.database, ("webhook", "log"))
    webhook_server.default = 503
    notifiers: dict[str, Notifier] = {
        "webhook": WebhookNotifier(webhook_server.url, SECRET),
        "log": LogNotifier(),
    }
    assert deliver_due(app.database, notifiers, now=T0) == DeliveryReport(delivered=10, retried=1)
    assert len(webhook_server.hits) == 1
