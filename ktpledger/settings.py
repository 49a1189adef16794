"""Settings from the environment (README.md, "Configuration").

The one place that reads the environment: each process's composition root (the command line's
root command, the HTTP app factory, a Celery worker) calls `Settings.from_env()` once and passes the
`Settings` down; `bootstrap` builds everything from it and reads nothing else. A `Settings` made in
code takes the alert channels' addresses and secrets (`ChannelSettings`) from the environment when
it is made, unless it is given them: secrets belong in the environment, not in code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ktpledger.notify_settings import ChannelSettings, digest_named, email_kinds, notify_channels
from ktpledger.serve_settings import ServeLimits, serve_limits

DEFAULT_DATABASE_URL = "sqlite:///ktpledger.db"
RENOTIFY_AFTER_HOURS = 24
NOTIFY_RETRY_HOURS = 72  # how long a notification is retried, from its first attempt
CHANNEL_DOWN_MINUTES = 5  # how long a channel fails every attempt before `channel_down` is raised


def calendar_today() -> date:
    """Today in the UK, where KTPs run (the machine's own date if it has no time zone data)."""
    try:
        return datetime.now(ZoneInfo("Europe/London")).date()
    except ZoneInfoNotFoundError:
        return date.today()  # noqa: DTZ011 - no zone data: the machine's date is the best there is


# Innovate UK asks for an independent accountant's report with a final claim above a set grant;
# ktpledger's default is £250,000 of grant (an assumption to confirm against the grant offer's
# terms: set KTPLEDGER_INDEPENDENT_REPORT_THRESHOLD to the figure your offer letter gives).
INDEPENDENT_REPORT_THRESHOLD = Decimal("250000.00")


def parse_threshold(text: str | None, *, name: str) -> Decimal | None:
    """A grant threshold in pounds ("250000", "250000.00"); "none" or "off" for none; unset: the default."""
    if text is None or not text.strip():
        return INDEPENDENT_REPORT_THRESHOLD
    if text.strip().lower() in {"none", "off"}:
        return None
    try:
        value = Decimal(text.strip().replace(",", "").lstrip("£"))
    except InvalidOperation:
        raise ValueError(
            f"{name} must be an amount in pounds such as 250000.00, or none; got {text!r}"
        ) from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be an amount in pounds of 0 or more, or none; got {text!r}")
    return value.quantize(Decimal("0.01"))


def parse_today(text: str, *, name: str = "KTPLEDGER_TODAY") -> date:
    """The readers' day, bounded as every day a reader asks about (R-40)."""
    # Imported here, when KTPLEDGER_TODAY is set: every command line reads the settings first.
    from ktpledger.domain.errors import RuleViolation
    from ktpledger.domain.events import parse_day

    try:
        found = parse_day(text.strip(), field=name)
    except RuleViolation as error:
        raise ValueError(f"{error.rule}: {error.message}") from None
    assert found is not None
    return found


def parse_hours(text: str, *, name: str) -> timedelta:
    try:
        hours = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of hours such as 24, got {text!r}") from None
    if not 0 <= hours <= 24 * 366:
        raise ValueError(f"{name} must be between 0 and 8784 hours, got {text!r}")
    return timedelta(hours=hours)


def parse_retry_hours(text: str, *, name: str = "KTPLEDGER_NOTIFY_RETRY_HOURS") -> timedelta:
    period = parse_hours(text, name=name)
    if period <= timedelta(0):
        raise ValueError(f"{name} must be more than 0 hours (72 is three days), got {text!r}")
    return period


def parse_minutes(text: str, *, name: str) -> timedelta:
    try:
        minutes = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of minutes such as 5, got {text!r}") from None
    if not 0 <= minutes <= 7 * 24 * 60:
        raise ValueError(f"{name} must be between 0 and 10080 minutes (a week), got {text!r}")
    return timedelta(minutes=minutes)


def channels_from_environment() -> ChannelSettings:
    """The alert channels' settings in this process's environment (a `Settings` made in code)."""
    return ChannelSettings.from_env(os.environ)


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for a bare `postgresql://` URL, as the documented URLs are `postgresql+psycopg://`."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and where tasks go: no broker means projections catch up in this process, after each append."""

    database_url: str = DEFAULT_DATABASE_URL
    broker_url: str | None = None
    notify_channels: tuple[str, ...] = ("log",)
    # Each named channel's address and secrets (KTPLEDGER_WEBHOOK_*, KTPLEDGER_SMTP_*), checked when
    # its notifier is built: `bootstrap` builds one for every channel in `notify_channels`.
    channels: ChannelSettings = field(default_factory=channels_from_environment)
    # The day readers judge time-based figures on (month N of M, forecasts, "ended, not closed");
    # None: the calendar's today. Set by KTPLEDGER_TODAY, or --today / ?today= per read.
    today: date | None = None
    # An alert raised again this soon after the same alert resolved is recorded but not notified.
    renotify_after: timedelta = timedelta(hours=RENOTIFY_AFTER_HOURS)
    # Checkpoints (README, "Tamper evidence"): the Ed25519 private key that signs them, and the
    # public key `verify --against` checks them with (default: the private key's own half). Paths to
    # PEM files kept outside the database; unset: checkpoints are made unsigned.
    checkpoint_key: str | None = None
    checkpoint_public_key: str | None = None
    # The HTTP server's limits (`ktpledger serve`): connections, timeouts, head and body sizes.
    limits: ServeLimits = field(default_factory=ServeLimits)
    # A notification is retried (back-off capped at a few minutes) for this long after its first
    # attempt, then marked failed; KTPLEDGER_NOTIFY_RETRY_HOURS.
    notify_retry: timedelta = timedelta(hours=NOTIFY_RETRY_HOURS)
    # A channel that has failed every attempt for this long raises `channel_down`;
    # KTPLEDGER_CHANNEL_DOWN_MINUTES.
    channel_down_after: timedelta = timedelta(minutes=CHANNEL_DOWN_MINUTES)
    # A folder of import profiles (*.toml) the dashboard's export upload offers to pick from;
    # KTPLEDGER_IMPORT_PROFILES. None: the person uploads the profile with the export.
    import_profiles: str | None = None
    # Digest notifications (KTPLEDGER_NOTIFY names `digest`): the recipients' TOML file
    # (KTPLEDGER_DIGEST_RECIPIENTS, read by `bootstrap`), and the kinds the `email` channel still
    # sends one e-mail each (KTPLEDGER_EMAIL_KINDS; None: every kind).
    digest: bool = False
    digest_recipients: str | None = None
    email_kinds: frozenset[str] | None = None
    # The grant above which a final claim needs an independent accountant's report as well as the
    # finance officer's statement: the reports say so when the grant crosses it;
    # KTPLEDGER_INDEPENDENT_REPORT_THRESHOLD ("none" for no such note).
    independent_report_threshold: Decimal | None = INDEPENDENT_REPORT_THRESHOLD

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        today = env.get("KTPLEDGER_TODAY")
        renotify = env.get("KTPLEDGER_RENOTIFY_AFTER_HOURS")
        retry = env.get("KTPLEDGER_NOTIFY_RETRY_HOURS")
        down = env.get("KTPLEDGER_CHANNEL_DOWN_MINUTES")
        return cls(
            database_url=normalise_database_url(env.get("KTPLEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL),
            broker_url=env.get("KTPLEDGER_BROKER_URL") or None,
            notify_channels=tuple(notify_channels(env)),
            channels=ChannelSettings.from_env(env),
            today=parse_today(today) if today else None,
            renotify_after=(
                parse_hours(renotify, name="KTPLEDGER_RENOTIFY_AFTER_HOURS")
                if renotify
                else timedelta(hours=RENOTIFY_AFTER_HOURS)
            ),
            checkpoint_key=env.get("KTPLEDGER_CHECKPOINT_KEY") or None,
            checkpoint_public_key=env.get("KTPLEDGER_CHECKPOINT_PUBLIC_KEY") or None,
            limits=serve_limits(env),
            notify_retry=parse_retry_hours(retry) if retry else timedelta(hours=NOTIFY_RETRY_HOURS),
            channel_down_after=(
                parse_minutes(down, name="KTPLEDGER_CHANNEL_DOWN_MINUTES")
                if down
                else timedelta(minutes=CHANNEL_DOWN_MINUTES)
            ),
            import_profiles=env.get("KTPLEDGER_IMPORT_PROFILES") or None,
            digest=digest_named(env),
            digest_recipients=env.get("KTPLEDGER_DIGEST_RECIPIENTS") or None,
            email_kinds=email_kinds(env, digest=digest_named(env)),
            independent_report_threshold=parse_threshold(
                env.get("KTPLEDGER_INDEPENDENT_REPORT_THRESHOLD"),
                name="KTPLEDGER_INDEPENDENT_REPORT_THRESHOLD",
            ),
        )

    def reading_day(self, override: date | None = None) -> date:
        """The day a read judges time on: `override` (--today), else KTPLEDGER_TODAY, else today."""
        return override or self.today or calendar_today()

    def with_limits(self, limits: ServeLimits) -> Settings:
        return replace(self, limits=limits)

    def with_database(self, url: str | None) -> Settings:
        return self if not url else replace(self, database_url=normalise_database_url(url))

    def child_environment(self) -> dict[str, str]:
        """The environment of a process started to work with these settings (`ktpledger worker`):
        this one's, with the database and broker these settings name (a --db given included)."""
        environment = dict(os.environ)
        environment["KTPLEDGER_DATABASE_URL"] = self.database_url
        if self.broker_url is not None:
            environment["KTPLEDGER_BROKER_URL"] = self.broker_url
        return environment
