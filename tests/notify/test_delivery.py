"""The outbox: due notifications delivered at least once and never twice, on both backends."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ktpledger.adapters.notifiers import LogNotifier, Notifier, WebhookNotifier
from ktpledger.adapters.tables import notifications
from ktpledger.bootstrap import App
from ktpledger.service.alert_reader import present_alerts
from ktpledger.service.ledger import Ledger
from ktpledger.service.notify import (
    LEASE,
    DeliveryPolicy,
    DeliveryReport,
    backoff,
    deliver_alerts,
    deliver_due,
)
from ktpledger.service.projections import Projector
from tests.ledger.factory import claim, offer
from tests.notify.conftest import (
    SECRET,
    T0,
    Recorder,
    WebhookServer,
    insert_alert,
    notification,
    notification_row,
)

HOUR = timedelta(hours=1)


class Crash(BaseException):
    """A worker dying mid-send (not an Exception: nothing inside catches it)."""


def test_log_channel_delivers_once(app: App, caplog: pytest.LogCaptureFixture) -> None:
    alert_id = insert_alert(app.database, ("log",))
    with caplog.at_level(logging.INFO, logger="ktpledger.alerts"):
        report = deliver_due(app.database, {"log": LogNotifier()}, now=T0)
        again = deliver_due(app.database, {"log": LogNotifier()}, now=T0 + 10 * HOUR)
    assert report == DeliveryReport(delivered=1, retried=0, failed=0)
    assert again == DeliveryReport()
    lines = [r.getMessage() for r in caplog.records if r.name == "ktpledger.alerts"]
    assert len(lines) == 1
    for text in (f"alert {alert_id}", "KTP-0042", "consumables", "over_budget", '"spent": "4200.00"'):
        assert text in lines[0]
    row = notification(app.database, alert_id, "log")
    assert (row["status"], row["attempts"], row["delivered_at"], row["last_error"]) == (
        "delivered",
        1,
        T0,
        None,
    )


def test_webhook_retried_with_backoff_until_accepted(app: App, webhook_server: WebhookServer) -> None:
    alert_id = insert_alert(app.database, ("webhook",))
    webhook_server.script = [500, 500, 200]
    notifiers: dict[str, Notifier] = {"webhook": WebhookNotifier(webhook_server.url, SECRET)}

    assert deliver_due(app.database, notifiers, now=T0) == DeliveryReport(retried=1)
    row = notification(app.database, alert_id, "webhook")
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "HTTP 500" in row["last_error"]
    assert T0 + timedelta(seconds=2) <= row["next_attempt_at"] <= T0 + timedelta(seconds=2.2)

    # Not due again until its back-off has passed.
    assert deliver_due(app.database, notifiers, now=T0 + timedelta(seconds=1)) == DeliveryReport()
    assert len(webhook_server.hits) == 1

    assert deliver_due(app.database, notifiers, now=T0 + HOUR) == DeliveryReport(retried=1)
    second = notification(app.database, alert_id, "webhook")
    assert T0 + HOUR + timedelta(seconds=4) <= second["next_attempt_at"] <= T0 + HOUR + timedelta(seconds=4.4)
    assert deliver_due(app.database, notifiers, now=T0 + 2 * HOUR) == DeliveryReport(delivered=1)
    for hours in (3, 10, 100):
        assert deliver_due(app.database, notifiers, now=T0 + hours * HOUR) == DeliveryReport()

    assert [hit.status for hit in webhook_server.hits] == [500, 500, 200]
    [accepted] = webhook_server.accepted()
    assert accepted.alert["id"] == alert_id
    assert accepted.alert["project"] == "KTP-0042"
    assert accepted.alert["detail"] == {"budget": "4000.00", "spent": "4200.00"}
    assert all(hit.body == accepted.body for hit in webhook_server.hits)  # the same bytes every time
    row = notification(app.database, alert_id, "webhook")
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 3, None)
    assert row["delivered_at"] == T0 + 2 * HOUR


def test_failing_webhook_gives_up_after_its_retry_period_but_the_log_is_delivered(
    app: App, webhook_server: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    alert_id = insert_alert(app.database, ("log", "webhook"))
    webhook_server.default = 503
    notifiers: dict[str, Notifier] = {
        "log": LogNotifier(),
        "webhook": WebhookNotifier(webhook_server.url, SECRET),
    }
    total = DeliveryReport()
    six_hours = DeliveryPolicy(retry_period=6 * HOUR)
    with caplog.at_level(logging.INFO, logger="ktpledger.alerts"):
        for step in range(10):
            total += deliver_due(app.database, notifiers, now=T0 + step * 2 * HOUR, policy=six_hours)
    # Attempts at 0, 2 and 4 h are retried; the one at 6 h, as the period ends, gives up. The log
    # delivers the alert, and at 4 h the webhook's channel_down (down for 5 minutes or more).
    assert total == DeliveryReport(delivered=2, retried=3, failed=1)
    assert len(webhook_server.hits) == 4
    hook = notification(app.database, alert_id, "webhook")
    assert (hook["status"], hook["attempts"], hook["delivered_at"]) == ("failed", 4, None)
    assert (hook["first_attempt_at"], hook["last_attempt_at"], hook["failed_at"]) == (
        T0,
        T0 + 6 * HOUR,
        T0 + 6 * HOUR,
    )
    assert "HTTP 503" in hook["last_error"] and "retry period 6 h" in hook["last_error"]
    assert notification(app.database, alert_id, "log")["status"] == "delivered"
    lines = [r.getMessage() for r in caplog.records if r.name == "ktpledger.alerts"]
    assert [line.split(" ", 2)[:2] for line in lines] == [["alert", str(alert_id)], ["system", "alert"]]
    assert "kind=channel_down subject=webhook" in lines[1]


def test_a_slow_channel_does_not_hold_up_the_others(app: App, webhook_server: WebhookServer) -> None:
    ids = [insert_alert(app.database, ("webhook", "log")) for _ in range(3)]
    webhook_server.delay = 1.0
    log = Recorder("log")
    seen_during_webhook: list[int] = []

    class Watching(WebhookNotifier):
        def send(self, alert: Mapping[str, Any]) -> None:
            try:
                super().send(alert)
            finally:
                seen_during_webhook.append(len(log.sent))

    notifiers: dict[str, Notifier] = {
        "webhook": Watching(webhook_server.url, SECRET, timeout=0.3),
        "log": log,
    }
    report = deliver_due(app.database, notifiers, now=T0)
    # The webhook's first attempt times out, and the run leaves its other rows for the next run.
    assert report == DeliveryReport(delivered=3, retried=1)
    assert sorted(a["id"] for a in log.sent) == ids
    # The log went on while the webhook was timing out: by then the log was done.
    assert seen_during_webhook == [3]


def test_two_workers_never_send_the_same_row_twice(app: App, webhook_server: WebhookServer) -> None:
    ids = [insert_alert(app.database, ("webhook",)) for _ in range(24)]
    webhook_server.delay = 0.01
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            start.wait(timeout=10)
            notifiers: dict[str, Notifier] = {"webhook": WebhookNotifier(webhook_server.url, SECRET)}
            reports.append(deliver_due(app.database, notifiers, now=T0))
        except BaseException as error:  # noqa: BLE001 - a thread's failure is kept for the test to raise
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert not any(thread.is_alive() for thread in threads)
    sent = sorted(hit.alert["id"] for hit in webhook_server.hits)
    assert sent == ids  # each exactly once
    assert sum((r for r in reports), DeliveryReport()) == DeliveryReport(delivered=len(ids))
    assert all(notification(app.database, i, "webhook")["attempts"] == 1 for i in ids)


def test_a_channel_without_a_notifier_is_left_alone(app: App) -> None:
    alert_id = insert_alert(app.database, ("log", "email"))
    assert deliver_due(app.database, {"log": Recorder("log")}, now=T0) == DeliveryReport(delivered=1)
    row = notification(app.database, alert_id, "email")
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("pending", 0, T0)
    assert deliver_due(app.database, {}, now=T0) == DeliveryReport()


def test_nothing_is_sent_before_it_is_due(app: App) -> None:
    insert_alert(app.database, ("log",), due=T0 + HOUR)
    log = Recorder("log")
    assert deliver_due(app.database, {"log": log}, now=T0) == DeliveryReport()
    assert deliver_due(app.database, {"log": log}, now=T0 + HOUR) == DeliveryReport(delivered=1)


def test_limit_bounds_one_run(app: App) -> None:
    for _ in range(5):
        insert_alert(app.database, ("log",))
    log = Recorder("log")
    assert deliver_due(app.database, {"log": log}, now=T0, limit=2) == DeliveryReport(delivered=2)
    assert deliver_due(app.database, {"log": log}, now=T0, limit=10) == DeliveryReport(delivered=3)
    assert len(log.sent) == 5


def test_deliver_alerts_sends_just_those_alerts(app: App) -> None:
    first, second, third = (insert_alert(app.database, ("log", "webhook")) for _ in range(3))
    log, hook = Recorder("log"), Recorder("webhook")
    notifiers: dict[str, Notifier] = {"log": log, "webhook": hook}
    report = deliver_alerts(app.database, notifiers, [first, third], now=T0)
    assert report == DeliveryReport(delivered=4)
    assert sorted(a["id"] for a in log.sent) == sorted(a["id"] for a in hook.sent) == [first, third]
    assert notification(app.database, second, "log")["status"] == "pending"
    assert deliver_alerts(app.database, notifiers, [], now=T0) == DeliveryReport()
    assert deliver_due(app.database, notifiers, now=T0) == DeliveryReport(delivered=2)


def test_a_notifier_bug_is_a_failed_attempt_not_a_crash(app: App) -> None:
    alert_id = insert_alert(app.database, ("log", "webhook"))
    broken = Recorder("webhook", failures=1, error=RuntimeError)
    log = Recorder("log")
    assert deliver_due(app.database, {"log": log, "webhook": broken}, now=T0) == DeliveryReport(
        delivered=1, retried=1
    )
    assert "RuntimeError" in notification(app.database, alert_id, "webhook")["last_error"]
    assert deliver_due(app.database, {"webhook": broken}, now=T0 + HOUR) == DeliveryReport(delivered=1)


def test_a_worker_that_dies_mid_send_is_covered_by_the_lease(app: App) -> None:
    alert_id = insert_alert(app.database, ("webhook",))
    with pytest.raises(Crash):
        deliver_due(app.database, {"webhook": Recorder("webhook", failures=1, error=Crash)}, now=T0)
    row = notification(app.database, alert_id, "webhook")
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("pending", 1, T0 + LEASE)
    hook = Recorder("webhook")
    assert deliver_due(app.database, {"webhook": hook}, now=T0 + LEASE / 2) == DeliveryReport()
    assert deliver_due(app.database, {"webhook": hook}, now=T0 + LEASE) == DeliveryReport(delivered=1)
    assert [a["id"] for a in hook.sent] == [alert_id]
    assert notification(app.database, alert_id, "webhook")["attempts"] == 2


def test_claims_that_never_finish_run_out_by_time_not_by_count(app: App) -> None:
    alert_id = insert_alert(app.database, ("webhook",))
    two_hours = DeliveryPolicy(retry_period=2 * HOUR)
    # Claimed at 0, 1 and 2 h by workers that die mid-send: each claim's lease runs out.
    for step in range(3):
        with pytest.raises(Crash):
            deliver_due(
                app.database,
                {"webhook": Recorder("webhook", failures=1, error=Crash)},
                now=T0 + step * HOUR,
                policy=two_hours,
            )
    row = notification(app.database, alert_id, "webhook")
    assert (row["status"], row["attempts"], row["first_attempt_at"]) == ("pending", 3, T0)
    hook = Recorder("webhook")
    # Still due within a lease of the period's end (2 h 5 min): a live worker would try once more.
    # Due after that, the row's time is up: failed without another send.
    report = deliver_due(app.database, {"webhook": hook}, now=T0 + 2 * HOUR + LEASE, policy=two_hours)
    assert report == DeliveryReport(failed=1)
    assert hook.sent == []
    row = notification(app.database, alert_id, "webhook")
    assert row["status"] == "failed" and "gave up" in row["last_error"]
    assert "retry period (2 h from the first attempt" in row["last_error"]
    assert row["failed_at"] == T0 + 2 * HOUR + LEASE


def test_a_notification_whose_alert_is_gone_fails(app: App) -> None:
    with app.database.projection() as connection:
        connection.execute(notifications.insert(), notification_row(987_654, "log"))
        connection.commit()
    log = Recorder("log")
    assert deliver_due(app.database, {"log": log}, now=T0) == DeliveryReport(failed=1)
    assert log.sent == []
    row = notification(app.database, 987_654, "log")
    assert row["status"] == "failed" and "no longer exists" in row["last_error"]


def test_naive_and_other_zone_clocks_are_read_as_utc(app: App) -> None:
    from zoneinfo import ZoneInfo

    insert_alert(app.database, ("log",), due=T0)
    log = Recorder("log")
    early = (T0 - timedelta(minutes=1)).astimezone(ZoneInfo("America/New_York"))
    assert deliver_due(app.database, {"log": log}, now=early) == DeliveryReport()
    assert deliver_due(app.database, {"log": log}, now=T0.replace(tzinfo=None)) == DeliveryReport(delivered=1)


def test_alerts_raised_by_the_projector_reach_every_channel(app: App, webhook_server: WebhookServer) -> None:
    # A ledger of its own, with no in-process wake-up: this test runs the catch-up itself.
    ledger = Ledger(app.database)
    results = ledger.append([offer(), claim("c1", "3300.00"), claim("c2", "900.00", date="2025-02-03")])
    assert all(r.status == "recorded" for r in results)
    projector = Projector(app.database, channels=["log", "webhook"])
    caught = projector.catch_up("KTP-0042")
    assert caught.raised
    with app.database.read() as connection:
        rows = connection.execute(select(notifications.c.alert_id, notifications.c.channel)).all()
    assert sorted(rows) == sorted((i, c) for i in caught.raised for c in ("log", "webhook"))

    log = Recorder("log")
    notifiers: dict[str, Notifier] = {"log": log, "webhook": WebhookNotifier(webhook_server.url, SECRET)}
    report = deliver_alerts(app.database, notifiers, caught.raised)
    assert report == DeliveryReport(delivered=2 * len(caught.raised))
    expected = sorted(projector.alerts("KTP-0042", include_resolved=True), key=lambda a: a["id"])
    # Sent as every reader shows them: with their figures now (as of the day sent) and a message.
    expected = present_alerts(
        app.database, [a for a in expected if a["id"] in caught.raised], today=datetime.now(UTC).date()
    )
    assert all(a["message"] and a["current"] for a in expected)
    # Each message also says what it is and carries its delivery id, one per (alert, channel).
    sent_log = sorted(log.sent, key=lambda a: a["id"])
    received = sorted((json.loads(hit.body) for hit in webhook_server.hits), key=lambda a: a["id"])
    for messages in (sent_log, received):
        assert [
            {k: v for k, v in m.items() if k not in ("type", "delivery_id")} for m in messages
        ] == expected
        assert {m["type"] for m in messages} == {"alert"}
    ids = [m["delivery_id"] for m in sent_log + received]
    assert len(set(ids)) == len(ids) == 2 * len(caught.raised)
    kinds = {a["kind"] for a in expected}
    assert "over_budget" in kinds
    # Nothing is left to do, now or later.
    assert deliver_due(app.database, notifiers, now=datetime.now(UTC) + 10 * HOUR) == DeliveryReport()
    assert len(webhook_server.hits) == len(caught.raised)


def test_backoff_grows_exponentially_with_a_little_jitter_up_to_five_minutes() -> None:
    assert backoff(1, rng=lambda: 0.0) == timedelta(seconds=2)
    assert backoff(3, rng=lambda: 0.0) == timedelta(seconds=8)
    assert backoff(3, rng=lambda: 1.0) == timedelta(seconds=8.8)
    assert backoff(8, rng=lambda: 1.0) == timedelta(seconds=281.6)  # 256 s and 10%
    assert backoff(9, rng=lambda: 0.0) == timedelta(minutes=5)  # 512 s, capped
    assert backoff(10_000) == timedelta(minutes=5)
    for attempts in range(1, 9):
        assert timedelta(seconds=2**attempts) <= backoff(attempts) <= timedelta(seconds=1.1 * 2**attempts)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        deliver_due(None, {}, limit=0)  # type: ignore[arg-type]
    for bad in ({"retry_period": timedelta(0)}, {"lease": -HOUR}, {"channel_down_after": -HOUR}):
        with pytest.raises(ValueError):
            DeliveryPolicy(**bad)


def test_a_run_reads_each_projects_facts_once(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five alerts of one project on two channels: the run presents each row as it claims it, but
    reads the project's facts (its offer, from the ledger) once a run, not once a row, and every
    message still names the project and its line."""
    import ktpledger.service.alert_reader as alert_reader

    quiet = Ledger(app.database)  # no projector woken: nothing else delivers meanwhile
    assert [r.status for r in quiet.append([offer()])] == ["recorded"]
    quiet.close()
    for _ in range(5):
        insert_alert(app.database, ("log", "webhook"))
    read: list[set[str]] = []
    facts = alert_reader.facts
    monkeypatch.setattr(
        alert_reader,
        "facts",
        lambda database, projects: read.append(set(projects)) or facts(database, projects),
    )
    log, hook = Recorder("log"), Recorder("webhook")
    report = deliver_due(app.database, {"log": log, "webhook": hook}, now=T0)
    assert report == DeliveryReport(delivered=10)
    # Not once a row (10): the two channels' threads may each find it not read yet, no more.
    assert read in ([{"KTP-0042"}], [{"KTP-0042"}, {"KTP-0042"}])
    assert all(a["project"] == "KTP-0042" and a["category"] == "consumables" for a in log.sent + hook.sent)
    assert [a["message"] for a in log.sent] == [a["message"] for a in hook.sent]
