"""The digest in the workers: beat's schedule names the task, and the task composes and sends
(against a loopback SMTP server) once per recipient and period, whatever the number of runs.
Creating the Celery app connects to nothing; the task is called here, as a worker would run it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.ledger.factory import claim, offer
from tests.notify.conftest import SmtpServer, smtp_server
from workers import tasks
from workers.app import DIGEST_EVERY, make_app

__all__ = ["smtp_server"]  # tests/notify's loopback SMTP server (aiosmtpd), the fixture, for this folder


def test_beat_schedule_runs_digest_send_hourly() -> None:
    schedule = make_app(Settings(database_url="sqlite://")).conf.beat_schedule
    assert schedule["send-digests"] == {"task": "ktpledger.digest_send", "schedule": DIGEST_EVERY}
    assert DIGEST_EVERY == 3600.0
    assert tasks.digest_send.name == "ktpledger.digest_send"


@pytest.fixture
def worker_app(
    sqlite_url: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[App]:
    recipients = tmp_path / "digest.toml"
    recipients.write_text('[[recipient]]\nemail = "office@uni.example"\n', encoding="utf-8")
    settings = Settings.from_env(
        {
            "KTPLEDGER_DATABASE_URL": sqlite_url,
            "KTPLEDGER_NOTIFY": "log,digest",
            "KTPLEDGER_DIGEST_RECIPIENTS": str(recipients),
            "KTPLEDGER_SMTP_HOST": smtp_server.host,
            "KTPLEDGER_SMTP_PORT": str(smtp_server.port),
            "KTPLEDGER_SMTP_FROM": "ktpledger@uni.example",
            "KTPLEDGER_TODAY": "2024-11-30",
        }
    )
    application = bootstrap(settings)
    upgrade(application.database)
    monkeypatch.setattr(tasks, "_application", application)
    yield application
    application.close()


def test_the_task_sends_each_period_once_however_often_beat_runs_it(
    worker_app: App,
    smtp_server: SmtpServer,
) -> None:
    worker_app.ledger.append(
        [offer(), claim("rail", "2796.00", category="travel_subsistence", date="2024-10-20")]
    )
    first = tasks.digest_send()
    second = tasks.digest_send()
    assert (first["composed"], first["delivered"]) == (1, 1)
    assert (second["composed"], second["delivered"]) == (0, 0)
    subjects = [m.data for m in smtp_server.mailbox.messages if b"KTP alerts:" in m.data]
    assert len(subjects) == 1


def test_beat_judges_the_portfolio_of_the_day_once(worker_app: App) -> None:
    """Every quarter of an hour; a second run the same day finds the day's rows stored."""
    from workers.app import PORTFOLIO_EVERY

    schedule = make_app(Settings(database_url="sqlite://")).conf.beat_schedule
    assert schedule["judge-portfolio"] == {"task": "ktpledger.portfolio_judge", "schedule": PORTFOLIO_EVERY}
    worker_app.ledger.append([offer(), offer(project="KTP-2")])
    assert tasks.portfolio_judge() == {"as_of": "2024-11-30", "judged": 2}
    assert tasks.portfolio_judge() == {"as_of": "2024-11-30", "judged": 0}
