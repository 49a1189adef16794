"""Alert channels' settings: which channels, and each one's address and secrets.

    KTPLEDGER_NOTIFY            comma list of channels: log (default), webhook, email, digest
    KTPLEDGER_WEBHOOK_URL       webhook: http(s) URL the alerts are POSTed to (required)
    KTPLEDGER_WEBHOOK_SECRET    webhook: HMAC-SHA256 key for X-KTPLedger-Signature (required)
    KTPLEDGER_SMTP_HOST         email: SMTP server (required)
    KTPLEDGER_SMTP_PORT         email: port (default 25)
    KTPLEDGER_SMTP_FROM         email: sender address (required)
    KTPLEDGER_SMTP_TO           email: comma list of recipients (required)
    KTPLEDGER_SMTP_USER         email: login name (with KTPLEDGER_SMTP_PASSWORD)
    KTPLEDGER_SMTP_PASSWORD     email: login password (with KTPLEDGER_SMTP_USER)
    KTPLEDGER_SMTP_STARTTLS     email: true/false (default false)
    KTPLEDGER_EMAIL_KINDS       email: comma list of the alert kinds sent one e-mail each (default:
                                all; with the digest channel on, over_cap,over_budget)
    KTPLEDGER_DIGEST_RECIPIENTS digest: the recipients' TOML file (required; `digest_settings`);
                                the digest is sent through the KTPLEDGER_SMTP_* server and sender

`digest` is no outbox channel: no notification row is ever queued for it. Digests are composed
and sent by `ktpledger digest send` (and the workers' beat), from their own table.

`Settings.from_env` reads them once (`notify_channels`, `ChannelSettings.from_env`); the composition
root builds the notifiers of the channels the settings name (`notifiers_for`). A setting a named
channel needs and does not have is a `ValueError` naming the variable, raised when its notifier is
built: an App that only reads builds none, so a read never fails on a channel's settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ktpledger.adapters.notifiers import EmailNotifier, Notifier, WebhookNotifier

CHANNELS = ("log", "webhook", "email")  # the outboxes' channels: a row per alert and channel
DIGEST = "digest"
IMMEDIATE_WITH_DIGEST = frozenset({"over_cap", "over_budget"})
DEFAULT_CHANNELS = "log"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class ChannelSettings:
    """The webhook's and the SMTP server's settings as given (text, "" when unset), one field per
    variable; checked when the notifier of a named channel is built."""

    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    smtp_host: str = ""
    smtp_port: str = ""  # "" is 25
    smtp_from: str = ""
    smtp_to: str = ""
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: str = ""  # "" is false

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ChannelSettings:
        return cls(
            webhook_url=env.get("KTPLEDGER_WEBHOOK_URL") or "",
            webhook_secret=env.get("KTPLEDGER_WEBHOOK_SECRET") or "",
            smtp_host=env.get("KTPLEDGER_SMTP_HOST") or "",
            smtp_port=env.get("KTPLEDGER_SMTP_PORT") or "",
            smtp_from=env.get("KTPLEDGER_SMTP_FROM") or "",
            smtp_to=env.get("KTPLEDGER_SMTP_TO") or "",
            smtp_user=env.get("KTPLEDGER_SMTP_USER") or "",
            smtp_password=env.get("KTPLEDGER_SMTP_PASSWORD") or "",
            smtp_starttls=env.get("KTPLEDGER_SMTP_STARTTLS") or "",
        )


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _required(value: str, name: str, channel: str) -> str:
    if not value.strip():
        raise ValueError(f"{name} must be set for the {channel} alert channel (KTPLEDGER_NOTIFY)")
    return value.strip()


def notify_channels(env: Mapping[str, str]) -> list[str]:
    """The channels named by KTPLEDGER_NOTIFY, in order, without repeats; default ["log"]. Names are
    exact (lower case): they are the `channel` of the notifications rows the projector writes."""
    names: list[str] = []
    named = _comma_list(env.get("KTPLEDGER_NOTIFY") or DEFAULT_CHANNELS)
    for name in named:
        if name == DIGEST:
            continue  # no outbox channel (module docstring): `digest_named`
        if name not in CHANNELS:
            raise ValueError(
                f"KTPLEDGER_NOTIFY names an unknown alert channel {name!r}: choose from "
                f"{', '.join((*CHANNELS, DIGEST))}"
            )
        if name not in names:
            names.append(name)
    if not names and DIGEST in named:
        return []  # the digest alone: nothing is sent one alert at a time
    return names or [DEFAULT_CHANNELS]


def digest_named(env: Mapping[str, str]) -> bool:
    """Whether KTPLEDGER_NOTIFY names the digest channel."""
    return DIGEST in _comma_list(env.get("KTPLEDGER_NOTIFY") or DEFAULT_CHANNELS)


def email_kinds(env: Mapping[str, str], *, digest: bool) -> frozenset[str] | None:
    """The alert kinds the `email` channel sends one e-mail each (KTPLEDGER_EMAIL_KINDS, a comma
    list; "all" or unset without the digest: None, every kind). With the digest on, unset means
    over_cap and over_budget only: the other kinds come in the digest."""
    raw = (env.get("KTPLEDGER_EMAIL_KINDS") or "").strip()
    if not raw:
        return IMMEDIATE_WITH_DIGEST if digest else None
    if raw.lower() == "all":
        return None
    from ktpledger.domain.alerts import AlertKind  # only when kinds are named: the settings load fast

    known = {kind.value for kind in AlertKind}
    kinds = _comma_list(raw.lower())
    for kind in kinds:
        if kind not in known:
            raise ValueError(
                f"KTPLEDGER_EMAIL_KINDS names an unknown alert kind {kind!r}: choose from "
                f"{', '.join(sorted(known))}, or all"
            )
    return frozenset(kinds)


def webhook_notifier(settings: ChannelSettings) -> WebhookNotifier:
    from ktpledger.adapters.notifiers import WebhookNotifier

    url = _required(settings.webhook_url, "KTPLEDGER_WEBHOOK_URL", "webhook")
    secret = _required(settings.webhook_secret, "KTPLEDGER_WEBHOOK_SECRET", "webhook")
    try:
        return WebhookNotifier(url, secret)
    except ValueError as error:
        raise ValueError(f"KTPLEDGER_WEBHOOK_URL: {error}") from None


def _port(settings: ChannelSettings) -> int:
    raw = (settings.smtp_port or "25").strip()
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"KTPLEDGER_SMTP_PORT must be a port number, not {raw!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"KTPLEDGER_SMTP_PORT must be 1 to 65535, not {port}")
    return port


def _flag(value: str, name: str) -> bool:
    raw = value.strip().lower()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def email_notifier(settings: ChannelSettings, *, channel: str = "email") -> EmailNotifier:
    """The e-mail channel's notifier; for the digest (`channel` "digest"), its SMTP server and
    sender only: KTPLEDGER_SMTP_TO is not needed (the digest's recipients are in their file) and
    the notifier's recipients are the sender, never used."""
    from ktpledger.adapters.notifiers import EmailNotifier

    host = _required(settings.smtp_host, "KTPLEDGER_SMTP_HOST", channel)
    sender = _required(settings.smtp_from, "KTPLEDGER_SMTP_FROM", channel)
    if channel == DIGEST:
        recipients = [sender]
    else:
        recipients = _comma_list(_required(settings.smtp_to, "KTPLEDGER_SMTP_TO", channel))
    if not recipients:
        raise ValueError("KTPLEDGER_SMTP_TO must name at least one recipient for the email alert channel")
    username = settings.smtp_user or None
    password = settings.smtp_password or None
    if username is not None and password is None:
        raise ValueError("KTPLEDGER_SMTP_PASSWORD must be set when KTPLEDGER_SMTP_USER is")
    if password is not None and username is None:
        raise ValueError("KTPLEDGER_SMTP_USER must be set when KTPLEDGER_SMTP_PASSWORD is")
    port = _port(settings)
    starttls = _flag(settings.smtp_starttls, "KTPLEDGER_SMTP_STARTTLS")
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


def notifiers_for(channels: Iterable[str], settings: ChannelSettings) -> dict[str, Notifier]:
    """One notifier per channel in `channels`, keyed by channel name (the notifications rows'
    `channel`). Raises ValueError naming the variable when a channel is not fully configured."""
    from ktpledger.adapters.notifiers import LogNotifier

    notifiers: dict[str, Notifier] = {}
    for name in channels:
        if name == "log":
            notifiers[name] = LogNotifier()
        elif name == "webhook":
            notifiers[name] = webhook_notifier(settings)
        elif name == "email":
            notifiers[name] = email_notifier(settings)
        else:
            raise ValueError(f"unknown alert channel {name!r}: choose from {', '.join(CHANNELS)}")
    return notifiers


def build_notifiers(environ: Mapping[str, str] | None = None) -> dict[str, Notifier]:
    """The notifiers of the channels `environ` names (default: this process's environment), for
    a script or a test that has no `Settings`. The App never calls it: `bootstrap` builds its
    notifiers from the settings it is given (`notifiers_for`), which read the environment once."""
    env = os.environ if environ is None else environ
    return notifiers_for(notify_channels(env), ChannelSettings.from_env(env))
