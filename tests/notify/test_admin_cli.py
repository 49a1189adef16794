"""`ktpledger notifications [resend]` and `ktpledger system-alerts`, on both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from ktpledger import cli
from ktpledger.adapters.tables import notifications
from ktpledger.bootstrap import App
from ktpledger.service.system_alerts import CHANNEL_DOWN, PROJECTION_FAILED, raise_system_alert
from tests.notify.conftest import T0, insert_alert, notification


@pytest.fixture(autouse=True)
def _log_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KTPLEDGER_NOTIFY", "KTPLEDGER_BROKER_URL", "KTPLEDGER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.app, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def failed(app: App, alert_id: int, channel: str, error: str = "webhook answered HTTP 503") -> None:
    with app.database.projection() as connection:
        connection.execute(
            update(notifications)
            .where(notifications.c.alert_id == alert_id, notifications.c.channel == channel)
            .values(
                status="failed",
                attempts=40,
                first_attempt_at=T0,
                last_attempt_at=T0.replace(day=17),
                failed_at=T0.replace(day=17),
                last_error=error,
            )
        )
        connection.commit()


def test_notifications_lists_failed_and_pending_and_filters_by_status(app: App, database_url: str) -> None:
    down = insert_alert(app.database, ("webhook", "log"))
    failed(app, down, "webhook")
    code, out, err = run(database_url, "notifications", "--status", "failed", "--format", "json")
    assert (code, err) == (0, "")
    [row] = json.loads(out)
    assert {
        key: row[key] for key in ("outbox", "alert_id", "project", "kind", "channel", "status", "attempts")
    } == {
        "outbox": "alert",
        "alert_id": down,
        "project": "KTP-0042",
        "kind": "over_budget",
        "channel": "webhook",
        "status": "failed",
        "attempts": 40,
    }
    assert row["first_attempt_at"].startswith("2025-03-14T09:00:00")
    assert row["last_attempt_at"].startswith("2025-03-17T09:00:00")
    assert row["last_error"] == "webhook answered HTTP 503"
    assert row["delivery_id"].startswith("ktp-")

    code, out, _ = run(database_url, "notifications")  # default: failed and pending
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["alert", "project", "kind", "channel", "status"]
    assert [line.split()[4:6] for line in lines[2:]] == [["log", "pending,"], ["webhook", "failed"]]
    assert "webhook answered HTTP 503" in lines[3] and "2025-03-14 09:00:00" in lines[3]
    assert run(database_url, "notifications", "--status", "delivered")[1] == "no delivered notifications\n"
    code, _, err = run(database_url, "notifications", "--status", "lost")
    assert code == 2 and "--status" in err


def test_resend_puts_a_failed_notification_back_and_the_command_delivers_it(
    app: App, database_url: str
) -> None:
    alert_id = insert_alert(app.database, ("log",))
    failed(app, alert_id, "log", "the log refused")
    code, out, err = run(
        database_url, "notifications", "resend", "--alert", str(alert_id), "--format", "json"
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "resent": 1,
        "rows": [{"outbox": "alert", "id": alert_id, "channel": "log", "status": "failed"}],
        "skipped": [],
    }
    # The embedded default sent it before the command exited (the log channel is configured).
    row = notification(app.database, alert_id, "log")
    assert (row["status"], row["attempts"], row["failed_at"]) == ("delivered", 41, None)

    code, out, _ = run(database_url, "notifications", "resend", "--alert", str(alert_id))
    assert code == 0
    assert out.startswith("resent 0 notifications\nskipped alert")
    assert "delivered at" in out and "--again" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 2, "say what to resend"),
        (("--alert", "987654"), 1, "R-41: alert 987654 has no notification"),
        (("--all-failed", "--channel", "sms"), 2, "--channel"),
    ],
)
def test_resend_refusals(app: App, database_url: str, args: tuple[str, ...], code: int, message: str) -> None:
    alert_id = insert_alert(app.database, ("log",))
    failed(app, alert_id, "log")
    found, _, err = run(database_url, "notifications", "resend", *args)
    assert found == code and message in err
    assert notification(app.database, alert_id, "log")["status"] == "failed"  # nothing changed


def raise_both(app: App) -> tuple[int, int]:
    with app.database.projection() as connection:
        ids = [
            raise_system_alert(
                connection,
                kind=kind,
                subject=subject,
                detail={"why": "test"},
                message=f"{kind} about {subject}",
                channels=("log",),
                now=T0,
            )
            for kind, subject in ((PROJECTION_FAILED, "KTP-0042"), (CHANNEL_DOWN, "webhook"))
        ]
        connection.commit()
    first, second = ids
    assert first is not None and second is not None
    return first, second


def test_system_alerts_lists_open_ones_and_with_all_resolved_ones_too(app: App, database_url: str) -> None:
    assert run(database_url, "system-alerts") == (0, "no open system alerts\n", "")
    failed_id, down_id = raise_both(app)
    code, out, _ = run(database_url, "system-alerts", "--format", "json")
    documents: list[dict[str, Any]] = json.loads(out)
    assert code == 0
    assert [(d["id"], d["kind"], d["subject"], d["status"]) for d in documents] == [
        (failed_id, PROJECTION_FAILED, "KTP-0042", "open"),
        (down_id, CHANNEL_DOWN, "webhook", "open"),
    ]
    code, out, _ = run(database_url, "system-alerts")
    assert "projection_failed  KTP-0042" in out and "channel_down about webhook" in out
