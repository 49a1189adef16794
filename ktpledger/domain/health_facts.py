"""What a project's health (R-47) and its portfolio row are judged from, kept small: the facts of a
folded project that the day does not change, so a reader of a thousand projects judges each as of
its day from these facts instead of folding its stream.

`facts_of(state)` takes them from a folded project (the projector keeps them with its other
projections, `project_facts` table); `HealthFacts.to_json` / `from_json` store them (the projector
writes `to_text`, the same JSON's canonical text written directly). The facts carry
exactly what the day-dependent rules read, under the names a `ProjectState` gives them, so the same
rule functions judge both (`profile.PlanSource`, `alerts.TimedSource`, `invoices.DeadlineSource`,
`timeline.PeriodSource`):

- the period (start, end, months, closed and when) and the parties, the grant rate (the project
  list, `GET /projects`, reads these too);
- each line's plan inputs (budget, profile, latest budget change, net spend by month) and its
  allowance figures (budget, limit, spent, eligible, maximum);
- the conditions that hold whatever the day (`alerts.standing_conditions`: over budget or a
  maximum, sub-limits, ineligible claims; thresholds left out, being no reason);
- the invoices to the business and the quarters claimed (the deadlines), grant claimed and paid,
  and the latest spend (`no_spend`);
- for the project page (`PageFacts`, when the projector kept them as it folded): the parental leave
  costs, spend by month (`month_ends.SpendMonths`) and the versions of the events it reads.

Money is kept exact (the text of the `Decimal`), never rounded on the way in or out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ktpledger.domain.alerts import AlertKey, AlertKind, Conditions, standing_conditions
from ktpledger.domain.allowances import Allowance, Exclusions
from ktpledger.domain.events import LineProfile
from ktpledger.domain.money import ZERO
from ktpledger.domain.month_ends import Month, MonthFigures, SpendMonths
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import Category, LimitKind

# Raised when the stored shape changes: a reader folds a project whose facts are of another format
# until its next catch-up (or `replay`) writes them again. 3: parental leave and `PageFacts`.
FACTS_FORMAT = 3


@dataclass(frozen=True)
class LineFacts:
    """An allowance line's figures (`allowances.Allowance`, without what sub-limits exclude)."""

    category: Category
    limit_kind: LimitKind
    budget: Decimal
    limit: Decimal | None
    spent: Decimal
    eligible: Decimal
    maximum: Decimal | None

    def allowance(self) -> Allowance:
        return Allowance(
            category=self.category,
            budget=self.budget,
            limit=self.limit,
            limit_kind=self.limit_kind,
            spent=self.spent,
            eligible=self.eligible,
            maximum=self.maximum,
            exclusions=Exclusions(),
        )


@dataclass(frozen=True)
class InvoiceFacts:
    """An invoice to the business as its deadline reads it (`invoices.OwedInvoice`)."""

    number: str
    quarter: str
    invoiced_on: date
    due: date
    amount: Decimal
    paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.paid


@dataclass(frozen=True)
class PageFacts:
    """What the project page reads that the rest of the facts do not hold: spend by month as of
    each month's end, and the versions of the events the project's facts without its claims are
    folded from (`month_ends.FACT_TYPES`: its decisions among them), oldest first. Kept by the
    projector as it folds (`LiveProject`); None in facts taken otherwise."""

    spend_months: SpendMonths
    fact_versions: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        months = self.spend_months
        return {
            "first": _month_text(months.first),
            "latest": _month_text(months.latest),
            "ended": {
                _month_text(month): {"spent": str(figures.spent), "budget": str(figures.budget)}
                for month, figures in sorted(months.ended.items())
            },
            "facts": list(self.fact_versions),
        }

    def to_text(self) -> str:
        """`to_json`'s canonical text, written directly (`HealthFacts.to_text`)."""
        months = self.spend_months
        text = _month_text  # months sorted as pairs sort as their texts do (`HealthFacts.to_text`)
        ended = ",".join(
            [
                f'"{text(month)}":{{"budget":"{figures.budget!s}","spent":"{figures.spent!s}"}}'
                for month, figures in sorted(months.ended.items())
            ]
        )
        return (
            f'{{"ended":{{{ended}}},"facts":[{",".join(map(str, self.fact_versions))}],'
            f'"first":"{_month_text(months.first)}","latest":"{_month_text(months.latest)}"}}'
        )

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> PageFacts:
        return cls(
            spend_months=SpendMonths(
                first=_month_read(document["first"]),
                latest=_month_read(document["latest"]),
                ended={
                    _month_read(month): MonthFigures(
                        Decimal(str(item["spent"])), Decimal(str(item["budget"]))
                    )
                    for month, item in document["ended"].items()
                },
            ),
            fact_versions=tuple(int(version) for version in document["facts"]),
        )


