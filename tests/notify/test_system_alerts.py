"""System alerts (migration 0008): one open per kind and subject, a notification per channel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ktpledger.adapters.tables import system_notifications
from ktpledger.bootstrap import App
from ktpledger.service.system_alerts import (
    CHANNEL_DOWN,
    PROJECTION_FAILED,
    raise_system_alert,
    read_system_alerts,
    resolve_system_alert,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def raise_failed(app: App, project: str, channels: tuple[str, ...] = ("log", "webhook")) -> int | None:
    with app.database.projection() as connection:
        found = raise_system_alert(
            connection,
            kind=PROJECTION_FAILED,
            subject=project,
            detail={"version": 3, "error": "year 10002 is out of range"},
            message=f"the projection of {project} failed at version 3",
            channels=channels,
            now=NOW,
        )
        connection.commit()
    return found


def test_one_open_alert_per_kind_and_subject_with_a_notification_per_channel(app: App) -> None:
    first = raise_failed(app, "KTP-1")
    assert first is not None
    assert raise_failed(app, "KTP-1") is None  # open already: nothing written
    other = raise_failed(app, "KTP-2", channels=("log",))
    assert other is not None and other != first

    [one, two] = read_system_alerts(app.database)
    assert (one["kind"], one["subject"], one["status"]) == (PROJECTION_FAILED, "KTP-1", "open")
    assert one["detail"] == {"error": "year 10002 is out of range", "version": 3}
    assert two["subject"] == "KTP-2"
    with app.database.read() as connection:
        rows = connection.execute(
            select(system_notifications.c.system_alert_id, system_notifications.c.channel).order_by(
                system_notifications.c.system_alert_id, system_notifications.c.channel
            )
        ).all()
    assert [tuple(row) for row in rows] == [(first, "log"), (first, "webhook"), (other, "log")]


def test_a_resolved_alert_can_be_raised_again(app: App) -> None:
    first = raise_failed(app, "KTP-1")
    with app.database.projection() as connection:
        assert resolve_system_alert(
            connection, kind=PROJECTION_FAILED, subject="KTP-1", reason="retried", now=NOW
        )
        assert not resolve_system_alert(
            connection, kind=CHANNEL_DOWN, subject="KTP-1", reason="retried", now=NOW
        )
        connection.commit()
    assert read_system_alerts(app.database) == []
    [resolved] = read_system_alerts(app.database, include_resolved=True)
    assert (resolved["status"], resolved["resolved_reason"]) == ("resolved", "retried")
    again = raise_failed(app, "KTP-1")
    assert again is not None and again != first


def test_an_unknown_kind_is_a_programming_error(app: App) -> None:
    with app.database.projection() as connection, pytest.raises(ValueError, match="unknown system alert"):
        raise_system_alert(
            connection, kind="disk_full", subject="x", detail={}, message="", channels=(), now=NOW
        )
