"""Alert channels from the environment: which channels, and each one's settings.

    KTPLEDGER_NOTIFY            comma list of channels: log (default), webhook, email
    KTPLEDGER_WEBHOOK_URL       webhook: http(s) URL the alerts are POSTed to (required)
    KTPLEDGER_WEBHOOK_SECRET    webhook: HMAC-SHA256 key for X-KTPLedger-Signature (required)
    KTPLEDGER_SMTP_HOST         email: SMTP server (required)
    KTPLEDGER_SMTP_PORT         email: port (default 25)
    KTPLEDGER_SMTP_FROM         email: sender address (required)
    KTPLEDGER_SMTP_TO           email: comma list of recipients (required)
    KTPLEDGER_SMTP_USER         email: login name (with KTPLEDGER_SMTP_PASSWORD)
    KTPLEDGER_SMTP_PASSWORD     email: login password (with KTPLEDGER_SMTP_USER)
    KTPLEDGER_SMTP_STARTTLS     email: true/false (default false)

A setting a named channel needs and does not have is a `ValueError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ktpledger.adapters.notifiers import EmailNotifier, LogNotifier, Notifier, WebhookNotifier

CHANNELS = ("log", "webhook", "email")
DEFAULT_CHANNELS = "log"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _required(env: Mapping[str, str], name: str, channel: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise ValueError(f"{name} must be set for the {channel} alert channel (KTPLEDGER_NOTIFY)")
    return value


def notify_channels(environ: Mapping[str, str] | None = None) -> list[str]:
    """The channels named by KTPLEDGER_NOTIFY, in order, without repeats; default ["log"]. Names are
    exact (lower case): they are the `channel` of the notifications rows the projector writes."""
    env = _env(environ)
    names: list[str] = []
    for name in _comma_list(env.get("KTPLEDGER_NOTIFY") or DEFAULT_CHANNELS):
        if name not in CHANNELS:
            raise ValueError(
                f"KTPLEDGER_NOTIFY names an unknown alert channel {name!r}: choose from {', '.join(CHANNELS)}"
            )
        if name not in names:
            names.append(name)
    return names or [DEFAULT_CHANNELS]


def webhook_notifier(environ: Mapping[str, str] | None = None) -> WebhookNotifier:
    env = _env(environ)
    url = _required(env, "KTPLEDGER_WEBHOOK_URL", "webhook")
    secret = _required(env, "KTPLEDGER_WEBHOOK_SECRET", "webhook")
    try:
        return WebhookNotifier(url, secret)
    except ValueError as error:
        raise ValueError(f"KTPLEDGER_WEBHOOK_URL: {error}") from None


def _port(env: Mapping[str, str]) -> int:
    raw = (env.get("KTPLEDGER_SMTP_PORT") or "25").strip()
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"KTPLEDGER_SMTP_PORT must be a port number, not {raw!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"KTPLEDGER_SMTP_PORT must be 1 to 65535, not {port}")
    return port


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def email_notifier(environ: Mapping[str, str] | None = None) -> EmailNotifier:
    env = _env(environ)
    host = _required(env, "KTPLEDGER_SMTP_HOST", "email")
    sender = _required(env, "KTPLEDGER_SMTP_FROM", "email")
    recipients = _comma_list(_required(env, "KTPLEDGER_SMTP_TO", "email"))
    if not recipients:
        raise ValueError("KTPLEDGER_SMTP_TO must name at least one recipient for the email alert channel")
    username = env.get("KTPLEDGER_SMTP_USER") or None
    password = env.get("KTPLEDGER_SMTP_PASSWORD") or None
    if username is not None and password is None:
        raise ValueError("KTPLEDGER_SMTP_PASSWORD must be set when KTPLEDGER_SMTP_USER is")
    if password is not None and username is None:
        raise ValueError("KTPLEDGER_SMTP_USER must be set when KTPLEDGER_SMTP_PASSWORD is")
    port = _port(env)
    starttls = _flag(env, "KTPLEDGER_SMTP_STARTTLS")
    for name, addresses in (("KTPLEDGER_SMTP_FROM", [sender]), ("KTPLEDGER_SMTP_TO", recipients)):
        for address in addresses:
            if "@" not in address or any(ch in address for ch in "\r\n"):
                raise ValueError(f"{name} must hold e-mail addresses on one line, not {address!r}")
    try:
        return EmailNotifier(
            host, port, sender, recipients, username=username, password=password, starttls=starttls
        )
    except ValueError as error:
        raise ValueError(f"KTPLEDGER_SMTP_*: {error}") from None


def build_notifiers(environ: Mapping[str, str] | None = None) -> dict[str, Notifier]:
    """One notifier per channel in KTPLEDGER_NOTIFY, keyed by channel name (the notifications rows'
    `channel`). Raises ValueError naming the variable when a named channel is not fully configured."""
    env = _env(environ)
    notifiers: dict[str, Notifier] = {}
    for name in notify_channels(env):
        if name == "log":
            notifiers[name] = LogNotifier()
        elif name == "webhook":
            notifiers[name] = webhook_notifier(env)
        else:
            notifiers[name] = email_notifier(env)
    return notifiers