@lru_cache(
    maxsize=4096
)  # a catch-up writes every month of a project's facts each time; bounded: any year may be read
def _month_text(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


@lru_cache(maxsize=4096)  # a project's title, parties and next quarter: the same in each catch-up's row
def _text(value: str) -> str:
    """A string as JSON, not ASCII-escaped."""
    return json.dumps(value, ensure_ascii=False)


def _maybe_text(amount: Decimal | None) -> str:
    return "null" if amount is None else f'"{amount!s}"'


def _canonical(value: Any) -> str:
    """A part of the facts as the whole's canonical text holds it."""
    # Most projects have no profiles, invoices, claimed quarters or standing conditions: the
    # encoder costs a few us a call, and a facts row is written a project at every catch-up.
    if value == []:
        return "[]"
    if value == {}:
        return "{}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _month_read(text: str) -> Month:
    return int(text[:4]), int(text[5:7])


@dataclass(frozen=True)
class ListedFacts:
    """What the project list reads of a project's stored facts (`project_summary.listing_of`): its
    offer's reference, title, parties and period, its closure, its invoices to the business and the
    quarters it has claimed (`timeline.PeriodSource`, `invoices.DeadlineSource`), the fields
    `HealthFacts` extends. Read from the facts' JSON without the rest (lines, profiles, spend by
    month, the project page's), which a list of a thousand projects would parse for nothing."""

    project: str
    version: int
    title: str
    knowledge_base: str
    business: str
    business_type: str
    methodology: str
    start: date
    end: date
    months: int
    closed: bool
    closed_on: date | None
    grant_rate: Decimal
    invoices: Mapping[str, InvoiceFacts]
    claimed: frozenset[str]

    @property
    def exists(self) -> bool:
        return True  # facts are only taken of a project with its offer

    def claimed_quarters(self) -> frozenset[str]:
        return self.claimed

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ListedFacts:
        """Those fields of the facts `HealthFacts.to_json` wrote (a ValueError or KeyError for
        facts of another format: the caller folds the project instead)."""
        return cls(**listed_fields(document))


@dataclass(frozen=True)
class HealthFacts(ListedFacts):
    """A project's facts for its health and portfolio row (module docstring): the listed ones
    (`ListedFacts`, whose fields come first: built by keyword), then these."""

    budget: Mapping[Category, Decimal]
    profiles: Mapping[Category, tuple[LineProfile, date]]
    budget_changed_on: Mapping[Category, date]
    spent_by_month: Mapping[Category, Mapping[tuple[int, int], Decimal]]
    lines: tuple[LineFacts, ...]
    standing: Conditions
    next_claim: str
    grant_claimed: Decimal
    grant_paid: Decimal
    latest_spend: date | None
    parental_leave: Decimal
    page: PageFacts | None

    def next_claim_quarter(self) -> str:
        return self.next_claim

    def allowances(self) -> list[Allowance]:
        return [line.allowance() for line in self.lines]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FACTS_FORMAT,
            "project": self.project,
            "version": self.version,
            "title": self.title,
            "knowledge_base": self.knowledge_base,
            "business": self.business,
            "business_type": self.business_type,
            "methodology": self.methodology,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "months": self.months,
            "closed": self.closed,
            "closed_on": None if self.closed_on is None else self.closed_on.isoformat(),
            "grant_rate": str(self.grant_rate),
            "budget": {c.value: str(a) for c, a in self.budget.items()},
            "profiles": {
                c.value: {"profile": profile.to_data(), "set_on": on.isoformat()}
                for c, (profile, on) in self.profiles.items()
            },
            "budget_changed_on": {c.value: on.isoformat() for c, on in self.budget_changed_on.items()},
            "spent_by_month": {
                c.value: {_month_text(month): str(a) for month, a in sorted(months.items())}
                for c, months in self.spent_by_month.items()
            },
            "lines": [
                {
                    "category": line.category.value,
                    "limit_kind": line.limit_kind.value,
                    "budget": str(line.budget),
                    "limit": None if line.limit is None else str(line.limit),
                    "spent": str(line.spent),
                    "eligible": str(line.eligible),
                    "maximum": None if line.maximum is None else str(line.maximum),
                }
                for line in self.lines
            ],
            "standing": [
                {"category": key.category, "kind": key.kind, "subject": key.subject, "figures": figures}
                for key, figures in self.standing.items()
            ],
            "invoices": self._invoices_json(),
            "claimed": sorted(self.claimed),
            "next_claim": self.next_claim,
            "grant_claimed": str(self.grant_claimed),
            "grant_paid": str(self.grant_paid),
            "latest_spend": None if self.latest_spend is None else self.latest_spend.isoformat(),
            "parental_leave": str(self.parental_leave),
            "page": None if self.page is None else self.page.to_json(),
        }

    def _invoices_json(self) -> list[dict[str, Any]]:
        return [
            {
                "number": invoice.number,
                "quarter": invoice.quarter,
                "invoiced_on": invoice.invoiced_on.isoformat(),
                "due": invoice.due.isoformat(),
                "amount": str(invoice.amount),
                "paid": str(invoice.paid),
            }
            for invoice in self.invoices.values()
        ]

    def to_text(self) -> str:
        """`to_json` as its canonical text, keys sorted, no spaces, not ASCII-escaped (`json.dumps(
        facts.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, the same text:
        tested), written directly: building the document and sorting its keys cost a catch-up
        ~115 us a project, this ~45 (money, dates and months need no escaping; names do)."""
        lines = ",".join(
            [
                f'{{"budget":"{line.budget!s}","category":"{line.category.value}","eligible":"{line.eligible!s}",'
                f'"limit":{_maybe_text(line.limit)},"limit_kind":"{line.limit_kind.value}",'
                f'"maximum":{_maybe_text(line.maximum)},"spent":"{line.spent!s}"}}'
                for line in self.lines
            ]
        )
        # Months sorted as (year, month) pairs sort as their texts do (four-digit years, the door's).
        text = _month_text
        spent_by_month = ",".join(
            [
                f'"{c}":{{'
                + ",".join([f'"{text(month)}":"{amount!s}"' for month, amount in sorted(months.items())])
                + "}"
                for c, months in sorted([(c.value, months) for c, months in self.spent_by_month.items()])
            ]
        )
        fields = {
            "format": str(FACTS_FORMAT),
            "project": _text(self.project),
            "version": str(self.version),
            "title": _text(self.title),
            "knowledge_base": _text(self.knowledge_base),
            "business": _text(self.business),
            "business_type": _text(self.business_type),
            "methodology": _text(self.methodology),
            "start": f'"{self.start.isoformat()}"',
            "end": f'"{self.end.isoformat()}"',
            "months": str(self.months),
            "closed": "true" if self.closed else "false",
            "closed_on": "null" if self.closed_on is None else f'"{self.closed_on.isoformat()}"',
            "grant_rate": f'"{self.grant_rate!s}"',
            "budget": "{"
            + ",".join(f'"{c}":"{a!s}"' for c, a in sorted((c.value, a) for c, a in self.budget.items()))
            + "}",
            "profiles": _canonical(
                {
                    c.value: {"profile": profile.to_data(), "set_on": on.isoformat()}
                    for c, (profile, on) in self.profiles.items()
                }
            ),
            "budget_changed_on": _canonical(
                {c.value: on.isoformat() for c, on in self.budget_changed_on.items()}
            ),
            "spent_by_month": "{" + spent_by_month + "}",
            "lines": "[" + lines + "]",
            "standing": _canonical(
                [
                    {"category": key.category, "kind": key.kind, "subject": key.subject, "figures": figures}
                    for key, figures in self.standing.items()
                ]
            ),
            "invoices": _canonical(self._invoices_json()),
            "claimed": _canonical(sorted(self.claimed)),
            "next_claim": _text(self.next_claim),
            "grant_claimed": f'"{self.grant_claimed!s}"',
            "grant_paid": f'"{self.grant_paid!s}"',
            "latest_spend": "null" if self.latest_spend is None else f'"{self.latest_spend.isoformat()}"',
            "parental_leave": f'"{self.parental_leave!s}"',
            "page": "null" if self.page is None else self.page.to_text(),
        }
        return "{" + ",".join(f'"{key}":{fields[key]}' for key in sorted(fields)) + "}"

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> HealthFacts:
        """The facts as `to_json` wrote them (a ValueError or KeyError for anything else: the
        reader then folds the project instead)."""
        listed = listed_fields(document)
        day = date.fromisoformat

        def maybe(value: Any) -> Decimal | None:
            return None if value is None else _money(value)

        return cls(
            **listed,
            budget={Category(c): _money(a) for c, a in document["budget"].items()},
            profiles={
                Category(c): (LineProfile.parse(item["profile"], name=c), day(item["set_on"]))
                for c, item in document["profiles"].items()
            },
            budget_changed_on={Category(c): day(on) for c, on in document["budget_changed_on"].items()},
            spent_by_month={
                Category(c): {(int(k[:4]), int(k[5:7])): _money(a) for k, a in months.items()}
                for c, months in document["spent_by_month"].items()
            },
            lines=tuple(
                LineFacts(
                    category=Category(line["category"]),
                    limit_kind=LimitKind(line["limit_kind"]),
                    budget=_money(line["budget"]),
                    limit=maybe(line["limit"]),
                    spent=_money(line["spent"]),
                    eligible=_money(line["eligible"]),
                    maximum=maybe(line["maximum"]),
                )
                for line in document["lines"]
            ),
            standing={
                AlertKey(item["category"], item["kind"], item["subject"]): dict(item["figures"])
                for item in document["standing"]
            },
            next_claim=str(document["next_claim"]),
            grant_claimed=_money(document["grant_claimed"]),
            grant_paid=_money(document["grant_paid"]),
            latest_spend=None if document["latest_spend"] is None else day(document["latest_spend"]),
            parental_leave=_money(document["parental_leave"]),
            page=None if document["page"] is None else PageFacts.from_json(document["page"]),
        )


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def listed_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of stored facts (`HealthFacts.to_json`) a list of projects shows: the offer's
    reference, title, parties and period, the closure, the invoices to the business and the
    quarters claimed, parsed alone (`ListedFacts` reads only these). A ValueError or
    KeyError for facts of another format."""
    if document.get("format") != FACTS_FORMAT:
        raise ValueError(f"project facts of format {document.get('format')!r}, expected {FACTS_FORMAT}")
    day = date.fromisoformat
    return {
        "project": str(document["project"]),
        "version": int(document["version"]),
        "title": str(document["title"]),
        "knowledge_base": str(document["knowledge_base"]),
        "business": str(document["business"]),
        "business_type": str(document["business_type"]),
        "methodology": str(document["methodology"]),
        "start": day(document["start"]),
        "end": day(document["end"]),
        "months": int(document["months"]),
        "closed": bool(document["closed"]),
        "closed_on": None if document["closed_on"] is None else day(document["closed_on"]),
        "grant_rate": _money(document["grant_rate"]),
        "invoices": {
            item["number"]: InvoiceFacts(
                number=str(item["number"]),
                quarter=str(item["quarter"]),
                invoiced_on=day(item["invoiced_on"]),
                due=day(item["due"]),
                amount=_money(item["amount"]),
                paid=_money(item["paid"]),
            )
            for item in document["invoices"]
        },
        "claimed": frozenset(str(quarter) for quarter in document["claimed"]),
    }


def facts_of(
    state: ProjectState,
    lines: Iterable[Allowance],
    standing: Conditions | None = None,
    *,
    spend_months: SpendMonths | None = None,
    fact_versions: Sequence[int] | None = None,
) -> HealthFacts | None:
    """The facts of a folded project with its allowance `lines` (None before its offer).
    `standing`: `alerts.standing_conditions(state, lines)` when the caller holds them already (the
    projector, `LiveProject.standing_conditions`), so they are not judged again. `spend_months` and
    `fact_versions`: what the projector kept as it folded (`LiveProject`), for `PageFacts`;
    without both, the facts have none and the project page folds the stream."""
    offer = state.offer
    if offer is None or not state.exists:
        return None
    lines = list(lines)
    standing = {
        key: figures
        for key, figures in (standing_conditions(state, lines) if standing is None else standing).items()
        if key.kind != AlertKind.THRESHOLD  # a line in use is the plan, never a reason
    }
    return HealthFacts(
        project=state.project,
        version=state.version,
        title=offer.title,
        knowledge_base=offer.knowledge_base,
        business=offer.business,
        business_type=offer.business_type.value,
        methodology=offer.methodology.value,
        start=state.start,
        end=state.end,
        months=state.months,
        closed=state.closed,
        closed_on=state.closed_on,
        grant_rate=state.grant_rate,
        budget=dict(state.budget),
        profiles=dict(state.profiles),
        budget_changed_on=dict(state.budget_changed_on),
        spent_by_month={c: dict(months) for c, months in state.spent_by_month.items()},
        lines=tuple(
            LineFacts(
                category=line.category,
                limit_kind=line.limit_kind,
                budget=line.budget,
                limit=line.limit,
                spent=line.spent,
                eligible=line.eligible,
                maximum=line.maximum,
            )
            for line in lines
        ),
        standing=standing,
        invoices={
            number: InvoiceFacts(
                number=invoice.number,
                quarter=invoice.quarter,
                invoiced_on=invoice.invoiced_on,
                due=invoice.due,
                amount=invoice.amount,
                paid=invoice.paid,
            )
            for number, invoice in state.invoices.items()
        },
        claimed=frozenset(state.claimed_quarters()),
        next_claim=state.next_claim_quarter(),
        grant_claimed=sum((claim.claim.grant for claim in state.grant_claims.values()), ZERO),
        grant_paid=state.grant_paid,
        latest_spend=state.latest_spend,
        parental_leave=state.parental_leave,
        page=None
        if spend_months is None or fact_versions is None
        else PageFacts(spend_months, tuple(fact_versions)),
    )
