"""How projections are shown: the JSON of allowance reports, lines and alerts (docs/cli.md), and
alerts made comparable between a replay and the live run."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.allowances import Allowance
from ktpledger.domain.money import format_money


@dataclass(frozen=True)
class AllowanceReport:
    """`ktpledger allowances`: a project's lines as of a date (None: as of the ledger's head)."""

    project: str
    as_of: date | None
    end: date
    grant_rate: Decimal
    lines: list[Allowance]
    version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "end": self.end.isoformat(),
            "grant_rate": f"{self.grant_rate:.2f}",
            "version": self.version,
            "lines": [allowance_json(line) for line in self.lines],
        }


def allowance_json(line: Allowance) -> dict[str, Any]:
    return {
        "category": line.category.value,
        "budget": format_money(line.budget),
        "limit": None if line.limit is None else format_money(line.limit),
        "limit_kind": line.limit_kind.value,
        "spent": format_money(line.spent),
        "remaining": format_money(line.remaining),
        "eligible": format_money(line.eligible),
        "ineligible": format_money(line.ineligible),
    }


def alert_json(row: Any) -> dict[str, Any]:
    """An alert as docs/cli.md shows it, with what ktpledger adds: `current` (the figures now, while
    it is open; `detail` stays the figures at the raise), `resolved_reason` and `notified`. `row` is
    anything with the `alerts` columns as attributes (a store's `AlertRecord`, a database row)."""
    return {
        "id": int(row.id),
        "project": row.project,
        "category": row.category,
        "kind": row.kind,
        "subject": row.subject,
        "detail": json.loads(row.detail),
        "current": None if row.current is None else json.loads(row.current),
        "status": row.status,
        "raised_at_version": row.raised_at_version,
        "resolved_at_version": row.resolved_at_version,
        "resolved_reason": row.resolved_reason,
        "notified": not row.quiet,
        "raised_on": _day(getattr(row, "raised_on", None)),
        "resolved_on": _day(getattr(row, "resolved_on", None)),
        "acknowledged": acknowledgement_json(row),
    }


def acknowledgement_json(row: Any) -> dict[str, Any] | None:
    """An alert's acknowledgement (R-39) as readers show it, or None: the day, who (as the ledger
    recorded them: name, role, channel) and the note."""
    if getattr(row, "acknowledged_at_version", None) is None:
        return None
    return {
        "on": _day(row.acknowledged_on),
        "by": {
            "name": row.acknowledged_by_name,
            "role": row.acknowledged_by_role,
            "channel": row.acknowledged_by_channel,
        },
        "note": row.acknowledgement_note,
        "version": row.acknowledged_at_version,
    }


def _day(value: Any) -> str | None:
    """A stored date as YYYY-MM-DD (a driver may give a date or its text), or None."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def comparable(rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Alerts without ids, for comparing a replay with the incremental result."""
    return sorted(
        (
            r["project"],
            r["category"],
            r["kind"],
            json.dumps(r["detail"], sort_keys=True),
            json.dumps(r.get("current"), sort_keys=True),
            r["status"],
            r["raised_at_version"],
            r["resolved_at_version"] or 0,
            r.get("resolved_reason") or "",
            r.get("notified", True),
            r.get("raised_on") or "",
            r.get("resolved_on") or "",
            json.dumps(r.get("acknowledged"), sort_keys=True),
        )
        for r in rows
        if r.get("source") != "clock"  # judged by a reader on a day, not a projection row
    )
