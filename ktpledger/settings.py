"""Settings from the environment (CONTRACT.md, Configuration); read once, by the composition root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_day
from ktpledger.notify_settings import notify_channels

DEFAULT_DATABASE_URL = "sqlite:///ktpledger.db"
RENOTIFY_AFTER_HOURS = 24


def calendar_today() -> date:
    """Today in the UK, where KTPs run (the machine's own date if it has no time zone data)."""
    try:
        return datetime.now(ZoneInfo("Europe/London")).date()
    except ZoneInfoNotFoundError:
        return date.today()


def parse_today(text: str, *, name: str = "KTPLEDGER_TODAY") -> date:
    """The readers' day, bounded as every day a reader asks about (R-40)."""
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


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for a bare `postgresql://` URL, as CONTRACT.md names `postgresql+psycopg://`."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and where tasks go: no broker means tasks run in-process (eager)."""

    database_url: str = DEFAULT_DATABASE_URL
    broker_url: str | None = None
    notify_channels: tuple[str, ...] = ("log",)
    # The day readers judge time-based figures on (month N of M, forecasts, "ended, not closed");
    # None: the calendar's today. Set by KTPLEDGER_TODAY, or --today / ?today= per read.
    today: date | None = None
    # An alert raised again this soon after the same alert resolved is recorded but not notified.
    renotify_after: timedelta = timedelta(hours=RENOTIFY_AFTER_HOURS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        today = env.get("KTPLEDGER_TODAY")
        renotify = env.get("KTPLEDGER_RENOTIFY_AFTER_HOURS")
        return cls(
            database_url=normalise_database_url(env.get("KTPLEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL),
            broker_url=env.get("KTPLEDGER_BROKER_URL") or None,
            notify_channels=tuple(notify_channels(env)),
            today=parse_today(today) if today else None,
            renotify_after=(
                parse_hours(renotify, name="KTPLEDGER_RENOTIFY_AFTER_HOURS")
                if renotify
                else timedelta(hours=RENOTIFY_AFTER_HOURS)
            ),
        )

    def reading_day(self, override: date | None = None) -> date:
        """The day a read judges time on: `override` (--today), else KTPLEDGER_TODAY, else today."""
        return override or self.today or calendar_today()

    def with_broker(self, url: str | None) -> Settings:
        return replace(self, broker_url=url or None)

    def with_database(self, url: str | None) -> Settings:
        return self if not url else replace(self, database_url=normalise_database_url(url))
