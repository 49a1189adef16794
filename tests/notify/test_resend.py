"""Failed notifications are listed and resent on command, and every message keeps one delivery id
across its retries, resends and a replay of the projections."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from ktpledger.adapters.notifiers import EmailNotifier, Notifier, WebhookNotifier
from ktpledger.adapters.tables import notifications, system_notifications
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.service.deliveries import list_deliveries, resend
from ktpledger.service.ledger import Ledger
from ktpledger.service.notify import DeliveryPolicy, DeliveryReport, deliver_due
from ktpledger.service.outbox import alert_message_id, system_message_id
from ktpledger.service.projections import Projector
from ktpledger.service.system_alerts import PROJECTION_FAILED, raise_system_alert
from tests.ledger.factory import claim, offer
from tests.notify.conftest import (
    SECRET,
    T0,
    Recorder,
    SmtpServer,
    WebhookServer,
    closed_port,
    insert_alert,
    notification,
)

HOUR = timedelta(hours=1)
ONE_HOUR = DeliveryPolicy(retry_period=HOUR)


def fail_for_good(app: App, notifiers: dict[str, Notifier], *, start: timedelta = timedelta(0)) -> None:
    """Run delivery at start, +30 min and +1 h: with a one-hour retry period, a channel that refuses
    throughout leaves its rows failed."""
    for minutes in (0, 30, 60):
        deliver_due(app.database, notifiers, now=T0 + start + timedelta(minutes=minutes), policy=ONE_HOUR)


def test_a_resent_notification_is_due_now_with_its_retry_period_restarted(
    app: App, webhook_server: WebhookServer
) -> None:
    alert_id = insert_alert(app.database, ("webhook",))
    webhook_server.default = 503
    notifiers: dict[str, Notifier] = {"webhook": WebhookNotifier(webhook_server.url, SECRET)}
    fail_for_good(app, notifiers)
    row = notification(app.database, alert_id, "webhook")
    assert (row["status"], row["attempts"], row["failed_at"]) == ("failed", 3, T0 + HOUR)
    [listed] = list_deliveries(app.database, status="failed", now=T0 + 2 * HOUR, long_after=HOUR)
    assert (listed["outbox"], listed["alert_id"], listed["channel"], listed["attempts"]) == (
        "alert",
        alert_id,
        "webhook",
        3,
    )
    assert listed["first_attempt_at"].startswith("2025-03-14T09:00:00")
    assert listed["last_attempt_at"].startswith("2025-03-14T10:00:00")
    assert "HTTP 503" in listed["last_error"]

    report = resend(app.database, alert_ids=[alert_id], now=T0 + 5 * HOUR)
    assert report.to_json() == {
        "resent": 1,
        "rows": [{"outbox": "alert", "id": alert_id, "channel": "webhook", "status": "failed"}],
        "skipped": [],
    }
    row = notification(app.database, alert_id, "webhook")
    assert (row["status"], row["next_attempt_at"], row["first_attempt_at"], row["failed_at"]) == (
        "pending",
        T0 + 5 * HOUR,
        None,
        None,
    )
    assert row["attempts"] == 3  # still counting: the attempts fence each claim's finish
    assert list_deliveries(app.database, status="failed", now=T0 + 5 * HOUR, long_after=HOUR) == []

    # Its retry period runs again from the next attempt: refused at 5 h and 5 h 30, not yet failed.
    for minutes in (0, 30):
        deliver_due(app.database, notifiers, now=T0 + 5 * HOUR + timedelta(minutes=minutes), policy=ONE_HOUR)
    assert notification(app.database, alert_id, "webhook")["status"] == "pending"
    webhook_server.default = 200
    report_after = deliver_due(
        app.database, notifiers, now=T0 + 5 * HOUR + timedelta(minutes=45), policy=ONE_HOUR
    )
    assert report_after == DeliveryReport(delivered=1)
    assert len(webhook_server.accepted()) == 1


def test_a_delivered_notification_is_sent_again_only_when_asked(app: App) -> None:
    alert_id = insert_alert(app.database, ("log",))
    log = Recorder("log")
    assert deliver_due(app.database, {"log": log}, now=T0) == DeliveryReport(delivered=1)
    report = resend(app.database, alert_ids=[alert_id], now=T0 + HOUR)
    assert report.resent == []
    [skipped] = report.skipped
    assert (skipped["id"], skipped["status"]) == (alert_id, "delivered")
    assert "--again" in skipped["reason"] and "delivery id" in skipped["reason"]
    assert notification(app.database, alert_id, "log")["status"] == "delivered"

    again = resend(app.database, alert_ids=[alert_id], again=True, now=T0 + HOUR)
    assert len(again.resent) == 1
    assert deliver_due(app.database, {"log": log}, now=T0 + HOUR) == DeliveryReport(delivered=1)
    first, second = log.sent
    assert first["delivery_id"] == second["delivery_id"]  # the receiver drops the repeat by it


def test_resend_names_what_it_cannot_find_and_changes_nothing(app: App) -> None:
    alert_id = insert_alert(app.database, ("webhook",))
    with app.database.projection() as connection:
        connection.execute(update(notifications).values(status="failed"))
        connection.commit()
    with pytest.raises(
        RuleViolation, match=r"alert 987654 has no notification: .*nothing was resent"
    ) as raised:
        resend(app.database, alert_ids=[alert_id, 987654], now=T0)
    assert raised.value.rule == "R-41"
    with pytest.raises(RuleViolation, match="has no notification on channel email"):
        resend(app.database, alert_ids=[alert_id], channel="email", now=T0)
    with pytest.raises(RuleViolation, match="channel must be one of log, webhook, email"):
        resend(app.database, all_failed=True, channel="sms", now=T0)
    with pytest.raises(RuleViolation, match="name what to resend"):
        resend(app.database, now=T0)
    with pytest.raises(RuleViolation, match="status must be one of"):
        list_deliveries(app.database, status="lost", now=T0, long_after=HOUR)
    assert notification(app.database, alert_id, "webhook")["status"] == "failed"


def test_all_failed_on_one_channel_covers_both_outboxes(app: App) -> None:
    kept, other = insert_alert(app.database, ("webhook", "log")), insert_alert(app.database, ("webhook",))
    with app.database.projection() as connection:
        system = raise_system_alert(
            connection,
            kind=PROJECTION_FAILED,
            subject="KTP-0042",
            detail={"version": 3},
            message="the projection of KTP-0042 failed at version 3",
            channels=("webhook", "log"),
            now=T0,
        )
        for table in (notifications, system_notifications):
            connection.execute(update(table).values(status="failed", failed_at=T0))
        connection.commit()
    assert system is not None
    listed = list_deliveries(app.database, status="failed", now=T0, long_after=HOUR)
    assert [(row["outbox"], row["alert_id"] or row["system_alert_id"], row["channel"]) for row in listed] == [
        ("system", system, "log"),
        ("system", system, "webhook"),
        ("alert", kept, "log"),
        ("alert", kept, "webhook"),
        ("alert", other, "webhook"),
    ]
    assert listed[0]["kind"] == PROJECTION_FAILED and listed[0]["project"] is None
    report = resend(app.database, all_failed=True, channel="webhook", now=T0 + HOUR)
    assert [(row["outbox"], row["id"]) for row in report.resent] == [
        ("system", system),
        ("alert", kept),
        ("alert", other),
    ]
    left = list_deliveries(app.database, status="failed", now=T0, long_after=HOUR)
    assert [row["channel"] for row in left] == ["log", "log"]


def test_long_pending_is_pending_longer_than_the_channel_down_time(app: App) -> None:
    alert_id = insert_alert(app.database, ("email",))  # no e-mail channel runs: never attempted
    [fresh] = list_deliveries(app.database, now=T0 + timedelta(minutes=4), long_after=timedelta(minutes=5))
    [stale] = list_deliveries(app.database, now=T0 + timedelta(minutes=5), long_after=timedelta(minutes=5))
    assert (fresh["alert_id"], fresh["long_pending"], stale["long_pending"]) == (alert_id, False, True)


def message_id(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    return str(message["Message-ID"])


def test_the_delivery_id_is_the_same_across_retries_resends_and_a_replay(
    app: App, webhook_server: WebhookServer, smtp_server: SmtpServer
) -> None:
    ledger = Ledger(app.database)
    assert all(r.status == "recorded" for r in ledger.append([offer(), claim("big", "4300.00")]))
    projector = Projector(app.database, channels=["webhook", "email"])
    raised = projector.catch_up("KTP-0042").raised
    assert len(raised) >= 2
    before = {
        (row["alert_id"], row["channel"]): row["delivery_id"]
        for row in list_deliveries(app.database, now=T0, long_after=HOUR)
    }
    assert len(set(before.values())) == len(before) == 2 * len(raised)  # one per alert and channel

    webhook_server.default = 503
    down: dict[str, Notifier] = {
        "webhook": WebhookNotifier(webhook_server.url, SECRET),
        "email": EmailNotifier("127.0.0.1", closed_port(), "ktp@uni.example", ["lmc@uni.example"], timeout=2),
    }
    # The projector queued the rows at the wall clock's now. A run stops a channel at its first
    # failure, so one run a minute tries each row in turn (and, from 5 minutes on, each channel's
    # channel_down alert about the other); past the hour, the runs give them up.
    start = datetime.now(UTC) + timedelta(minutes=1)
    for step in [*range(len(raised) + 2), *range(62, 92)]:
        deliver_due(app.database, down, now=start + step * timedelta(minutes=1), policy=ONE_HOUR)
    later = start + 3 * HOUR
    failed = list_deliveries(app.database, status="failed", now=later, long_after=HOUR)
    assert sorted((row["alert_id"], row["channel"]) for row in failed if row["outbox"] == "alert") == sorted(
        before
    )

    projector.replay()  # rebuilds the alerts; each crossing keeps its identity
    assert resend(app.database, alert_ids=raised, now=later).to_json()["resent"] == 2 * len(raised)
    webhook_server.default = 200
    up: dict[str, Notifier] = {
        "webhook": WebhookNotifier(webhook_server.url, SECRET),
        "email": EmailNotifier(smtp_server.host, smtp_server.port, "ktp@uni.example", ["lmc@uni.example"]),
    }
    deliver_due(app.database, up, now=later, policy=ONE_HOUR)
    every = list_deliveries(app.database, status="all", now=later, long_after=HOUR)
    assert {row["status"] for row in every if row["outbox"] == "alert"} == {"delivered"}

    by_alert: dict[int, set[str]] = {}
    for hit in webhook_server.hits:
        headers = {k.lower(): v for k, v in hit.headers.items()}
        body: dict[str, Any] = json.loads(hit.body)
        assert headers["x-ktpledger-delivery"] == body["delivery_id"]
        if body["type"] == "alert":
            by_alert.setdefault(body["id"], set()).add(body["delivery_id"])
    assert dict(by_alert.items()) == {alert_id: {before[(alert_id, "webhook")]} for alert_id in raised}
    sent_ids = sorted(
        message_id(mail.data) for mail in smtp_server.mailbox.messages if b"system alert" not in mail.data
    )
    assert sent_ids == sorted(f"<{before[(alert_id, 'email')]}@uni.example>" for alert_id in raised)


def alert_row(row_id: int, **changes: Any) -> Any:
    fields = {
        "id": row_id,
        "project": "KTP-0042",
        "category": "consumables",
        "kind": "over_budget",
        "subject": "",
        "raised_at_version": 7,
    }
    return SimpleNamespace(**{**fields, **changes})


def test_the_delivery_id_comes_from_what_the_alert_is_never_from_its_row_id() -> None:
    same = alert_message_id(alert_row(1), "webhook")
    assert same.startswith("ktp-") and len(same) == 36
    # A replay that numbered the same crossing afresh: the same id.
    assert alert_message_id(alert_row(912), "webhook") == same
    # Another alert that took the row id 1: never the same id.
    for change in (
        {"project": "KTP-0043"},
        {"category": "travel_subsistence"},
        {"kind": "threshold"},
        {"subject": "R-13"},
        {"raised_at_version": 8},
    ):
        assert alert_message_id(alert_row(1, **change), "webhook") != same
    assert alert_message_id(alert_row(1), "email") != same  # one per (alert, channel)

    raised = T0 + timedelta(microseconds=5)
    system = SimpleNamespace(kind="channel_down", subject="webhook", raised_at=raised)
    naive = SimpleNamespace(kind="channel_down", subject="webhook", raised_at=raised.replace(tzinfo=None))
    assert system_message_id(system, "log") == system_message_id(naive, "log")  # SQLite's naive UTC
    assert system_message_id(system, "log").startswith("sys-")
    later = SimpleNamespace(kind="channel_down", subject="webhook", raised_at=raised + timedelta(hours=1))
    assert system_message_id(later, "log") != system_message_id(system, "log")
