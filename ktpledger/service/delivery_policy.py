"""How deliveries are retried and counted: the outbox rows' statuses, the back-off, the retry
period, the lease of a claim, and what one run did. (`ktpledger.service.notify` says how delivery
works; these names are also exported there.)"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ktpledger.settings import CHANNEL_DOWN_MINUTES, NOTIFY_RETRY_HOURS, Settings

# The longest wait between two attempts: a channel back after an outage gets its backlog within
# about this long (plus a beat of 30 s).
MAX_BACKOFF = timedelta(minutes=5)
LEASE = timedelta(minutes=5)
JITTER = 0.1
ERROR_LIMIT = 1000


@dataclass(frozen=True)
class DeliveryPolicy:
    """How long a notification is retried, when a failing channel counts as down, and how long a
    claim is held before another worker may take the row."""

    retry_period: timedelta = timedelta(hours=NOTIFY_RETRY_HOURS)
    channel_down_after: timedelta = timedelta(minutes=CHANNEL_DOWN_MINUTES)
    lease: timedelta = LEASE

    def __post_init__(self) -> None:
        if self.retry_period <= timedelta(0) or self.lease <= timedelta(0):
            raise ValueError("the retry period and the lease must be positive")
        if self.channel_down_after < timedelta(0):
            raise ValueError("channel_down_after must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(retry_period=settings.notify_retry, channel_down_after=settings.channel_down_after)


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery run did: rows delivered, rows to try again later, rows given up on."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.delivered + other.delivered, self.retried + other.retried, self.failed + other.failed
        )

    def to_json(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retried": self.retried, "failed": self.failed}


def backoff(attempts: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 2**attempts seconds, up to 10% more, at most
    `MAX_BACKOFF` (five minutes, reached after the 8th attempt)."""
    base = 2.0 ** min(max(attempts, 0), 16)
    seconds = min(base * (1 + JITTER * rng()), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=seconds)


def readable_span(span: timedelta) -> str:
    """A span for a person: seconds, minutes or hours, whichever reads best."""
    seconds = span.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:g} h" if seconds % 360 == 0 else f"{seconds / 3600:.1f} h"
