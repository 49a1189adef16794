"""A quarter's grant claim (R-45) as the claim pack carries it: as submitted (`SubmittedClaim`,
frozen in its `ClaimSubmitted`) or, while the quarter is not claimed, as a draft of the ledger as
it now stands (`DraftClaim`, the figures `ktpledger claim submit --dry-run` shows).

Both list their prior-period items (`prior_period_items`): the spend claims and reversals recorded
since the previous claim was made, dated before the quarter's start, whose grant the claim's
prior-period adjustment carries. `to_json()` writes the pack's `submitted` and `draft_claim`;
`from_json()` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ktpledger.domain.claims import ClaimWorked
from ktpledger.domain.events import ClaimLine, ClaimReversed, Event, SpendClaimed, claim_needs_narrative
from ktpledger.domain.money import format_money
from ktpledger.domain.project import GrantClaim
from ktpledger.domain.rules import Category
from ktpledger.service.statement_fields import Fields, choice_of

ITEM_KINDS = ("claim", "reversal")
PERCENT = Decimal("0.1")


@dataclass(frozen=True)
class ClaimLedger:
    """The ledger a claim was made from: the ledger-wide position, the project's version and its
    head hash."""

    position: int
    version: int
    head_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "version": self.version, "head_hash": self.head_hash}

    @classmethod
    def from_fields(cls, fields: Fields) -> ClaimLedger:
        return cls(fields.whole("position"), fields.whole("version"), fields.text("head_hash"))


@dataclass(frozen=True)
class ClaimedLine:
    """One category of a claim, as Innovate UK's quarterly claim lists it."""

    category: Category
    actual: Decimal
    forecast: Decimal
    variance: Decimal
    narrative: str | None
    narrative_required: bool
    eligible: Decimal
    grant: Decimal
    prior_period: Decimal

    @property
    def claimed(self) -> Decimal:
        """The grant claimed on the line: the quarter's grant and the prior-period adjustment."""
        return self.grant + self.prior_period

    @property
    def variance_percent(self) -> Decimal | None:
        """The variance as a percentage of the forecast, to one place; None when nothing was forecast."""
        return self.percent(self.variance, self.forecast)

    @staticmethod
    def percent(variance: Decimal, forecast: Decimal) -> Decimal | None:
        if not forecast:
            return None
        return (variance * 100 / forecast).quantize(PERCENT, rounding=ROUND_HALF_UP)

    @classmethod
    def of(cls, category: Category, line: ClaimLine) -> ClaimedLine:
        return cls(
            category=category,
            actual=line.actual,
            forecast=line.forecast,
            variance=line.variance,
            narrative=line.narrative or None,
            narrative_required=claim_needs_narrative(line.actual, line.forecast),
            eligible=line.eligible,
            grant=line.grant,
            prior_period=line.prior_period,
        )

    def to_json(self) -> dict[str, Any]:
        """As `domain/claims.claim_line_json` writes a line (the category is the key above it)."""
        return {
            "actual": format_money(self.actual),
            "forecast": format_money(self.forecast),
            "variance": format_money(self.variance),
            "narrative": self.narrative,
            "narrative_required": self.narrative_required,
            "eligible": format_money(self.eligible),
            "grant": format_money(self.grant),
            "prior_period": format_money(self.prior_period),
        }

    @classmethod
    def from_fields(cls, category: Category, fields: Fields) -> ClaimedLine:
        narrative = fields.raw("narrative")
        if narrative is not None and not isinstance(narrative, str):
            raise ValueError(f"{fields.path('narrative')}: expected text or null, got {narrative!r}")
        return cls(
            category=category,
            actual=fields.amount("actual"),
            forecast=fields.amount("forecast"),
            variance=fields.amount("variance"),
            narrative=narrative,
            narrative_required=fields.flag("narrative_required"),
            eligible=fields.amount("eligible"),
            grant=fields.amount("grant"),
            prior_period=fields.amount("prior_period"),
        )


@dataclass(frozen=True)
class PriorPeriodItem:
    """A spend claim or reversal recorded after the previous claim was made and dated before the
    claim's quarter: one of the late items of the prior-period adjustment. `amount` is the change
    to the line's spend (a reversal's is negative)."""

    version: int
    date: date
    category: Category
    key: str
    kind: str  # ITEM_KINDS
    amount: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "date": self.date.isoformat(),
            "category": self.category.value,
            "key": self.key,
            "kind": self.kind,
            "amount": format_money(self.amount),
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> PriorPeriodItem:
        kind = fields.text("kind")
        if kind not in ITEM_KINDS:
            raise ValueError(f"{fields.path('kind')}: {kind!r} is not one of {', '.join(ITEM_KINDS)}")
        return cls(
            version=fields.whole("version"),
            date=fields.day("date"),
            category=fields.choice("category", Category),
            key=fields.text("key"),
            kind=kind,
            amount=fields.amount("amount"),
        )


