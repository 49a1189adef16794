"""Channel configuration from the environment."""

from __future__ import annotations

import pytest

from ktpledger.adapters.notifiers import EmailNotifier, LogNotifier, WebhookNotifier
from ktpledger.notify_settings import build_notifiers, notify_channels

WEBHOOK = {"KTPLEDGER_WEBHOOK_URL": "https://hooks.example.org/ktp", "KTPLEDGER_WEBHOOK_SECRET": "k"}
SMTP = {
    "KTPLEDGER_SMTP_HOST": "smtp.example.org",
    "KTPLEDGER_SMTP_FROM": "ktpledger@uni.example",
    "KTPLEDGER_SMTP_TO": "lmc@uni.example, fd@crumb.example",
}


def test_default_is_the_log_alone() -> None:
    notifiers = build_notifiers({})
    assert list(notifiers) == ["log"]
    assert isinstance(notifiers["log"], LogNotifier)
    assert notify_channels({}) == ["log"]
    assert notify_channels({"KTPLEDGER_NOTIFY": " , "}) == ["log"]


def test_all_three_channels() -> None:
    env = {
        "KTPLEDGER_NOTIFY": "log, webhook,email,log",
        **WEBHOOK,
        **SMTP,
        "KTPLEDGER_SMTP_PORT": "587",
        "KTPLEDGER_SMTP_USER": "ktp",
        "KTPLEDGER_SMTP_PASSWORD": "pw",
        "KTPLEDGER_SMTP_STARTTLS": "yes",
    }
    assert notify_channels(env) == ["log", "webhook", "email"]
    notifiers = build_notifiers(env)
    assert list(notifiers) == ["log", "webhook", "email"]
    webhook = notifiers["webhook"]
    assert isinstance(webhook, WebhookNotifier)
    assert (webhook.url, webhook.secret, webhook.timeout) == ("https://hooks.example.org/ktp", "k", 5)
    mail = notifiers["email"]
    assert isinstance(mail, EmailNotifier)
    assert (mail.host, mail.port, mail.sender) == ("smtp.example.org", 587, "ktpledger@uni.example")
    assert mail.recipients == ["lmc@uni.example", "fd@crumb.example"]
    assert (mail.username, mail.password, mail.starttls) == ("ktp", "pw", True)


def test_smtp_defaults() -> None:
    mail = build_notifiers({"KTPLEDGER_NOTIFY": "email", **SMTP})["email"]
    assert isinstance(mail, EmailNotifier)
    assert (mail.port, mail.starttls, mail.username, mail.password) == (25, False, None, None)


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KTPLEDGER_NOTIFY", "webhook")
    for name, value in WEBHOOK.items():
        monkeypatch.setenv(name, value)
    assert list(build_notifiers()) == ["webhook"]


@pytest.mark.parametrize("missing", ["KTPLEDGER_WEBHOOK_URL", "KTPLEDGER_WEBHOOK_SECRET"])
def test_webhook_needs_its_settings(missing: str) -> None:
    env = {"KTPLEDGER_NOTIFY": "log,webhook", **WEBHOOK}
    env[missing] = ""
    with pytest.raises(ValueError, match=missing):
        build_notifiers(env)
    del env[missing]
    with pytest.raises(ValueError, match=missing):
        build_notifiers(env)


@pytest.mark.parametrize("missing", ["KTPLEDGER_SMTP_HOST", "KTPLEDGER_SMTP_FROM", "KTPLEDGER_SMTP_TO"])
def test_email_needs_its_settings(missing: str) -> None:
    env = {"KTPLEDGER_NOTIFY": "email", **SMTP}
    del env[missing]
    with pytest.raises(ValueError, match=missing):
        build_notifiers(env)


