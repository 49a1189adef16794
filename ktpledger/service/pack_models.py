"""A quarter's claim pack as a typed read model (`ktpledger claim-pack PROJECT --quarter Q`).

`service/statements.py` builds it from the ledger; `to_json()` writes the document of docs/cli.md
and `from_json()` reads one back. Its parts shared with the reconciliation (the project's terms,
the ledger position) are in `statement_models`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.alert_views import long_date
from ktpledger.domain.anchor import Checkpoint
from ktpledger.domain.money import format_money
from ktpledger.domain.rules import Category, LimitKind
from ktpledger.service.claim_models import DraftClaim, SubmittedClaim
from ktpledger.service.statement_fields import Fields, choice_of, document_fields
from ktpledger.service.statement_models import (
    LedgerPosition,
    ProjectTerms,
    amounts_json,
    checkpoint_of,
    named_amounts,
)

PACK_FIGURES = ("in_quarter", "cumulative", "budget", "eligible", "ineligible", "forecast")
# What a document must have to be read as a claim pack (else "not a claim_pack document").
CLAIM_PACK_KEYS = ("project", "quarter", "from", "to", "grant_rate", "ledger", "lines", "totals", "claim")


def _by_category(fields: Fields, name: str) -> dict[Category, Decimal]:
    part = fields.part(name)
    return {choice_of(key, Category, part.path(key)): amount for key, amount in fields.amounts(name).items()}


def _submitted(document: object) -> SubmittedClaim | None:
    """A pack's `submitted` claim (R-45) as written (absent in a pack written before claims)."""
    found = document.get("submitted") if isinstance(document, Mapping) else None
    return None if found is None else SubmittedClaim.from_json(found)


def _draft(document: object) -> DraftClaim | None:
    """A pack's `draft_claim` (absent in a pack written before drafts were shown)."""
    found = document.get("draft_claim") if isinstance(document, Mapping) else None
    return None if found is None else DraftClaim.from_json(found)


@dataclass(frozen=True)
class PackLine:
    """One line of a claim pack: the quarter's spend, cumulative spend against the budget, eligible
    and ineligible, the forecast at the end date and what remains."""

    category: Category
    limit_kind: LimitKind
    in_quarter: Decimal
    cumulative: Decimal
    budget: Decimal
    eligible: Decimal
    ineligible: Decimal
    forecast: Decimal
    remaining: Decimal
    forecast_over_budget: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "limit_kind": self.limit_kind.value,
            **{name: format_money(getattr(self, name)) for name in PACK_FIGURES},
            "remaining": format_money(self.remaining),
            "forecast_over_budget": self.forecast_over_budget,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> PackLine:
        return cls(
            category=fields.choice("category", Category),
            limit_kind=fields.choice("limit_kind", LimitKind),
            **{name: fields.amount(name) for name in (*PACK_FIGURES, "remaining")},
            forecast_over_budget=fields.flag("forecast_over_budget"),
        )


