"""Acknowledging an alert (R-39): the one use case the command line (`ktpledger acknowledge`), the
HTTP API (`POST /alerts/{id}/acknowledgement`) and a dashboard form call.

An alert is shown by its projection id; the ledger names it by its crossing (project, category,
kind, subject, raised_at_version), which a replay keeps whatever ids it gives. This module turns the
one into the other, records an `AlertAcknowledged` event through the ledger like any other (so the
ledger's rules, hash chain and `recorded_by` apply), and returns the alert as readers now show it.

Decisions (docs/rules.md, R-39): a resolved alert may be acknowledged too (the note says why it
happened or what was done; the alert may have resolved while someone was reading it); an alert is
acknowledged once: a second acknowledgement is refused, naming the first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ktpledger.adapters.projection_sql import projection_store
from ktpledger.adapters.projection_store import AlertRecord
from ktpledger.domain.alert_views import ShownAlert, long_date
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import AlertAcknowledged
from ktpledger.domain.recorded import RecordedBy
from ktpledger.service.alert_reader import presented
from ktpledger.service.ledger import AppendResult, Ledger
from ktpledger.service.projection_views import alert_json


class UnknownAlert(RuleViolation):
    """No stored alert has that id (R-39, on the field `alert`): the HTTP API answers 404."""

    def __init__(self, alert_id: int) -> None:
        super().__init__(
            "R-39",
            f"there is no alert {alert_id}: `ktpledger alerts --all` lists the alerts and their ids",
            field="alert",
        )
        self.alert_id = alert_id


@dataclass(frozen=True)
class Acknowledged:
    """What acknowledging did: the ledger's result (recorded, at a version) and the alert as it is
    now shown (acknowledged, once the projection has caught up)."""

    result: AppendResult
    alert: ShownAlert


def find_alert(ledger: Ledger, alert_id: int) -> AlertRecord:
    """The stored alert of `alert_id`, or `UnknownAlert`."""
    with projection_store(ledger.database).read() as unit:
        found = unit.alerts.find(alert_id)
    if found is None:
        raise UnknownAlert(alert_id)
    return found


def acknowledgement_event(alert: AlertRecord, note: str, on: date, key: str | None = None) -> dict[str, Any]:
    """The `AlertAcknowledged` event (docs/events.md) of `alert` with `note`, dated `on`, with the
    idempotency `key` (a new random one when None)."""
    data = {
        "category": alert.category,
        "kind": alert.kind,
        "subject": alert.subject,
        "raised_at_version": alert.raised_at_version,
        "note": note,
    }
    return {
        "type": AlertAcknowledged.TYPE,
        "project": alert.project,
        "key": key or f"acknowledgement-{uuid.uuid4().hex}",
        "date": on.isoformat(),
        "data": data,
    }


def checked(
    ledger: Ledger,
    alert_id: int,
    note: str,
    *,
    on: date,
    project: str | None = None,
    projects: Iterable[str] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """The `AlertAcknowledged` event that `acknowledge` would record, checked as far as it can be
    without recording (the alert, its project, a first acknowledgement, the date, and the event's
    own fields: an empty or too long note); raises `RuleViolation` (R-39) when refused. A dashboard
    preview calls it alone; nothing is recorded."""
    alert = find_alert(ledger, alert_id)
    if projects is not None and alert.project not in set(projects):
        raise UnknownAlert(alert_id)
    if project is not None and alert.project != project:
        raise RuleViolation(
            "R-39",
            f"alert {alert_id} is an alert of project {alert.project}, not of {project}",
            field="alert",
        )
    if alert.acknowledged_at_version is not None:
        when = "" if alert.acknowledged_on is None else f" on {long_date(alert.acknowledged_on)}"
        raise RuleViolation(
            "R-39",
            f"alert {alert_id} was acknowledged already{when} by {alert.acknowledged_by_name or 'someone'}: "
            "an alert is acknowledged once",
            field="alert",
        )
    if alert.raised_on is not None and on < alert.raised_on:
        raise RuleViolation(
            "R-39",
            f"an acknowledgement dated {on} cannot precede the alert, raised on {alert.raised_on}",
            field="date",
        )
    event = acknowledgement_event(alert, note, on, key)
    AlertAcknowledged.parse(event["data"])  # the event's own rules (the note's text), as the ledger's
    return event


def acknowledge(
    ledger: Ledger,
    alert_id: int,
    note: str,
    recorded_by: RecordedBy,
    *,
    on: date,
    project: str | None = None,
    projects: Iterable[str] | None = None,
    key: str | None = None,
) -> Acknowledged:
    """Acknowledge alert `alert_id` (its id as readers show it) with `note`, dated `on`, recorded by
    `recorded_by`; `project`, when given, is the project the caller means (an alert of another is
    refused); `projects`, when given, those the caller may see (an alert of another reads as
    unknown); `key`, when given, the event's idempotency key (a dashboard form's `dashboard:NONCE`,
    so a second confirm records nothing), else a new random one. Raises `RuleViolation` (R-39, or
    the rule an event breaks) and records nothing."""
    event = checked(ledger, alert_id, note, on=on, project=project, projects=projects, key=key)
    [result] = ledger.append([event], recorded_by=recorded_by)
    if result.error is not None:
        raise result.error
    now = find_alert(ledger, alert_id)
    [shown] = presented(ledger.database, [alert_json(now)], today=on)
    return Acknowledged(result=result, alert=shown)
