"""The two notification outboxes, described once so that one delivery loop works both.

- `notifications`: a row per KTP alert (`alerts`, a projection of the ledger) and channel;
- `system_notifications`: a row per system alert (`system_alerts`: the service's own troubles, for
  administrators) and channel.

Both have the same columns apart from the reference to their alert. Each outbox knows how to turn
its alert's row into the message a notifier sends: a JSON-able mapping with a `type` (`alert` or
`system_alert`) and a `delivery_id`, stable across retries, resends and replays
(`ktpledger.domain.delivery`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ktpledger.adapters.notification_store import ALERT_OUTBOX, SYSTEM_OUTBOX
from ktpledger.domain.delivery import alert_delivery_id, system_delivery_id
from ktpledger.service.projections import alert_json
from ktpledger.service.system_alerts import system_alert_json

ALERT = ALERT_OUTBOX
SYSTEM = SYSTEM_OUTBOX
# Shows KTP alerts (as `alert_json` gives them) as every reader does, with their figures as of a
# day: `alert_reader.present_alerts` on the database, by default.
Presenter = Callable[[list[dict[str, Any]], date], list[dict[str, Any]]]


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one (as SQLite returns them) is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def alert_message_id(row: Any, channel: str) -> str:
    """The delivery id of a KTP alert's message on `channel`, from the alert's row."""
    return alert_delivery_id(
        project=row.project,
        category=row.category,
        kind=row.kind,
        subject=row.subject,
        raised_at_version=int(row.raised_at_version),
        channel=channel,
    )


def system_message_id(row: Any, channel: str) -> str:
    """The delivery id of a system alert's message on `channel`, from the system alert's row."""
    return system_delivery_id(kind=row.kind, subject=row.subject, raised_at=row.raised_at, channel=channel)


def _alert_message(present: Presenter, row: Any, channel: str, now: datetime) -> dict[str, Any]:
    # Sent with its figures as they stand now (and as raised), as every reader shows it.
    [shown] = present([alert_json(row)], utc(now).date())
    return {**shown, "type": "alert", "delivery_id": alert_message_id(row, channel)}


def _system_message(present: Presenter, row: Any, channel: str, now: datetime) -> dict[str, Any]:
    return {**system_alert_json(row), "type": "system_alert", "delivery_id": system_message_id(row, channel)}


@dataclass(frozen=True)
class Outbox:
    """One outbox, by the name the notification store knows it by, and how its message is made."""

    name: str  # "alert" | "system": how the store, listings and resends name it
    render: Callable[[Presenter, Any, str, datetime], dict[str, Any]]  # (present, alert row, channel, now)
    message_id: Callable[[Any, str], str]


ALERTS = Outbox(ALERT, _alert_message, alert_message_id)
SYSTEM_ALERTS = Outbox(SYSTEM, _system_message, system_message_id)
# The service's own troubles go first: an administrator hears that a channel is down before the
# backlog it held up.
OUTBOXES = (SYSTEM_ALERTS, ALERTS)
BY_NAME = {outbox.name: outbox for outbox in OUTBOXES}