@dataclass(frozen=True)
class PackAlert:
    """An alert condition that held at the quarter's end, with its figures then (stored JSON)."""

    category: str
    kind: str
    detail: Mapping[str, Any]
    message: str
    # the day and note of the alert's acknowledgement recorded by the quarter's end, if any.
    acknowledged_on: date | None = None
    acknowledgement_note: str | None = None

    @property
    def acknowledgement_text(self) -> str:
        """ "Acknowledged 2 December 2024: the note", or "" when not acknowledged."""
        if self.acknowledged_on is None:
            return ""
        return f"Acknowledged {long_date(self.acknowledged_on)}: {self.acknowledgement_note or ''}"

    def to_json(self) -> dict[str, Any]:
        acknowledged = (
            None
            if self.acknowledged_on is None
            else {"on": self.acknowledged_on.isoformat(), "note": self.acknowledgement_note}
        )
        return {
            "category": self.category,
            "kind": self.kind,
            "detail": self.detail,
            "message": self.message,
            "acknowledged": acknowledged,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> PackAlert:
        # A pack written before acknowledgements has no `acknowledged`: not acknowledged.
        acknowledged = None if fields.document.get("acknowledged") is None else fields.part("acknowledged")
        return cls(
            category=fields.text("category"),
            kind=fields.text("kind"),
            detail=fields.part("detail").document,
            message=fields.text("message"),
            acknowledged_on=None if acknowledged is None else acknowledged.day("on"),
            acknowledgement_note=None if acknowledged is None else acknowledged.text("note"),
        )


@dataclass(frozen=True)
class ClaimPack:
    """`ktpledger claim-pack PROJECT --quarter Q`. `totals` holds each of PACK_FIGURES, in that
    order; `eligible_added` and `grant_added` what the quarter adds to each line's reconciled
    eligible spend and grant, and `grant` their sum."""

    project: str
    terms: ProjectTerms
    quarter: str
    start: date
    end: date
    final_quarter: bool
    grant_rate: Decimal
    ledger: LedgerPosition
    checkpoint: Checkpoint
    events_in_pack: int
    month: int
    lines: tuple[PackLine, ...]
    totals: Mapping[str, Decimal]
    eligible_added: Mapping[Category, Decimal]
    grant_added: Mapping[Category, Decimal]
    grant: Decimal
    alerts_open_at_quarter_end: tuple[PackAlert, ...]
    # Grant claims: the quarter's claim as submitted, frozen in its `ClaimSubmitted`; None
    # while the quarter is not claimed.
    submitted: SubmittedClaim | None = None
    # While the quarter is not claimed: its claim as the ledger now stands (the figures of `claim
    # submit --dry-run`); None once submitted, or when the quarter is not the next to claim.
    draft_claim: DraftClaim | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            **self.terms.to_json(),
            "quarter": self.quarter,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "final_quarter": self.final_quarter,
            "grant_rate": f"{self.grant_rate:.2f}",
            "ledger": self.ledger.to_json(),
            "checkpoint": self.checkpoint.to_json(),
            "events_in_pack": self.events_in_pack,
            "month": self.month,
            "lines": [line.to_json() for line in self.lines],
            "totals": amounts_json(self.totals),
            "claim": {
                "eligible_added": amounts_json(self.eligible_added),
                "grant_added": amounts_json(self.grant_added),
                "grant": format_money(self.grant),
            },
            "alerts_open_at_quarter_end": [alert.to_json() for alert in self.alerts_open_at_quarter_end],
            "submitted": None if self.submitted is None else self.submitted.to_json(),
            "draft_claim": None if self.draft_claim is None else self.draft_claim.to_json(),
        }

    @classmethod
    def from_json(cls, document: object) -> ClaimPack:
        """The pack `to_json` wrote, or a ValueError naming the field that is not as it writes it."""
        fields = document_fields(document, "claim_pack", CLAIM_PACK_KEYS)
        claim = fields.part("claim")
        eligible_added = _by_category(claim, "eligible_added")
        grant_added = _by_category(claim, "grant_added")
        if list(grant_added) != list(eligible_added):
            raise ValueError("claim.grant_added: expected the categories of claim.eligible_added")
        return cls(
            project=fields.text("project"),
            terms=ProjectTerms.from_fields(fields),
            quarter=fields.text("quarter"),
            start=fields.day("from"),
            end=fields.day("to"),
            final_quarter=fields.flag("final_quarter"),
            grant_rate=fields.amount("grant_rate"),
            ledger=LedgerPosition.from_fields(fields.part("ledger")),
            checkpoint=checkpoint_of(fields),
            events_in_pack=fields.whole("events_in_pack"),
            month=fields.whole("month"),
            lines=tuple(PackLine.from_fields(line) for line in fields.parts("lines")),
            totals=named_amounts(fields.part("totals"), PACK_FIGURES),
            eligible_added=eligible_added,
            grant_added=grant_added,
            grant=claim.amount("grant"),
            alerts_open_at_quarter_end=tuple(
                PackAlert.from_fields(alert) for alert in fields.parts("alerts_open_at_quarter_end")
            ),
            submitted=_submitted(document),
            draft_claim=_draft(document),
        )
