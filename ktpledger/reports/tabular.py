"""The documents as tables of typed cells: what the CSV and the workbook are both written from.

A `Block` is a run of rows: a table with a header row, or a list of `name, value` rows (no
header). Figures are `Decimal`s parsed from the document's exact strings, never floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ktpledger.reports.cells import (
    Value,
    changes_text,
    day,
    detail_text,
    figure,
    money,
    reasons_text,
)

RECONCILIATION_COLUMNS = (
    "category",
    "limit_kind",
    "original_budget",
    "changes",
    "final_budget",
    "claimed",
    "eligible",
    "ineligible",
    "ineligible_reasons",
    "grant",
    "business",
)
RECONCILIATION_TOTALS = (
    "original_budget",
    "final_budget",
    "claimed",
    "eligible",
    "ineligible",
    "grant",
    "business",
)

CLAIM_PACK_COLUMNS = (
    "category",
    "limit_kind",
    "in_quarter",
    "cumulative",
    "budget",
    "remaining",
    "eligible",
    "ineligible",
    "forecast",
    "forecast_over_budget",
)
CLAIM_PACK_FIGURES = ("in_quarter", "cumulative", "budget", "remaining", "eligible", "ineligible", "forecast")
CLAIM_PACK_TOTALS = ("in_quarter", "cumulative", "budget", "eligible", "ineligible", "forecast")

CHANGE_COLUMNS = ("category", "version", "date", "kind", "amount", "note")
CLAIM_COLUMNS = ("claim_category", "eligible_added", "grant_added")
ALERT_COLUMNS = ("alert_category", "alert_kind", "alert_detail", "alert_message")
FINDING_COLUMNS = ("finding_category", "finding_reason", "finding_amount", "finding_rule", "finding_message")

Row = tuple[Value, ...]


@dataclass(frozen=True)
class Block:
    """Rows under an optional header; the last `totals` rows are totals (bold in the workbook)."""

    name: str
    header: tuple[str, ...] | None
    rows: tuple[Row, ...]
    totals: int = 0


def _require(document: Mapping[str, Any], kind: str, keys: Sequence[str]) -> None:
    if not isinstance(document, Mapping):
        raise ValueError(f"a {kind} document must be a JSON object, got {type(document).__name__}")
    missing = [key for key in keys if key not in document]
    if missing:
        raise ValueError(f"not a {kind} document: it has no {', '.join(missing)}")


def check_reconciliation(document: Mapping[str, Any]) -> None:
    _require(
        document,
        "reconciliation",
        (
            "project",
            "final",
            "grant_rate",
            "ledger",
            "lines",
            "parental_leave",
            "totals",
            "grant_paid",
            "balance_due",
        ),
    )


def check_claim_pack(document: Mapping[str, Any]) -> None:
    _require(
        document,
        "claim_pack",
        ("project", "quarter", "from", "to", "grant_rate", "ledger", "lines", "totals", "claim"),
    )


def _int(raw: object, field: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(f"{field}: expected a whole number, got {raw!r}")
    return raw


def _text(raw: object) -> str | None:
    return None if raw is None else str(raw)


def status(document: Mapping[str, Any]) -> str:
    return "final" if document.get("final") else "statement so far"


def _parties(document: Mapping[str, Any]) -> list[Row]:
    return [
        ("project", _text(document.get("project"))),
        ("title", _text(document.get("title"))),
        ("knowledge_base", _text(document.get("knowledge_base"))),
        ("business", _text(document.get("business"))),
        ("methodology", _text(document.get("methodology"))),
        ("business_type", _text(document.get("business_type"))),
        ("virtual", bool(document.get("virtual"))),
        ("london", bool(document.get("london"))),
        ("start", day(document.get("start"))),
        ("end", day(document.get("end"))),
        ("months", _int(document.get("months"), "months")),
    ]


def _ledger(document: Mapping[str, Any]) -> list[Row]:
    ledger = document.get("ledger") or {}
    return [
        ("ledger_position", _int(ledger.get("position"), "ledger.position")),
        ("ledger_version", _int(ledger.get("version"), "ledger.version")),
        ("head_hash", _text(ledger.get("head_hash"))),
        *_checkpoint(document),
    ]


def _checkpoint(document: Mapping[str, Any]) -> list[Row]:
    """The checkpoint of the whole ledger, a row per field (none for a document without one)."""
    checkpoint = document.get("checkpoint")
    if not isinstance(checkpoint, Mapping):
        return []
    signature = checkpoint.get("signature")
    signed: tuple[str | None, str | None, str | None] = ("unsigned", "unsigned", "unsigned")
    if isinstance(signature, Mapping):
        signed = (
            _text(signature.get("algorithm")),
            _text(signature.get("key_id")),
            _text(signature.get("value")),
        )
    algorithm, key_id, value = signed
    return [
        ("checkpoint_format", _text(checkpoint.get("format"))),
        ("checkpoint_position", _int(checkpoint.get("position"), "checkpoint.position")),
        ("checkpoint_events", _int(checkpoint.get("events"), "checkpoint.events")),
        ("checkpoint_chain_head", _text(checkpoint.get("chain_head"))),
        ("checkpoint_algorithm", algorithm),
        ("checkpoint_key_id", key_id),
        ("checkpoint_signature", value),
    ]


def reconciliation_blocks(document: Mapping[str, Any]) -> dict[str, Block]:
    """`about`, `lines` (with the total row), `settlement` and `changes` (one row per LMC change)."""
    check_reconciliation(document)
    about: list[Row] = [
        ("report", "reconciliation"),
        *_parties(document),
        ("status", status(document)),
        ("closed_on", day(document.get("closed_on"))),
        ("grant_rate", money(document, "grant_rate")),
        *_ledger(document),
    ]
    lines: list[Row] = []
    changes: list[Row] = []
    for index, line in enumerate(document["lines"]):
        where = f"lines[{index}]"
        figures = {name: figure(line.get(name), f"{where}.{name}") for name in RECONCILIATION_TOTALS}
        category = str(line.get("category"))
        lines.append(
            (
                category,
                _text(line.get("limit_kind")),
                figures["original_budget"],
                changes_text(line.get("changes") or []),
                figures["final_budget"],
                figures["claimed"],
                figures["eligible"],
                figures["ineligible"],
                reasons_text(line.get("ineligible_reasons") or {}),
                figures["grant"],
                figures["business"],
            )
        )
        for number, change in enumerate(line.get("changes") or []):
            changes.append(
                (
                    category,
                    _int(change.get("version"), f"{where}.changes[{number}].version"),
                    day(change.get("date")),
                    _text(change.get("kind")),
                    figure(change.get("amount"), f"{where}.changes[{number}].amount"),
                    _text(change.get("note")),
                )
            )
    totals = document["totals"]
    total = {name: figure(totals.get(name), f"totals.{name}") for name in RECONCILIATION_TOTALS}
    lines.append(
        (
            "total",
            None,
            total["original_budget"],
            None,
            total["final_budget"],
            total["claimed"],
            total["eligible"],
            total["ineligible"],
            None,
            total["grant"],
            total["business"],
        )
    )
    leave = document["parental_leave"]
    settlement: list[Row] = [
        ("parental_leave_incurred", figure(leave.get("incurred"), "parental_leave.incurred")),
        ("parental_leave_reimbursable", figure(leave.get("reimbursable"), "parental_leave.reimbursable")),
        ("grant_paid", money(document, "grant_paid")),
        ("balance_due", money(document, "balance_due")),
    ]
    found: list[Row] = [
        (
            _text(item.get("category")),
            _text(item.get("reason")),
            figure(item.get("amount"), f"findings[{number}].amount"),
            _text(item.get("rule")),
            _text(item.get("message")),
        )
        for number, item in enumerate(document.get("findings") or [])
    ]
    return {
        "about": Block("About", None, tuple(about)),
        "lines": Block("Reconciliation", RECONCILIATION_COLUMNS, tuple(lines), totals=1),
        "settlement": Block("Settlement", None, tuple(settlement), totals=1),
        "changes": Block("LMC changes", CHANGE_COLUMNS, tuple(changes)),
        "findings": Block("Findings", FINDING_COLUMNS, tuple(found)),
    }


def claim_pack_blocks(document: Mapping[str, Any]) -> dict[str, Block]:
    """`about`, `lines` (with the total row), `claim` (eligible added per line, then the grant) and
    `alerts` (open at the quarter's end)."""
    check_claim_pack(document)
    about: list[Row] = [
        ("report", "claim_pack"),
        *_parties(document),
        ("quarter", _text(document.get("quarter"))),
        ("from", day(document.get("from"))),
        ("to", day(document.get("to"))),
        ("month", _int(document.get("month"), "month")),
        ("grant_rate", money(document, "grant_rate")),
        ("events_in_pack", _int(document.get("events_in_pack"), "events_in_pack")),
        *_ledger(document),
    ]
    lines: list[Row] = []
    for index, line in enumerate(document["lines"]):
        figures = {name: figure(line.get(name), f"lines[{index}].{name}") for name in CLAIM_PACK_FIGURES}
        lines.append(
            (
                str(line.get("category")),
                _text(line.get("limit_kind")),
                *(figures[name] for name in CLAIM_PACK_FIGURES),
                bool(line.get("forecast_over_budget")),
            )
        )
    totals = document["totals"]
    total: dict[str, Decimal | None] = dict.fromkeys(CLAIM_PACK_FIGURES)
    for name in CLAIM_PACK_TOTALS:
        total[name] = figure(totals.get(name), f"totals.{name}")
    lines.append(("total", None, *(total[name] for name in CLAIM_PACK_FIGURES), None))
    claim = document["claim"]
    granted = claim.get("grant_added") or {}
    claimed: list[Row] = [
        (
            str(category),
            figure(amount, f"claim.eligible_added.{category}"),
            figure(granted.get(category), f"claim.grant_added.{category}"),
        )
        for category, amount in (claim.get("eligible_added") or {}).items()
    ]
    claimed.append(("grant", None, figure(claim.get("grant"), "claim.grant")))
    alerts: list[Row] = [
        (
            _text(alert.get("category")),
            _text(alert.get("kind")),
            detail_text(alert.get("detail")),
            _text(alert.get("message")),
        )
        for alert in document.get("alerts_open_at_quarter_end") or []
    ]
    return {
        "about": Block("About", None, tuple(about)),
        "lines": Block("Claim pack", CLAIM_PACK_COLUMNS, tuple(lines), totals=1),
        "claim": Block("Claim", CLAIM_COLUMNS, tuple(claimed), totals=1),
        "alerts": Block("Alerts", ALERT_COLUMNS, tuple(alerts)),
    }
