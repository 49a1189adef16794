"""Delivery against the notification store port: the in-memory fake, SQLite and PostgreSQL give the
same deliveries, retries, give-ups, channel_down alerts and resends, figure for figure.

The clock is fixed (T0 = 2025-03-14 09:00 UTC) and the notifiers are `Recorder`s that fail their
first n calls, so every time and count below is worked out by hand from `delivery_policy.py`: the
back-off after the n-th failed attempt is 2**n seconds plus at most 10% (capped at five minutes, and
never past the end of the retry period), an attempt that fails once the retry period has run from
the first attempt gives up, and a channel that has failed every attempt for `channel_down_after`
raises `channel_down` through the other channels. Ids start at 1 on each backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.notification_sql import notification_store
from ktpledger.adapters.notification_store import (
    ALERT_OUTBOX,
    SYSTEM_OUTBOX,
    DeliveryRecord,
    NotificationStore,
)
from ktpledger.adapters.notifiers import Notifier
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.adapters.projection_store import ProjectionStore
from ktpledger.domain.alert_views import present
from ktpledger.domain.chain import format_instant
from ktpledger.domain.errors import RuleViolation
from ktpledger.service.deliveries import list_deliveries, resend
from ktpledger.service.notify import DeliveryPolicy, DeliveryReport, deliver_alerts, deliver_due
from ktpledger.service.outbox import Presenter, alert_message_id, system_message_id, utc
from ktpledger.service.schema import upgrade
from ktpledger.service.system_alerts import system_alert_json
from tests.notify.conftest import T0, Recorder
from tests.notify.fake_store import FakeNotificationStore

SECOND, MINUTE, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
DETAIL = {"budget": "4000.00", "spent": "4200.00"}


def present_plainly(rows: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """What `alert_reader.present_alerts` shows of an alert whose project has no ledger and no
    allowance lines (the alerts here): its figures as raised, and its message."""
    return [present(row, state=None, line=None, today=today).to_json() for row in rows]


class World:
    """Alerts queued through the projection store, delivered through the notification store."""

    projections: ProjectionStore
    notifications: NotificationStore
    database: Database | None = None
    present: Presenter | None = None
    _subjects = 0

    def add_alert(self, channels: tuple[str, ...], *, due: datetime = T0) -> int:
        """An open KTP alert and a pending notification on each channel, as a catch-up writes them."""
        self._subjects += 1
        with self.projections.write() as unit:
            written = unit.alerts.add_many(
                [
                    {
                        "project": "KTP-0042",
                        "category": "consumables",
                        "kind": "over_budget",
                        "subject": f"s{self._subjects}",
                        "detail": json.dumps(DETAIL, sort_keys=True),
                        "current": None,
                        "status": "open",
                        "raised_at_version": self._subjects,
                        "resolved_at_version": None,
                        "raised_at": due,
                        "resolved_at": None,
                        "resolved_reason": None,
                        "quiet": False,
                    }
                ]
            )
            [alert_id] = written.values()
            unit.outbox.queue_many([(alert_id, channels, None)], due)
            unit.commit()
        return alert_id

    def deliver(self, notifiers: dict[str, Notifier], **options: Any) -> DeliveryReport:
        return deliver_due(
            self.database, notifiers, store=self.notifications, present=self.present, **options
        )

    def deliver_alerts(
        self, notifiers: dict[str, Notifier], ids: list[int], **options: Any
    ) -> DeliveryReport:
        return deliver_alerts(
            self.database, notifiers, ids, store=self.notifications, present=self.present, **options
        )

    def row(self, outbox: str, ref: int, channel: str) -> DeliveryRecord:
        with self.notifications.read() as unit:
            [found] = unit.deliveries.chosen(outbox, refs=[ref], failed=False, channel=channel)
        return found

    def system_alerts(self) -> list[dict[str, Any]]:
        with self.notifications.read() as unit:
            return [system_alert_json(a) for a in unit.system_alerts.listed(include_resolved=True)]


class FakeWorld(World):
    def __init__(self) -> None:
        fake = FakeNotificationStore()
        self.projections = self.notifications = fake
        self.present = present_plainly


class DatabaseWorld(World):
    def __init__(self, url: str) -> None:
        self.database = Database(build_engine(url))
        upgrade(self.database)
        self.projections = projection_store(self.database)
        self.notifications = notification_store(self.database)


@pytest.fixture(params=["fake", "sqlite", "postgres"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "fake":
        yield FakeWorld()
        return
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = str(request.getfixturevalue("sqlite_url"))
    found = DatabaseWorld(url)
    yield found
    assert found.database is not None
    found.database.dispose()


def times(row: DeliveryRecord) -> tuple[datetime | None, ...]:
    """(first attempt, last attempt, next attempt, delivered, failed), as aware UTC."""
    moments = (
        row.first_attempt_at,
        row.last_attempt_at,
        row.next_attempt_at,
        row.delivered_at,
        row.failed_at,
    )
    return tuple(None if moment is None else utc(moment) for moment in moments)


def test_a_due_notification_is_delivered_once_on_each_channel(world: World) -> None:
    alert_id = world.add_alert(("log", "webhook"))
    log, hook = Recorder("log"), Recorder("webhook")
    notifiers: dict[str, Notifier] = {"log": log, "webhook": hook}

    assert world.deliver(notifiers, now=T0 - SECOND) == DeliveryReport()  # due at T0, not before
    assert world.deliver(notifiers, now=T0) == DeliveryReport(delivered=2)
    assert world.deliver(notifiers, now=T0 + 10 * HOUR) == DeliveryReport()  # nothing left to do

    for channel, recorder in (("log", log), ("webhook", hook)):
        row = world.row(ALERT_OUTBOX, alert_id, channel)
        assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
        assert times(row) == (T0, T0, T0 + 5 * MINUTE, T0, None)  # the claim's lease, never used
        [sent] = recorder.sent
        assert (sent["type"], sent["id"], sent["kind"], sent["detail"]) == (
            "alert",
            alert_id,
            "over_budget",
            DETAIL,
        )
        assert sent["current"] == DETAIL and sent["message"]  # as raised: no allowance line to read
        assert sent["delivery_id"] == alert_message_id(row, channel)
    assert log.sent[0]["delivery_id"] != hook.sent[0]["delivery_id"]  # one per (alert, channel)


def test_a_failing_channel_is_retried_with_back_off_and_given_up_when_its_retry_period_ends(
    world: World,
) -> None:
    alert_id = world.add_alert(("webhook",))
    hook = Recorder("webhook", failures=100)
    notifiers: dict[str, Notifier] = {"webhook": hook}
    six_hours = DeliveryPolicy(retry_period=6 * HOUR, channel_down_after=24 * HOUR)

    def deliver(at: datetime) -> DeliveryReport:
        return world.deliver(notifiers, now=at, policy=six_hours)

    # Attempt 1 at T0 fails: back off 2 s (to 2.2 s).
    assert deliver(T0) == DeliveryReport(retried=1)
    row = world.row(ALERT_OUTBOX, alert_id, "webhook")
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "webhook refused attempt 1")
    first, last, retry_at, _, _ = times(row)
    assert (first, last) == (T0, T0)
    assert retry_at is not None and T0 + 2 * SECOND <= retry_at <= T0 + 2.2 * SECOND
    assert deliver(T0 + SECOND) == DeliveryReport()  # still backing off: not tried
    assert hook.calls == 1

    # Attempt 2 at T0 + 3 s fails: back off 4 s (to 4.4 s).
    assert deliver(T0 + 3 * SECOND) == DeliveryReport(retried=1)
    _, last, retry_at, _, _ = times(world.row(ALERT_OUTBOX, alert_id, "webhook"))
    assert last == T0 + 3 * SECOND
    assert retry_at is not None and T0 + 7 * SECOND <= retry_at <= T0 + 7.4 * SECOND

    # Attempt 3 at T0 + 1 h fails: back off 8 s (to 8.8 s).
    assert deliver(T0 + HOUR) == DeliveryReport(retried=1)
    _, _, retry_at, _, _ = times(world.row(ALERT_OUTBOX, alert_id, "webhook"))
    assert retry_at is not None and T0 + HOUR + 8 * SECOND <= retry_at <= T0 + HOUR + 8.8 * SECOND

    # Attempt 4, 10 s before the period ends: its 16 s back-off would pass the end, so the next
    # attempt is due exactly as the period ends.
    assert deliver(T0 + 6 * HOUR - 10 * SECOND) == DeliveryReport(retried=1)
    assert times(world.row(ALERT_OUTBOX, alert_id, "webhook"))[2] == T0 + 6 * HOUR

    # Attempt 5, as the period ends, fails: given up.
    assert deliver(T0 + 6 * HOUR) == DeliveryReport(failed=1)
    row = world.row(ALERT_OUTBOX, alert_id, "webhook")
    assert (row.status, row.attempts) == ("failed", 5)
    assert row.last_error == "gave up after 5 attempts over 6 h (retry period 6 h): webhook refused attempt 5"
    first, last, _, delivered, failed = times(row)
    assert (first, last, delivered, failed) == (T0, T0 + 6 * HOUR, None, T0 + 6 * HOUR)
    assert deliver(T0 + 100 * HOUR) == DeliveryReport()
    assert hook.calls == 5
    assert world.system_alerts() == []  # never down for 24 h


def test_a_channel_failing_for_five_minutes_is_down_until_it_delivers_again(world: World) -> None:
    alert_id = world.add_alert(("webhook",))
    log, hook = Recorder("log"), Recorder("webhook", failures=3)
    notifiers: dict[str, Notifier] = {"log": log, "webhook": hook}
    policy = DeliveryPolicy(channel_down_after=5 * MINUTE)

    def attempt(at: datetime) -> DeliveryReport:
        # This alert's rows only: the channel_down notification waits for the log's own run.
        return world.deliver_alerts(notifiers, [alert_id], now=at, policy=policy)

    assert attempt(T0) == DeliveryReport(retried=1)  # failing since T0: 1 failure over 0 min
    assert attempt(T0 + 4 * MINUTE) == DeliveryReport(retried=1)  # 2 failures over 4 min
    assert world.system_alerts() == []
    assert attempt(T0 + 5 * MINUTE) == DeliveryReport(retried=1)  # 3 failures over 5 min: down

    [down] = world.system_alerts()
    assert (down["id"], down["kind"], down["subject"], down["status"]) == (
        1,
        "channel_down",
        "webhook",
        "open",
    )
    assert down["detail"] == {
        "channel": "webhook",
        "failing_since": format_instant(T0),
        "failures": 3,
        "last_error": "webhook refused attempt 3",
        "down_after_minutes": 5.0,
    }
    assert down["message"].startswith(
        "The webhook alert channel has failed every attempt since 2025-03-14T09:00 UTC (3 attempts "
        "over 5 min); last error: webhook refused attempt 3. Its notifications are kept and retried "
        "for 72 h from each one's first attempt"
    )
    # Sent through the other channel, the log, only.
    queued = world.row(SYSTEM_OUTBOX, 1, "log")
    assert (queued.status, queued.attempts, utc(queued.next_attempt_at)) == ("pending", 0, T0 + 5 * MINUTE)
    with world.notifications.read() as unit:
        assert unit.deliveries.chosen(SYSTEM_OUTBOX, refs=[1], failed=False, channel="webhook") == []

    assert world.deliver({"log": log}, now=T0 + 6 * MINUTE, policy=policy) == DeliveryReport(delivered=1)
    [sent] = log.sent
    assert (sent["type"], sent["id"], sent["kind"], sent["status"]) == (
        "system_alert",
        1,
        "channel_down",
        "open",
    )
    assert sent["delivery_id"] == system_message_id(world.row(SYSTEM_OUTBOX, 1, "log"), "log")

    # The fourth attempt, at T0 + 10 min, is delivered: the run of failures ends, the alert resolves.
    assert attempt(T0 + 10 * MINUTE) == DeliveryReport(delivered=1)
    [resolved] = world.system_alerts()
    assert (resolved["status"], utc(datetime.fromisoformat(resolved["resolved_at"]))) == (
        "resolved",
        T0 + 10 * MINUTE,
    )
    assert resolved["resolved_reason"] == f"the channel delivered again at {format_instant(T0 + 10 * MINUTE)}"
    row = world.row(ALERT_OUTBOX, alert_id, "webhook")
    assert (row.status, row.attempts, times(row)[3]) == ("delivered", 4, T0 + 10 * MINUTE)

    # A new failure starts a new run, of one failure (looked at in a unit that is not committed).
    with world.notifications.write() as unit:
        since, failures = unit.channel_health.failed("webhook", error="x", now=T0 + HOUR)
        assert (utc(since), failures) == (T0 + HOUR, 1)
        since, failures = unit.channel_health.failed("webhook", error="y", now=T0 + HOUR + MINUTE)
        assert (utc(since), failures) == (T0 + HOUR, 2)
        assert unit.channel_health.succeeded("webhook") is True
        assert unit.channel_health.succeeded("webhook") is False  # not failing: nothing to end


def test_a_failed_notification_is_resent_with_its_retry_period_restarted(world: World) -> None:
    alert_id = world.add_alert(("log",))
    other = world.add_alert(("log",), due=T0 + 10 * HOUR)  # not due yet: pending throughout
    one_hour = DeliveryPolicy(retry_period=HOUR, channel_down_after=24 * HOUR)
    broken = Recorder("log", failures=2)
    assert world.deliver({"log": broken}, now=T0, policy=one_hour) == DeliveryReport(retried=1)
    assert world.deliver({"log": broken}, now=T0 + HOUR, policy=one_hour) == DeliveryReport(failed=1)
    given_up = "gave up after 2 attempts over 60 min (retry period 60 min): log refused attempt 2"
    assert world.row(ALERT_OUTBOX, alert_id, "log").last_error == given_up

    shown = list_deliveries(
        world.database, now=T0 + 2 * HOUR, long_after=HOUR, store=world.notifications
    )  # failed and pending: both alerts
    assert [(r["alert_id"], r["status"], r["attempts"], r["long_pending"]) for r in shown] == [
        (alert_id, "failed", 2, False),
        (other, "pending", 0, False),  # due at T0 + 10 h: not long pending
    ]
    assert shown[0]["failed_at"] == (T0 + HOUR).isoformat()

    with pytest.raises(RuleViolation) as refused:  # an alert with no notification: nothing resent
        resend(world.database, alert_ids=[alert_id, 99], now=T0 + 2 * HOUR, store=world.notifications)
    assert refused.value.rule == "R-41" and "alert 99 has no notification" in str(refused.value)
    assert world.row(ALERT_OUTBOX, alert_id, "log").status == "failed"

    report = resend(world.database, all_failed=True, now=T0 + 2 * HOUR, store=world.notifications)
    assert report.to_json() == {
        "resent": 1,
        "rows": [{"outbox": "alert", "id": alert_id, "channel": "log", "status": "failed"}],
        "skipped": [],
    }
    row = world.row(ALERT_OUTBOX, alert_id, "log")
    # Pending, due now, its period restarted; its attempts (the fence) and last error kept.
    assert (row.status, row.attempts, row.last_error) == ("pending", 2, given_up)
    assert times(row) == (None, T0 + HOUR, T0 + 2 * HOUR, None, None)

    log = Recorder("log")
    assert world.deliver({"log": log}, now=T0 + 2 * HOUR, policy=one_hour) == DeliveryReport(delivered=1)
    row = world.row(ALERT_OUTBOX, alert_id, "log")
    assert (row.status, row.attempts) == ("delivered", 3)
    assert times(row)[0] == T0 + 2 * HOUR  # the retry period runs from the resent attempt

    # Delivered: sent again only when asked.
    again: dict[str, Any] = {"alert_ids": [alert_id], "now": T0 + 3 * HOUR, "store": world.notifications}
    [skipped] = resend(world.database, **again).skipped
    assert skipped["reason"].startswith(f"delivered at {(T0 + 2 * HOUR).isoformat()}: ask for it again")
    assert resend(world.database, again=True, **again).to_json()["resent"] == 1
    assert world.deliver({"log": log}, now=T0 + 3 * HOUR, policy=one_hour) == DeliveryReport(delivered=1)
    assert [m["delivery_id"] for m in log.sent] == [alert_message_id(row, "log")] * 2  # the same id


@pytest.mark.postgres
def test_two_claiming_units_on_postgres_take_different_rows(postgres_url: str) -> None:
    """A claim reads its due row `FOR UPDATE SKIP LOCKED`: a second worker claiming at the same
    time passes over the row the first keeps (and finds none among the alerts it names)."""
    world = DatabaseWorld(postgres_url)
    assert world.database is not None
    try:
        first, second = world.add_alert(("log",)), world.add_alert(("log",))
        with world.notifications.write() as one, world.notifications.write() as two:
            kept = one.deliveries.due(ALERT_OUTBOX, "log", T0, claiming=True)
            other = two.deliveries.due(ALERT_OUTBOX, "log", T0, claiming=True)
            named = two.deliveries.due(ALERT_OUTBOX, "log", T0, alert_ids=[first], claiming=True)
            unclaimed = two.deliveries.due(ALERT_OUTBOX, "log", T0, alert_ids=[first])  # a plain read
        assert kept is not None and other is not None and unclaimed is not None
        assert (kept.ref, other.ref, named, unclaimed.ref) == (first, second, None, first)
    finally:
        world.database.dispose()