def test_settings_of_unnamed_channels_are_not_needed() -> None:
    assert list(build_notifiers({"KTPLEDGER_NOTIFY": "log", "KTPLEDGER_SMTP_PORT": "nonsense"})) == ["log"]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"KTPLEDGER_NOTIFY": "log,sms"}, "KTPLEDGER_NOTIFY"),
        ({"KTPLEDGER_NOTIFY": "Log"}, "KTPLEDGER_NOTIFY"),
        (
            {"KTPLEDGER_NOTIFY": "webhook", **WEBHOOK, "KTPLEDGER_WEBHOOK_URL": "file:///etc/passwd"},
            "KTPLEDGER_WEBHOOK_URL",
        ),
        ({"KTPLEDGER_NOTIFY": "email", **SMTP, "KTPLEDGER_SMTP_PORT": "smtp"}, "KTPLEDGER_SMTP_PORT"),
        ({"KTPLEDGER_NOTIFY": "email", **SMTP, "KTPLEDGER_SMTP_PORT": "70000"}, "KTPLEDGER_SMTP_PORT"),
        (
            {"KTPLEDGER_NOTIFY": "email", **SMTP, "KTPLEDGER_SMTP_STARTTLS": "maybe"},
            "KTPLEDGER_SMTP_STARTTLS",
        ),
        ({"KTPLEDGER_NOTIFY": "email", **SMTP, "KTPLEDGER_SMTP_USER": "ktp"}, "KTPLEDGER_SMTP_PASSWORD"),
        ({"KTPLEDGER_NOTIFY": "email", **SMTP, "KTPLEDGER_SMTP_PASSWORD": "pw"}, "KTPLEDGER_SMTP_USER"),
        ({"KTPLEDGER_NOTIFY": "email", **SMTP, "KTPLEDGER_SMTP_TO": " , "}, "KTPLEDGER_SMTP_TO"),
        ({"KTPLEDGER_NOTIFY": "email", **SMTP, "KTPLEDGER_SMTP_TO": "lmc"}, "KTPLEDGER_SMTP_TO"),
        (
            {
                "KTPLEDGER_NOTIFY": "email",
                **SMTP,
                "KTPLEDGER_SMTP_FROM": "a@b.example\r\nBcc: x@evil.example",
            },
            "KTPLEDGER_SMTP_FROM",
        ),
    ],
)
def test_bad_configuration_is_a_clear_value_error(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ValueError, match=variable):
        build_notifiers(env)


def test_retry_period_and_channel_down_time_from_the_environment() -> None:
    from datetime import timedelta

    from ktpledger.service.notify import DeliveryPolicy
    from ktpledger.settings import Settings

    default = Settings.from_env({})
    assert (default.notify_retry, default.channel_down_after) == (timedelta(hours=72), timedelta(minutes=5))
    chosen = Settings.from_env(
        {"KTPLEDGER_NOTIFY_RETRY_HOURS": "24", "KTPLEDGER_CHANNEL_DOWN_MINUTES": "0.5"}
    )
    assert DeliveryPolicy.from_settings(chosen) == DeliveryPolicy(
        retry_period=timedelta(hours=24), channel_down_after=timedelta(seconds=30)
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("KTPLEDGER_NOTIFY_RETRY_HOURS", "three days", "must be a number of hours"),
        ("KTPLEDGER_NOTIFY_RETRY_HOURS", "0", "must be more than 0 hours"),
        ("KTPLEDGER_NOTIFY_RETRY_HOURS", "9000", "between 0 and 8784"),
        ("KTPLEDGER_CHANNEL_DOWN_MINUTES", "5m", "must be a number of minutes"),
        ("KTPLEDGER_CHANNEL_DOWN_MINUTES", "-1", "between 0 and 10080"),
    ],
)
def test_bad_notification_settings_are_refused_by_name(name: str, value: str, says: str) -> None:
    from typer.testing import CliRunner

    from ktpledger.cli import app
    from ktpledger.settings import Settings

    with pytest.raises(ValueError, match=f"{name} .*{says}"):
        Settings.from_env({name: value})
    result = CliRunner().invoke(app, ["notifications"], env={name: value})
    assert result.exit_code == 2 and name in result.stderr