def prior_period_items(
    events: Iterable[tuple[Event, int]], *, after: int | None, through: int, before: date
) -> tuple[PriorPeriodItem, ...]:
    """The spend claims and reversals (version order) with a version after `after` (the version the
    previous claim was made from; None for a first claim, which has none) and at most `through`,
    dated before `before` (the claim's quarter's start)."""
    categories: dict[str, Category] = {}
    left: dict[str, Decimal] = {}
    found: list[PriorPeriodItem] = []
    for event, version in events:
        if version > through:
            break
        payload = event.payload
        item: PriorPeriodItem | None = None
        if isinstance(payload, SpendClaimed):
            categories[event.key] = payload.category
            left[event.key] = payload.amount
            item = PriorPeriodItem(version, event.date, payload.category, event.key, "claim", payload.amount)
        elif isinstance(payload, ClaimReversed):
            # A reversal without an amount reverses what is left of its claim.
            amount = left[payload.claim] if payload.amount is None else payload.amount
            left[payload.claim] -= amount
            category = categories[payload.claim]
            item = PriorPeriodItem(version, event.date, category, event.key, "reversal", -amount)
        if item is not None and after is not None and version > after and event.date < before:
            found.append(item)
    return tuple(found)


def _lines_json(lines: Iterable[ClaimedLine]) -> dict[str, Any]:
    return {line.category.value: line.to_json() for line in lines}


def _lines_of(fields: Fields) -> tuple[ClaimedLine, ...]:
    part = fields.part("lines")
    return tuple(
        ClaimedLine.from_fields(choice_of(name, Category, part.path(str(name))), part.part(str(name)))
        for name in part.document
    )


def _items_of(fields: Fields) -> tuple[PriorPeriodItem, ...]:
    # A pack written before the items were listed has none.
    if "prior_period_items" not in fields.document:
        return ()
    return tuple(PriorPeriodItem.from_fields(item) for item in fields.parts("prior_period_items"))


def _object(document: object, where: str) -> Fields:
    if not isinstance(document, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {document!r}")
    return Fields(document, where)


@dataclass(frozen=True)
class SubmittedClaim:
    """The quarter's claim as its `ClaimSubmitted` froze it: its number, the day it is dated, the
    version it was recorded at and the ledger it was made from; its lines and grant (the
    quarter's grant and the prior-period adjustment); and the late items of that adjustment."""

    number: int
    submitted_on: date
    version: int
    ledger: ClaimLedger
    lines: tuple[ClaimedLine, ...]
    quarter_grant: Decimal
    prior_period: Decimal
    grant: Decimal
    prior_period_items: tuple[PriorPeriodItem, ...] = ()

    @classmethod
    def of(cls, claim: GrantClaim, items: Iterable[PriorPeriodItem] = ()) -> SubmittedClaim:
        made = claim.claim
        lines = tuple(ClaimedLine.of(category, line) for category, line in made.lines.items())
        return cls(
            number=made.number,
            submitted_on=claim.submitted_on,
            version=claim.version,
            ledger=ClaimLedger(made.position, made.version, made.head_hash),
            lines=lines,
            quarter_grant=made.quarter_grant,
            prior_period=made.prior_period,
            grant=made.grant,
            prior_period_items=tuple(items),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "date": self.submitted_on.isoformat(),
            "version": self.version,
            **_claim_json(self),
        }

    @classmethod
    def from_json(cls, document: object, where: str = "submitted") -> SubmittedClaim:
        fields = _object(document, where)
        return cls(
            number=fields.whole("number"),
            submitted_on=fields.day("date"),
            version=fields.whole("version"),
            **_claim_fields(fields),
        )


@dataclass(frozen=True)
class DraftClaim:
    """The quarter's claim as the ledger now stands, not submitted: the number it would have, the
    ledger it would be made from, its lines (no narratives yet: `narrative_required` says which
    need one), its grant and the late items of its prior-period adjustment."""

    number: int
    ledger: ClaimLedger
    lines: tuple[ClaimedLine, ...]
    quarter_grant: Decimal
    prior_period: Decimal
    grant: Decimal
    prior_period_items: tuple[PriorPeriodItem, ...] = ()

    @classmethod
    def of(
        cls, worked: ClaimWorked, number: int, position: int, items: Iterable[PriorPeriodItem] = ()
    ) -> DraftClaim:
        return cls(
            number=number,
            ledger=ClaimLedger(position, worked.version, worked.head_hash),
            lines=tuple(ClaimedLine.of(category, line) for category, line in worked.lines.items()),
            quarter_grant=worked.quarter_grant,
            prior_period=worked.prior_period,
            grant=worked.grant,
            prior_period_items=tuple(items),
        )

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, **_claim_json(self)}

    @classmethod
    def from_json(cls, document: object, where: str = "draft_claim") -> DraftClaim:
        fields = _object(document, where)
        return cls(number=fields.whole("number"), **_claim_fields(fields))


def _claim_json(claim: SubmittedClaim | DraftClaim) -> dict[str, Any]:
    """What a submitted and a draft claim both write: the ledger, lines, grant and late items."""
    return {
        "ledger": claim.ledger.to_json(),
        "lines": _lines_json(claim.lines),
        "quarter_grant": format_money(claim.quarter_grant),
        "prior_period": format_money(claim.prior_period),
        "grant": format_money(claim.grant),
        "prior_period_items": [item.to_json() for item in claim.prior_period_items],
    }


def _claim_fields(fields: Fields) -> dict[str, Any]:
    """What a submitted and a draft claim both read back (`_claim_json`)."""
    return {
        "ledger": ClaimLedger.from_fields(fields.part("ledger")),
        "lines": _lines_of(fields),
        "quarter_grant": fields.amount("quarter_grant"),
        "prior_period": fields.amount("prior_period"),
        "grant": fields.amount("grant"),
        "prior_period_items": _items_of(fields),
    }
