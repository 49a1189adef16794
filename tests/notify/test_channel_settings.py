"""The alert channels' settings are read once, into `Settings`: the composition root builds a
notifier for every channel the settings name, from the settings alone (issue 12, item 5).

Before, `bootstrap` built its notifiers from the environment again (`build_notifiers()`), kept
those the settings named, and so a `Settings` naming the webhook in a process whose
KTPLEDGER_NOTIFY did not name it wrote outbox rows for the webhook that nothing would ever send."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ktpledger.adapters.tables import notifications
from ktpledger.bootstrap import App, bootstrap
from ktpledger.notify_settings import ChannelSettings
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.ledger.factory import claim, offer
from tests.notify.conftest import SECRET, WebhookServer

CHANNEL_VARIABLES = (
    "KTPLEDGER_NOTIFY",
    "KTPLEDGER_WEBHOOK_URL",
    "KTPLEDGER_WEBHOOK_SECRET",
    "KTPLEDGER_SMTP_HOST",
    "KTPLEDGER_SMTP_PORT",
    "KTPLEDGER_SMTP_FROM",
    "KTPLEDGER_SMTP_TO",
    "KTPLEDGER_SMTP_USER",
    "KTPLEDGER_SMTP_PASSWORD",
    "KTPLEDGER_SMTP_STARTTLS",
)


@pytest.fixture(autouse=True)
def _no_channel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CHANNEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def over_budget(app: App) -> None:
    """Record a claim past consumables' budget (4,000 in the factory's offer): one alert, notified."""
    upgrade(app.database)
    results = app.ledger.append([offer(), claim("big", "4300.00")])
    assert [result.status for result in results] == ["recorded", "recorded"]


def outbox(app: App) -> list[tuple[str, str]]:
    with app.database.read() as connection:
        rows = connection.execute(select(notifications.c.channel, notifications.c.status))
        return sorted((row.channel, row.status) for row in rows)


def delivered_kinds(server: WebhookServer) -> set[Any]:
    return {hit.alert["kind"] for hit in server.accepted()}


def test_a_webhook_named_by_the_settings_alone_is_delivered(
    sqlite_url: str, webhook_server: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: the webhook's address in the environment, KTPLEDGER_NOTIFY not set, the
    channel named by the Settings made in code. Before, its rows stayed pending for ever."""
    monkeypatch.setenv("KTPLEDGER_WEBHOOK_URL", webhook_server.url)
    monkeypatch.setenv("KTPLEDGER_WEBHOOK_SECRET", SECRET)
    app = bootstrap(Settings(database_url=sqlite_url, notify_channels=("webhook",)))
    try:
        assert list(app.notifiers) == ["webhook"]
        over_budget(app)
    finally:
        app.close()  # waits for the delivery the append asked for
    assert "over_budget" in delivered_kinds(webhook_server)
    reader = bootstrap(Settings(database_url=sqlite_url), read_only=True)
    try:
        assert outbox(reader)
        assert {status for _, status in outbox(reader)} == {"delivered"}
    finally:
        reader.close()


def test_channel_settings_given_in_code_need_no_environment(
    sqlite_url: str, webhook_server: WebhookServer
) -> None:
    channels = ChannelSettings(webhook_url=webhook_server.url, webhook_secret=SECRET)
    app = bootstrap(Settings(database_url=sqlite_url, notify_channels=("log", "webhook"), channels=channels))
    try:
        assert list(app.notifiers) == ["log", "webhook"]
        over_budget(app)
    finally:
        app.close()
    assert "over_budget" in delivered_kinds(webhook_server)


@pytest.mark.parametrize(
    ("channel", "variable"), [("webhook", "KTPLEDGER_WEBHOOK_URL"), ("email", "KTPLEDGER_SMTP_HOST")]
)
def test_a_named_channel_without_its_settings_is_refused_by_name(
    sqlite_url: str, channel: str, variable: str
) -> None:
    """No outbox rows for a channel nothing can send: the App is not built at all, the error names
    the missing variable. An App that only reads builds no notifier and is not refused."""
    settings = Settings(database_url=sqlite_url, notify_channels=(channel,), channels=ChannelSettings())
    with pytest.raises(ValueError, match=f"{variable} must be set for the {channel} alert channel"):
        bootstrap(settings)
    bootstrap(settings, read_only=True).close()


def test_an_unknown_channel_in_settings_made_in_code_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="unknown alert channel 'sms'"):
        bootstrap(Settings(database_url=sqlite_url, notify_channels=("sms",)))


def test_bootstrap_does_not_read_the_environment_again(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings that name the log alone build the log alone, whatever the environment says now:
    before, a KTPLEDGER_NOTIFY naming a webhook without its address failed every write."""
    settings = Settings(database_url=sqlite_url, notify_channels=("log",))
    monkeypatch.setenv("KTPLEDGER_NOTIFY", "webhook")
    app = bootstrap(settings)
    try:
        assert list(app.notifiers) == ["log"]
    finally:
        app.close()


def test_from_env_reads_the_channels_once() -> None:
    settings = Settings.from_env(
        {
            "KTPLEDGER_NOTIFY": "webhook,email",
            "KTPLEDGER_WEBHOOK_URL": "https://hooks.example.org/ktp",
            "KTPLEDGER_WEBHOOK_SECRET": "hmac-key-never-shown",
            "KTPLEDGER_SMTP_HOST": "smtp.example.org",
            "KTPLEDGER_SMTP_PORT": "587",
        }
    )
    assert settings.notify_channels == ("webhook", "email")
    assert settings.channels == ChannelSettings(
        webhook_url="https://hooks.example.org/ktp",
        webhook_secret="hmac-key-never-shown",
        smtp_host="smtp.example.org",
        smtp_port="587",
    )
    assert "hmac-key-never-shown" not in repr(settings)  # secrets stay out of logs and tracebacks


def test_settings_made_in_code_take_the_channels_from_the_environment_when_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KTPLEDGER_WEBHOOK_URL", "https://hooks.example.org/ktp")
    settings = Settings()
    monkeypatch.setenv("KTPLEDGER_WEBHOOK_URL", "https://elsewhere.example.org/")
    assert settings.channels.webhook_url == "https://hooks.example.org/ktp"
    assert settings.with_database("sqlite://").channels == settings.channels
