"""A project's state as a fold over its events, and the rules an event must pass to join it.

`ProjectState.check(event)` raises `RuleViolation` when `event` may not be appended to the stream
as it stands (R-30..R-38, R-40); `ProjectState.apply(event, version)` folds it in. Both are pure.

An offer amendment (R-37) replaces the offer's fields from then on. The LMC decisions before it
stay applied as the changes they made: a line's budget is the amended offer's plus every change
the LMC made to it (a virement's amount, a budget revision's difference from the line as it then
stood), so amending a line moves its budget by the difference between the amended and the offered
figure, and the reconciliation's original budget plus its changes is still its final budget.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ktpledger.domain.errors import RuleViolation, UnreadableEvent, cause_of, shown
from ktpledger.domain.events import (
    AlertAcknowledged,
    ApproveExceedance,
    BudgetRevision,
    BusinessInvoiced,
    BusinessPaymentReceived,
    ClaimApproved,
    ClaimReversed,
    ClaimSubmitted,
    Decision,
    Event,
    Extension,
    GrantOffered,
    GrantPayment,
    LineProfile,
    LMCDecision,
    OfferAmended,
    ParentalLeaveCost,
    ProjectClosed,
    ProjectReopened,
    SpendClaimed,
    SpendProfileSet,
    UnknownCategory,
    Virement,
    claim_needs_narrative,
    next_quarter,
    quarter_of,
    quarter_span,
)
from ktpledger.domain.input_rules import LATEST_DATE, check_date_range
from ktpledger.domain.money import ZERO, format_money, format_pounds
from ktpledger.domain.rules import (
    Category,
    LimitKind,
    Methodology,
    RuleSet,
    Tag,
    lines_text,
    offer_lines,
    rule_set_for,
)

TAG_CATEGORIES: dict[Tag, Category] = {
    Tag.HIGHER_DEGREE_FEE: Category.ASSOCIATE_DEVELOPMENT,
    Tag.CONFERENCE: Category.TRAVEL_SUBSISTENCE,
    Tag.ASSOCIATE_TRAVEL: Category.TRAVEL_SUBSISTENCE,
    Tag.ACADEMIC_TRAVEL: Category.TRAVEL_SUBSISTENCE,
    Tag.COMPUTER: Category.CONSUMABLES,
}


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return date(year, month, min(start.day, last_day))


def same_content(recorded: Event, submitted: Event) -> bool:
    """Whether a resubmission under a recorded key is the same event (a duplicate, not a conflict)."""
    return fingerprint(recorded.content()) == fingerprint(submitted.content())


def fingerprint(content: dict[str, Any]) -> str:
    """A stable text of an event's content, for idempotency comparisons."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _elsewhere(rules: RuleSet, category: Category, methodology: Methodology) -> str:
    """That a real category is not one of `methodology`'s, and whose it is."""
    owners = [m.value for m in Methodology if m is not methodology and category in rules.categories_for(m)]
    whose = f" is a {' and '.join(owners)} line and" if owners else ""
    return f"category {shown(category.value)}{whose} does not exist for a {methodology.value} project"


@dataclass(frozen=True)
class TermsWording:
    """How a reader of the project's terms names them: the fix for a virtual business in London,
    how a field is spelled (`--supervisor-cost` on the command line, `supervisor_cost` in an
    event) and why a field is fec-only, so that each caller's refusal reads as it always has."""

    london_fix: str
    spell: Callable[[str], str]
    fec_only_why: str = ""


OFFER_WORDING = TermsWording(london_fix="set london or virtual to false", spell=str)

# The figures only a fec project states, in the order they are checked, with the rule of each.
FEC_ONLY_TERMS = {"supervisor_cost": "R-16", "support_costs": "R-01", "estates": "R-17"}


def check_period_terms(
    rules: RuleSet,
    *,
    months: int,
    london: bool,
    virtual: bool,
    wording: TermsWording,
    start: date | None = None,
) -> None:
    """The terms of a project's period and place that a costing request and a grant offer share:
    months within the rule set's range (R-02) and, given a start, a start and an end within the
    ledger's dates (R-01, R-02); a virtual business never in London (R-11)."""
    if start is not None:
        check_date_range(start, field="start", rule="R-01")
    rules.check_months(months)
    if start is not None:
        end = add_months(start, months) - timedelta(days=1)
        if end > LATEST_DATE:
            raise RuleViolation(
                "R-02",
                f"a project starting {start} for {months} months would end on {end}, after "
                f"the last date the ledger accepts ({LATEST_DATE}): check the start and the months",
                field="months",
            )
    if virtual and london:
        raise RuleViolation(
            "R-11",
            f"a virtual business cannot claim London weighting: {wording.london_fix}",
            field="london",
        )


def check_fec_only_terms(methodology: Methodology, given: Mapping[str, bool], wording: TermsWording) -> None:
    """A non_fec project states none of the fec-only figures (`FEC_ONLY_TERMS`, R-16, R-01, R-17):
    `given` says which of them a costing request or a grant offer states."""
    if methodology is not Methodology.NON_FEC:
        return
    for name, rule in FEC_ONLY_TERMS.items():
        if given.get(name, False):
            spelled = wording.spell(name)
            raise RuleViolation(
                rule,
                f"{spelled} applies to fec projects only{wording.fec_only_why}",
                field=spelled.lstrip("-"),
            )


def check_offer_terms(rules: RuleSet, offer: GrantOffered) -> None:
    """Every check of a grant offer on its own terms (R-31): its period and place, its lines those
    of its methodology, the derived line never given, the fec-only figures, and each line within
    its maximum, or its standard unless justified. An amended offer passes the same (R-37)."""
    check_period_terms(
        rules,
        months=offer.months,
        london=offer.london,
        virtual=offer.virtual,
        wording=OFFER_WORDING,
        start=offer.start,
    )
    categories = rules.categories_for(offer.methodology)
    for category in (*offer.budget, *offer.justifications):
        if category not in categories:
            raise RuleViolation(
                "R-31",
                offer_lines(
                    _elsewhere(rules, category, offer.methodology),
                    rules.claimable(offer.methodology),
                    f"the lines of a {offer.methodology.value} project are",
                ),
                field="budget",
            )
    if Category.KNOWLEDGE_BASE_OVERHEADS in offer.budget:
        raise RuleViolation(
            "R-19",
            "knowledge_base_overheads is derived from the other lines and must not be given",
            field="budget",
        )
    check_fec_only_terms(
        offer.methodology, {"supervisor_cost": offer.supervisor_cost is not None}, OFFER_WORDING
    )
    for category in categories:
        amount = offer.budget.get(category, ZERO)
        rule = rules.category_rule(offer.methodology, category)
        limit = rules.limit(
            offer.methodology,
            category,
            offer.months,
            london=offer.london,
            supervisor_cost=offer.supervisor_cost,
        )
        if limit is None or amount <= limit:
            continue
        if rule.kind is LimitKind.MAXIMUM:
            raise RuleViolation(
                "R-31",
                f"{category.value} budget {format_pounds(amount)} is above its maximum of "
                f"{format_pounds(limit)} for {offer.months} months ({rule.rule}); lower it",
                field=f"budget.{category.value}",
            )
        if rule.kind is LimitKind.STANDARD and category not in offer.justifications:
            raise RuleViolation(
                "R-31",
                f"{category.value} budget {format_pounds(amount)} is above its standard of "
                f"{format_pounds(limit)} for {offer.months} months ({rule.rule}); give a justification "
                f"for {category.value} or lower it",
                field=f"justifications.{category.value}",
            )


@dataclass
class Claim:
    """A recorded spend claim and how much of it has been reversed (R-33, R-34)."""

    key: str
    version: int
    date: date
    category: Category
    amount: Decimal
    tags: tuple[Tag, ...]
    reversed: Decimal = ZERO

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.reversed


# The reasons a tagged claim can be excluded for (`allowances.Exclusions`): the sub-limits R-12,
# R-13 and R-15, and R-14's associate travel of a virtual business.
HIGHER_DEGREE_FEE = "higher_degree_fee"
CONFERENCE = "conference"
COMPUTER = "computer"
ASSOCIATE_TRAVEL = "associate_travel"


def exclusion_reasons(tags: Iterable[Tag], *, virtual: bool) -> tuple[str, ...]:
    """The sub-limits and R-14 reasons a claim tagged `tags` counts under. A virtual business's
    associate travel is wholly the business's (R-14) before any guide is counted: so it takes none
    of the project's two conferences (R-13), even when it is also tagged conference."""
    tags = tuple(tags)
    travel = virtual and Tag.ASSOCIATE_TRAVEL in tags
    reasons = []
    if Tag.HIGHER_DEGREE_FEE in tags:
        reasons.append(HIGHER_DEGREE_FEE)
    if Tag.CONFERENCE in tags and not travel:
        reasons.append(CONFERENCE)
    if Tag.COMPUTER in tags:
        reasons.append(COMPUTER)
    if travel:
        reasons.append(ASSOCIATE_TRAVEL)
    return tuple(reasons)


@dataclass
class CountedClaims:
    """The claims of one line under one reason that still count (not reversed in full), kept as
    claims are recorded and reversed so that a sub-limit costs O(1) per event, not a scan of every
    tagged claim: the first `allowed` of them in version order (`front`, within the guide or cap),
    the rest in version order, and the outstanding totals of all of them and of the rest."""

    allowed: int
    front: list[Claim] = field(default_factory=list)
    # An OrderedDict, not a dict: the earliest of the rest is popped from the front when a claim of
    # `front` is reversed in full, which a plain dict does in time growing with what was popped.
    rest: OrderedDict[str, Claim] = field(default_factory=OrderedDict)
    total: Decimal = ZERO
    rest_total: Decimal = ZERO

    @property
    def count(self) -> int:
        return len(self.front) + len(self.rest)

    def __contains__(self, key: object) -> bool:
        if key in self.rest:
            return True
        return any(claim.key == key for claim in self.front) if self.front else False

    def keys(self) -> Iterable[str]:
        """The counted claims' keys, in version order."""
        yield from (claim.key for claim in self.front)
        yield from self.rest

    def add(self, claim: Claim) -> None:
        """A claim recorded after every claim already counted."""
        self.total += claim.outstanding
        if len(self.front) < self.allowed:
            self.front.append(claim)  # the rest is empty while the front has room
        else:
            self.rest[claim.key] = claim
            self.rest_total += claim.outstanding

    def reversed(self, claim: Claim, amount: Decimal) -> None:
        """`amount` of a counted claim reversed (already taken off its outstanding)."""
        self.total -= amount
        in_rest = claim.key in self.rest
        if in_rest:
            self.rest_total -= amount
        if claim.outstanding > 0:
            return
        if in_rest:
            del self.rest[claim.key]
            return
        self.front = [counted for counted in self.front if counted.key != claim.key]
        if self.rest:
            _, promoted = self.rest.popitem(last=False)
            self.rest_total -= promoted.outstanding
            self.front.append(promoted)  # later than every claim of the front


@dataclass
class Invoice:
    """An invoice to the business partner and what it has paid against it (R-44)."""

    version: int
    invoiced_on: date
    invoice: BusinessInvoiced
    paid: Decimal = ZERO

    @property
    def number(self) -> str:
        return self.invoice.number

    @property
    def quarter(self) -> str:
        return self.invoice.quarter

    @property
    def amount(self) -> Decimal:
        return self.invoice.amount

    @property
    def due(self) -> date:
        return self.invoice.due_on(self.invoiced_on)

    @property
    def outstanding(self) -> Decimal:
        return self.invoice.amount - self.paid


@dataclass
class GrantClaim:
    """A submitted grant claim (R-45), frozen as submitted, the monitoring officer's approval of
    it (R-46) and the grant paid against it."""

    version: int
    submitted_on: date
    claim: ClaimSubmitted
    paid: Decimal = ZERO
    approval: ClaimApproved | None = None  # claim approvals: None until approved
    approved_on: date | None = None

    @property
    def number(self) -> int:
        return self.claim.number

    @property
    def approved(self) -> Decimal | None:
        return None if self.approval is None else self.approval.amount

    @property
    def payable(self) -> Decimal:
        """What Innovate UK is to pay on the claim: the grant approved, the grant claimed until then."""
        return self.claim.grant if self.approval is None else self.approval.amount

    @property
    def outstanding(self) -> Decimal:
        return self.payable - self.paid


@dataclass(frozen=True)
class Payable:
    """What a payment names (a grant claim, an invoice) as its check reads it: how a refusal names
    it, the day it was made, and what is outstanding on it."""

    named: str
    made_on: date
    outstanding: Decimal


STATE_BYTES_BASE = 8_000  # an offer, its budget lines, their caches
STATE_BYTES_PER_ITEM = 400  # a claim, an invoice, a grant claim or an acknowledgement held
STATE_BYTES_PER_KEY = 300  # an event kept for idempotency (a state that tracks keys)
STATE_BYTES_PER_MONTH = 260  # a line's spend in a calendar month (`spent_by_month`): key and Decimal


def _holds_none(claim: Claim) -> bool:
    return False


@dataclass
class ProjectState:
    """Everything the rules need to know about one project's stream, folded from its events."""

    project: str
    version: int = 0
    head_hash: str = ""
    keys: dict[str, tuple[Event, int]] = field(default_factory=dict)  # idempotency: key -> (event, version)
    track_keys: bool = True  # idempotency needs them; a projection does not
    offer: GrantOffered | None = None
    offer_date: date | None = None
    rules: RuleSet | None = None
    months: int = 0
    limit_months: int = 0
    original_budget: dict[Category, Decimal] = field(default_factory=dict)
    budget: dict[Category, Decimal] = field(default_factory=dict)
    approved_limits: dict[Category, Decimal] = field(default_factory=dict)
    spent: dict[Category, Decimal] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    tagged: dict[Category, list[Claim]] = field(default_factory=dict)  # claims with tags, for sub-limits
    # The tagged claims that count under each line's sub-limits and R-14, by (line, reason), kept
    # event by event (`CountedClaims`): what `allowances.exclusions` reads. Worked out again from
    # `tagged` when the offer is made or amended (the rules and `virtual` decide the reasons).
    counted: dict[tuple[Category, str], CountedClaims] = field(default_factory=dict, compare=False)
    parental_leave: Decimal = ZERO
    leave_dates: tuple[date, date] | None = None  # the first and last parental-leave cost's dates
    grant_paid: Decimal = ZERO
    closed_on: date | None = None
    reopened_on: date | None = None  # the latest ProjectReopened
    amended_on: date | None = None  # the latest OfferAmended
    # The alerts acknowledged, by crossing (category, kind, subject, raised_at_version): the
    # version, date and note of the (first) acknowledgement.
    acknowledged: dict[tuple[str, str, str, int], tuple[int, date, str]] = field(default_factory=dict)
    # The business's invoices, by number, in the order they were recorded.
    invoices: dict[str, Invoice] = field(default_factory=dict)
    # Spend profiles: each line's latest profile and the date it was set; and the date of the
    # latest change to each line's budget (a virement, a revision, an amendment), after which a
    # profile's unplanned remainder is spread (`domain/profile.py`).
    profiles: dict[Category, tuple[LineProfile, date]] = field(default_factory=dict)
    budget_changed_on: dict[Category, date] = field(default_factory=dict)
    # Net spend by line and calendar month (year, month) of the claims and reversals dated in it:
    # the cumulative spend at a quarter's end that `behind_profile` / `ahead_of_profile` judge.
    spent_by_month: dict[Category, dict[tuple[int, int], Decimal]] = field(default_factory=dict)
    # The latest date of a claim or reversal: "no spend recorded for three months".
    latest_spend: date | None = None
    # Grant claims, by number, in order (one per quarter, each frozen as submitted).
    grant_claims: dict[int, GrantClaim] = field(default_factory=dict)
    # The latest date of any event but an acknowledgement: the project's clock, which the
    # projection keeps beside its lines (`LiveProject.latest`) and a snapshot carries (issue 18).
    clock: date | None = None
    # Caches of figures that change only with the offer or an extension (folding is a hot path).
    _kinds: dict[Category, LimitKind] = field(default_factory=dict, repr=False, compare=False)
    _standards: dict[Category, Decimal | None] = field(default_factory=dict, repr=False, compare=False)
    _end: date | None = field(default=None, repr=False, compare=False)
    _categories: tuple[Category, ...] = field(default=(), repr=False, compare=False)

    # --- derived figures --------------------------------------------------------------------------

    def approximate_bytes(self) -> int:
        """About what this state holds in memory: what a cache's byte budget counts (issue 18).
        Measured (tracemalloc, 10,000 claims): some 370 bytes a claim folded without keys, and
        285 more an event when its keys are kept. A state without its claims in memory
        (`snapshot.defer_claims`) weighs its months' spend too: 1,000 claims over two years'
        dates left 24 KB, 19 KB of it the spend by line and month."""
        # A snapshot's state that has not read its claims holds only those folded in since
        # (`snapshot.DeferredClaims.held`).
        claims = getattr(self.claims, "held", self.claims.__len__)()
        held = claims + len(self.invoices) + len(self.grant_claims) + len(self.acknowledged)
        months = sum(len(by_month) for by_month in self.spent_by_month.values())
        return (
            STATE_BYTES_BASE
            + STATE_BYTES_PER_ITEM * held
            + STATE_BYTES_PER_KEY * len(self.keys)
            + STATE_BYTES_PER_MONTH * months
        )

    @property
    def exists(self) -> bool:
        return self.offer is not None

    @property
    def closed(self) -> bool:
        return self.closed_on is not None

    @property
    def start(self) -> date:
        return self._offer().start

    @property
    def end(self) -> date:
        """The last day of the project's period, extensions included."""
        if self._end is None:
            self._end = add_months(self.start, self.months) - timedelta(days=1)
        return self._end

    @property
    def grant_rate(self) -> Decimal:
        offer = self._offer()
        if offer.grant_rate is not None:
            return offer.grant_rate
        return self._rules().grant_rate(offer.methodology, offer.business_type)

    def categories(self) -> tuple[Category, ...]:
        if not self._categories:
            self._categories = self._rules().categories_for(self._offer().methodology)
        return self._categories

    def limit_kind(self, category: Category) -> LimitKind:
        kind = self._kinds.get(category)
        if kind is None:
            kind = self._kinds[category] = (
                self._rules().category_rule(self._offer().methodology, category).kind
            )
        return kind

    def standard(self, category: Category) -> Decimal | None:
        """The guidance's amount for the line over the months that count for limits (R-20)."""
        if category in self._standards:
            return self._standards[category]
        offer = self._offer()
        amount = self._rules().limit(
            offer.methodology,
            category,
            self.limit_months,
            london=offer.london,
            supervisor_cost=offer.supervisor_cost,
        )
        self._standards[category] = amount
        return amount

    def limit(self, category: Category) -> Decimal | None:
        """The line's limit (R-40): a maximum, a standard raised by justification or approval, the
        budget for a budget line, None for a derived line."""
        kind = self.limit_kind(category)
        if kind is LimitKind.DERIVED:
            return None
        if kind is LimitKind.BUDGET:
            return self.budget.get(category, ZERO)
        standard = self.standard(category)
        if kind is LimitKind.MAXIMUM:
            assert standard is not None
            return standard
        offered = self.original_budget.get(category, ZERO)
        candidates = [standard if standard is not None else offered]
        if category in self._offer().justifications:
            candidates.append(offered)
        if category in self.approved_limits:
            candidates.append(self.approved_limits[category])
        return max(candidates)

    def business_contribution(self, budget: dict[Category, Decimal]) -> Decimal:
        """The business's share of a budget: every line but the derived overheads (R-19, R-32)."""
        rate = self.grant_rate
        return sum(
            (
                amount * (1 - rate)
                for category, amount in budget.items()
                if self.limit_kind(category) is not LimitKind.DERIVED
            ),
            ZERO,
        )

    def _offer(self) -> GrantOffered:
        if self.offer is None:
            raise RuleViolation("R-31", f"project {self.project} has no grant offer yet")
        return self.offer

    def _rules(self) -> RuleSet:
        if self.rules is None:
            raise RuleViolation("R-31", f"project {self.project} has no grant offer yet")
        return self.rules

    # --- the rules an event must pass ------------------------------------------------------------

    def check(self, event: Event) -> None:
        """Raise `RuleViolation` if `event` may not be appended to this stream now."""
        payload = event.payload
        if type(payload) is SpendClaimed and self.offer is not None and self.closed_on is None:
            # The bulk of any ledger, straight to its own check: what the chain below asks of a
            # claim first (an offer, a project not closed) holds (issue 18).
            self._check_claim(event.date, payload)
            return
        if isinstance(payload, GrantOffered):
            self._check_offer(event.date, payload)
            return
        if not self.exists:
            raise RuleViolation(
                "R-31",
                f"unknown project {self.project}: record its GrantOffered first",
                field="project",
            )
        if isinstance(payload, ProjectReopened):
            self._check_reopening(event.date)
            return
        if isinstance(payload, OfferAmended):
            self._check_amendment(event.date, payload)
            return
        if isinstance(payload, AlertAcknowledged):
            self._check_acknowledgement(event.date, payload)  # a closed project's alerts too
            return
        if isinstance(payload, BusinessPaymentReceived):
            self._check_business_payment(event.date, payload)  # a closed project's too, as grant payments
            return
        if isinstance(payload, ClaimApproved):
            self._check_claim_approval(event.date, payload)  # a closed project's too, as grant payments
            return
        if self.closed and not isinstance(payload, GrantPayment):
            raise RuleViolation(
                "R-36",
                f"project {self.project} was closed on {self.closed_on}: nothing but grant payments "
                "may follow; reconciliation is final (an administrator may reopen it: ProjectReopened, R-38)",
            )
        if isinstance(payload, LMCDecision):
            self._check_decision(event.date, payload)
        elif isinstance(payload, SpendClaimed):
            self._check_claim(event.date, payload)
        elif isinstance(payload, ClaimReversed):
            self._check_reversal(event.date, payload)
        elif isinstance(payload, ParentalLeaveCost):
            self._check_in_period(event.date, "R-35", "parental leave cost")
        elif isinstance(payload, GrantPayment):
            self._check_not_before_offer(event.date, "R-42", "grant payment")
            if payload.claim is not None:
                self._check_claim_payment(event.date, payload)
        elif isinstance(payload, BusinessInvoiced):
            self._check_invoice(event.date, payload)
        elif isinstance(payload, SpendProfileSet):
            self._check_profile(event.date, payload)
        elif isinstance(payload, ClaimSubmitted):
            self._check_grant_claim(event.date, payload)
        elif isinstance(payload, ProjectClosed):
            self._check_not_before_offer(event.date, "R-36", "closure")
            if self.reopened_on is not None and event.date < self.reopened_on:
                raise RuleViolation(
                    "R-38",
                    f"a closure dated {event.date} cannot precede the reopening of {self.reopened_on}",
                    field="date",
                )

    # --- the business's invoices (R-44) ----------------------------------------------------------

    def invoiced_total(self) -> Decimal:
        """What the business has been invoiced, every invoice's amount."""
        return sum((invoice.invoice.amount for invoice in self.invoices.values()), ZERO)

    def next_invoice_quarter(self) -> str:
        """The quarter the next invoice is for: the project's first quarter, then each in turn."""
        if not self.invoices:
            return quarter_of(self.start)
        return next_quarter(max(invoice.invoice.quarter for invoice in self.invoices.values()))

    def _check_invoice(self, on: date, invoice: BusinessInvoiced) -> None:
        """R-44: an invoice for an ended quarter of the project's period (in arrears), the next
        quarter not yet invoiced (quarters are invoiced in order, each once: late costs of an
        invoiced quarter are a prior-period adjustment on the next one), a new number, dated no
        earlier than the offer."""
        if invoice.made_of != invoice.amount:
            raise RuleViolation(
                "R-44",
                f"amount {format_money(invoice.amount)} is not what the invoice is made of: quarter_costs "
                f"+ prior_period - prior_period_credit + offer_top_up = {format_money(invoice.made_of)}",
                field="amount",
            )
        self._check_not_before_offer(on, "R-44", "business invoice")
        _, start, end = quarter_span(invoice.quarter, rule="R-44")
        if end < self.start or start > self.end:
            raise RuleViolation(
                "R-44",
                f"{invoice.quarter} is outside the project's period {self.start} to {self.end}",
                field="quarter",
            )
        if on <= end:
            raise RuleViolation(
                "R-44",
                f"{invoice.quarter} ends on {end}: an invoice dated {on} is not in arrears; invoice a "
                "quarter once it has ended",
                field="quarter",
            )
        for earlier in self.invoices.values():
            if earlier.invoice.quarter == invoice.quarter:
                raise RuleViolation(
                    "R-44",
                    f"{invoice.quarter} was invoiced already by {shown(earlier.number)} on {earlier.invoiced_on}: "
                    "costs of it that arrived since go on the next quarter's invoice as a prior-period "
                    "adjustment",
                    field="quarter",
                )
        expected = self.next_invoice_quarter()
        if invoice.quarter != expected:
            raise RuleViolation(
                "R-44",
                f"quarters are invoiced in order: the next invoice is for {expected}, not {invoice.quarter}",
                field="quarter",
            )
        if invoice.number in self.invoices:
            raise RuleViolation(
                "R-44", f"invoice number {shown(invoice.number)} is taken: give a new number", field="number"
            )

    # --- grant claims (R-45) ---------------------------------------------------------------------

    def claimed_quarters(self) -> dict[str, GrantClaim]:
        """The submitted claims by quarter."""
        return {claim.claim.quarter: claim for claim in self.grant_claims.values()}

    def next_claim_quarter(self) -> str:
        """The quarter the next grant claim is for: the project's first quarter, then each in turn."""
        if not self.grant_claims:
            return quarter_of(self.start)
        return next_quarter(max(claim.claim.quarter for claim in self.grant_claims.values()))

    def claimed_grant(self) -> dict[Category, Decimal]:
        """The grant claimed so far per category: each claim's quarter grant and prior-period
        adjustment."""
        found: dict[Category, Decimal] = {}
        for claim in self.grant_claims.values():
            for category, line in claim.claim.lines.items():
                found[category] = found.get(category, ZERO) + line.grant + line.prior_period
        return found

    def _check_grant_claim(self, on: date, claim: ClaimSubmitted) -> None:
        """R-45: a claim for an ended quarter of the project's period (in arrears), the next
        quarter not yet claimed (in order from the project's first, each once: late costs of a
        claimed quarter are a prior-period adjustment on the next claim), the next number, made
        from the project's stream as it stands (`version`, `head_hash`), a narrative on each line
        whose variance is more than 10% of its forecast (`claim_needs_narrative`), and figures
        that add up."""
        self._check_not_before_offer(on, "R-45", "grant claim")
        _, start, end = quarter_span(claim.quarter, rule="R-45")
        if end < self.start or start > self.end:
            raise RuleViolation(
                "R-45",
                f"{claim.quarter} is outside the project's period {self.start} to {self.end}",
                field="quarter",
            )
        if on <= end:
            raise RuleViolation(
                "R-45",
                f"{claim.quarter} ends on {end}: a claim dated {on} is not in arrears; claim a quarter once it has ended",
                field="quarter",
            )
        earlier = self.claimed_quarters().get(claim.quarter)
        if earlier is not None:
            raise RuleViolation(
                "R-45",
                f"{claim.quarter} was claimed already by claim {earlier.number} on {earlier.submitted_on}: costs of "
                "it recorded since go on the next quarter's claim as a prior-period adjustment",
                field="quarter",
            )
        expected = self.next_claim_quarter()
        if claim.quarter != expected:
            raise RuleViolation(
                "R-45",
                f"quarters are claimed in order: the next claim is for {expected}, not {claim.quarter}",
                field="quarter",
            )
        if claim.number != len(self.grant_claims) + 1:
            raise RuleViolation(
                "R-45",
                f"claims are numbered in order: this is claim {len(self.grant_claims) + 1}, not {claim.number}",
                field="number",
            )
        if claim.version != self.version or claim.head_hash != self.head_hash:
            raise RuleViolation(
                "R-45",
                f"the claim was made from version {claim.version} of {self.project}, which is now at version "
                f"{self.version}: work it out again from the ledger as it stands",
                field="version" if claim.version != self.version else "head_hash",
            )
        for category, line in claim.lines.items():
            where = f"lines.{category.value}"
            if line.variance != line.actual - line.forecast:
                raise RuleViolation(
                    "R-45",
                    f"{where}.variance {format_money(line.variance)} is not actual - forecast = "
                    f"{format_money(line.actual - line.forecast)}",
                    field=f"{where}.variance",
                )
            if claim_needs_narrative(line.actual, line.forecast) and not line.narrative:
                raise RuleViolation(
                    "R-45",
                    f"{category.value}'s spend {format_money(line.actual)} is {format_money(line.variance)} from its "
                    f"forecast {format_money(line.forecast)}, more than 10%: give a narrative for it",
                    field=f"{where}.narrative",
                )
        total = claim.quarter_grant + claim.prior_period
        if claim.grant != total:
            raise RuleViolation(
                "R-45",
                f"grant {format_money(claim.grant)} is not what the lines add up to: their grant and "
                f"prior-period adjustments come to {format_money(total)}",
                field="grant",
            )

    def _check_payment(
        self,
        rule: str,
        field: str,
        on: date,
        amount: Decimal,
        payable: Payable | None,
        unknown: Callable[[], str],
        fix: str,
    ) -> None:
        """A payment against what it names (R-44's invoices, R-45's claims): a `payable` of the
        project (else `unknown()` is said, naming `field`), dated no earlier than it was made, and
        no more than is outstanding on it (an overpayment is refused, never recorded: `fix`)."""
        if payable is None:
            raise RuleViolation(rule, unknown(), field=field)
        if on < payable.made_on:
            raise RuleViolation(
                rule,
                f"a payment dated {on} cannot precede {payable.named} of {payable.made_on}",
                field="date",
            )
        if amount > payable.outstanding:
            raise RuleViolation(
                rule,
                f"{format_pounds(amount, pence=True)} is more than the "
                f"{format_pounds(payable.outstanding, pence=True)} outstanding on {payable.named}: {fix}",
                field="amount",
            )

    def _check_claim_payment(self, on: date, payment: GrantPayment) -> None:
        """R-45: a grant payment naming a claim names one of the project's, is dated no earlier than
        it, and pays no more than is outstanding on it (the grant approved, R-46, or until then the
        grant claimed, less what is paid: record the rest without naming a claim)."""
        assert payment.claim is not None
        claim = self.grant_claims.get(payment.claim)
        self._check_payment(
            "R-45",
            "claim",
            on,
            payment.amount,
            None
            if claim is None
            else Payable(f"claim {claim.number}", claim.submitted_on, claim.outstanding),
            lambda: (
                f"project {self.project} has no claim {payment.claim}; its claims: "
                + (", ".join(str(number) for number in self.grant_claims) or "none yet")
            ),
            "record what pays this claim (the rest without naming one)",
        )

    def _check_business_payment(self, on: date, payment: BusinessPaymentReceived) -> None:
        """R-44: a payment against a recorded invoice of the project, no more than is outstanding
        on it (an overpayment is refused, never recorded), dated no earlier than the invoice."""
        invoice = self.invoices.get(payment.invoice)
        self._check_payment(
            "R-44",
            "invoice",
            on,
            payment.amount,
            None
            if invoice is None
            else Payable(f"invoice {shown(invoice.number)}", invoice.invoiced_on, invoice.outstanding),
            lambda: (
                f"project {self.project} has no invoice {shown(payment.invoice)}; its invoices: "
                + (", ".join(shown(number) for number in self.invoices) or "none yet")
            ),
            "record what pays this invoice",
        )

    # --- claim approvals (R-46) --------------------------------------------------------------------

    def _check_claim_approval(self, on: date, approval: ClaimApproved) -> None:
        """R-46: the monitoring officer's approval of a submitted claim of the project, dated no
        earlier than the claim, approving from what is already paid against it up to the grant it
        claimed (less only with a note saying why), once. A closed project takes it, as it takes
        grant payments (R-36): the final claim's approval often follows the closure."""
        claim = self.grant_claims.get(approval.claim)
        if claim is None:
            known = ", ".join(str(number) for number in self.grant_claims) or "none yet"
            raise RuleViolation(
                "R-46",
                f"project {self.project} has no claim {approval.claim} to approve; its claims: {known}",
                field="claim",
            )
        if claim.approval is not None:
            assert claim.approved_on is not None
            raise RuleViolation(
                "R-46",
                f"claim {claim.number} was approved already on {claim.approved_on} for "
                f"{format_pounds(claim.approval.amount, pence=True)}: a claim is approved once; what the "
                "monitoring officer changes later is settled on the final claim (final_adjustment)",
                field="claim",
            )
        if on < claim.submitted_on:
            raise RuleViolation(
                "R-46",
                f"date {on}: an approval cannot precede claim {claim.number} of {claim.submitted_on}: date it "
                "on or after the claim",
                field="date",
            )
        claimed = claim.claim.grant
        if approval.amount > claimed:
            raise RuleViolation(
                "R-46",
                f"amount {format_pounds(approval.amount, pence=True)} is more than the "
                f"{format_pounds(claimed, pence=True)} of grant claim {claim.number} claimed: approve at "
                "most what was claimed",
                field="amount",
            )
        if approval.amount < claim.paid:
            raise RuleViolation(
                "R-46",
                f"amount {format_pounds(approval.amount, pence=True)} is less than the "
                f"{format_pounds(claim.paid, pence=True)} already paid against claim {claim.number}: approve "
                "at least what is paid",
                field="amount",
            )
        if approval.amount < claimed and not approval.note:
            raise RuleViolation(
                "R-46",
                f"a note is required: {format_pounds(approval.amount, pence=True)} is less than the "
                f"{format_pounds(claimed, pence=True)} claimed on claim {claim.number}: give a note saying "
                "why the monitoring officer approved less",
                field="note",
            )

    def _check_profile(self, on: date, profile: SpendProfileSet) -> None:
        """A spend profile (R-43): lines of this project, quarters inside its period (extensions
        included), and explicit amounts that sum to the line's budget as it stands."""
        self._check_not_before_offer(on, "R-43", "spend profile")
        for category, line in profile.lines.items():
            name = f"lines.{category.value}"
            if category not in self.claimable():
                raise RuleViolation(
                    "R-43",
                    offer_lines(
                        f"{name}: {category.value} is no line this project plans",
                        self.claimable(),
                        self._lines_named(),
                    ),
                    field=name,
                )
            for quarter in line.named_quarters():
                if quarter.last_day < self.start or quarter.first_day > self.end:
                    raise RuleViolation(
                        "R-43",
                        f"{name}.quarters: {quarter} is outside the project's period {self.start} to "
                        f"{self.end} (extensions included)",
                        field=f"{name}.quarters",
                    )
            if line.rule == "amounts":
                total = sum(line.amounts.values(), ZERO)
                budget = self.budget.get(category, ZERO)
                if total != budget:
                    raise RuleViolation(
                        "R-43",
                        f"{name}.quarters: the amounts sum to {format_money(total)}, but the line's budget "
                        f"is {format_money(budget)}: a profile plans the whole line",
                        field=f"{name}.quarters",
                    )

    def _check_acknowledgement(self, on: date, acknowledgement: AlertAcknowledged) -> None:
        """R-39, as far as the project's stream alone can tell: the alert was raised at an earlier
        version of this project, not on a day after the acknowledgement's, and is not acknowledged
        yet. Whether that version raised that alert is the alerts' fold's to say
        (`service/acknowledgements.py` checks it against the alerts read model)."""
        assert self.offer_date is not None
        if on < self.offer_date:
            raise RuleViolation(
                "R-39",
                f"an acknowledgement dated {on} cannot precede the grant offer of {self.offer_date}",
                field="date",
            )
        if acknowledgement.raised_at_version > self.version:
            raise RuleViolation(
                "R-39",
                f"project {self.project} is at version {self.version}: no alert of it was raised at "
                f"version {acknowledgement.raised_at_version}",
                field="raised_at_version",
            )
        earlier = self.acknowledged.get(acknowledgement.crossing)
        if earlier is not None:
            raise RuleViolation(
                "R-39",
                f"this alert of project {self.project} was acknowledged already, on {earlier[1]} "
                f"(version {earlier[0]}): an alert is acknowledged once",
                field="raised_at_version",
            )

    def _check_reopening(self, on: date) -> None:
        """R-38: only a closed project is reopened, on or after the day it was closed."""
        if self.closed_on is None:
            raise RuleViolation(
                "R-38",
                f"project {self.project} is not closed: only a closed project can be reopened",
                field="type",
            )
        if on < self.closed_on:
            raise RuleViolation(
                "R-38",
                f"a reopening dated {on} cannot precede the closure of {self.closed_on}: date it on or "
                "after the closure",
                field="date",
            )

    def amended(self, amendment: OfferAmended) -> ProjectState:
        """A copy of this state with `amendment` folded in (this state is left as it is): what
        R-37 judges. Only what folding an amendment changes is copied."""
        trial = copy.copy(self)
        trial.budget = dict(self.budget)
        trial.original_budget = dict(self.original_budget)
        trial._standards = {}
        trial.budget_changed_on = dict(self.budget_changed_on)
        trial._apply_amendment(amendment, None)
        return trial

    def _check_amendment(self, on: date, amendment: OfferAmended) -> None:
        """R-37: an amended offer passes every check of an offer (R-31), never lowers the
        business's contribution (as an LMC budget revision, R-32), keeps each recorded cost inside
        the amended period and each line at or above what has been claimed against it; never on a
        closed project."""
        if self.closed:
            raise RuleViolation(
                "R-37",
                f"project {self.project} was closed on {self.closed_on}: reopen it (ProjectReopened) "
                "before amending its offer",
                field="type",
            )
        self._check_not_before_offer(on, "R-37", "offer amendment")
        rules = self._rules()
        offer = self._offer()
        amended_offer = amendment.amend(offer)
        try:
            check_offer_terms(rules, amended_offer)
            # The extensions stay on top of the amended months: the whole period must still fit.
            months = rules.check_months(amended_offer.months + self.months - offer.months)
        except RuleViolation as error:
            raise RuleViolation(
                "R-37", f"the amended offer breaks {error.rule}: {error.message}", field=error.field
            ) from None
        end = add_months(amended_offer.start, months) - timedelta(days=1)
        if end > LATEST_DATE:
            raise RuleViolation(
                "R-37",
                f"the amended period would end on {end}, after the last date the ledger accepts "
                f"({LATEST_DATE}): check the start and the months",
                field="months",
            )
        trial = self.amended(amendment)
        before = self.business_contribution(self.budget)
        after = trial.business_contribution(trial.budget)
        if after < before:
            raise RuleViolation(
                "R-37",
                f"the amendment lowers the business's contribution from {format_pounds(before, pence=True)} "
                f"to {format_pounds(after, pence=True)}: costs to the business may not be reduced after "
                "the grant is approved (R-32); correct the budget lines or the grant rate",
                field="budget" if amendment.budget is not None else "grant_rate",
            )
        # The LMC's changes stay on top of the amended offer: each line as they leave it must still
        # fit the amended limits (fewer months, or no London weighting, lower the maxima).
        for category in trial.claimable():
            try:
                trial._check_line_fits(category, trial.budget.get(category, ZERO), "R-40")
            except RuleViolation as error:
                raise RuleViolation(
                    "R-37",
                    f"with the LMC's changes on top of the amended offer, {error.message}",
                    field=f"budget.{category.value}",
                ) from None
        for category, offered in (amendment.budget or {}).items():
            claimed = self.spent.get(category, ZERO)
            if trial.budget.get(category, ZERO) < claimed:
                raise RuleViolation(
                    "R-37",
                    f"{category.value} would be {format_pounds(trial.budget.get(category, ZERO))} (the "
                    f"amended offer's {format_pounds(offered)} with the LMC's changes), "
                    f"below the {format_pounds(claimed, pence=True)} already claimed against it: raise it",
                    field=f"budget.{category.value}",
                )
        for claim in self.claims.values():
            if not trial.start <= claim.date <= trial.end:
                raise RuleViolation(
                    "R-37",
                    f"claim {shown(claim.key)} dated {claim.date} would fall outside the amended period "
                    f"{trial.start} to {trial.end}: correct the start or the months, or reverse the claim "
                    "and record it again",
                    field="start" if claim.date < trial.start else "months",
                )
        if self.leave_dates is not None:
            first, last = self.leave_dates
            if first < trial.start or last > trial.end:
                outside = first if first < trial.start else last
                raise RuleViolation(
                    "R-37",
                    f"a parental leave cost dated {outside} would fall outside the amended period "
                    f"{trial.start} to {trial.end}: correct the start or the months",
                    field="start" if outside < trial.start else "months",
                )

    def _check_offer(self, on: date, offer: GrantOffered) -> None:
        if self.exists:
            raise RuleViolation(
                "R-31",
                f"project {self.project} already has a grant offer; change it by an LMC decision, or "
                "correct it by an OfferAmended (R-37)",
            )
        check_offer_terms(rule_set_for(on), offer)

    def claimable(self) -> tuple[Category, ...]:
        """The lines this project budgets, claims and vires: its methodology's, but the derived one."""
        return tuple(c for c in self.categories() if self.limit_kind(c) is not LimitKind.DERIVED)

    def _lines_named(self) -> str:
        return f"the lines of {self.project}, a {self._offer().methodology.value} project, are"

    def category_refusal(self, error: UnknownCategory) -> UnknownCategory:
        """A name refused while parsing as no category at all, reworded for this project: the
        nearest of its own lines, and only those (never the derived line, never the other
        methodology's)."""
        return error.for_lines(self.claimable(), self._lines_named())

    def _check_category(self, category: Category, rule: str) -> None:
        if category not in self.categories():
            raise RuleViolation(
                rule,
                offer_lines(
                    _elsewhere(self._rules(), category, self._offer().methodology),
                    self.claimable(),
                    self._lines_named(),
                ),
                field="category",
            )
        if self.limit_kind(category) is LimitKind.DERIVED:
            raise RuleViolation(
                "R-19",
                f"{category.value} is derived from other lines and cannot be claimed or vired; "
                f"{self._lines_named()} {lines_text(self.claimable())}",
                field="category",
            )

    def _check_not_before_offer(self, on: date, rule: str, what: str) -> None:
        assert self.offer_date is not None
        if on < self.offer_date:
            raise RuleViolation(
                rule, f"a {what} dated {on} cannot precede the grant offer of {self.offer_date}", field="date"
            )

    def _check_in_period(self, on: date, rule: str, what: str) -> None:
        if not self.start <= on <= self.end:
            raise RuleViolation(
                rule,
                f"a {what} dated {on} is outside the project's period {self.start} to {self.end} "
                "(extensions included): correct the date or record an extension first",
                field="date",
            )

    def _check_line_fits(self, category: Category, amount: Decimal, rule_for_standard: str) -> None:
        """A budget line may not pass its maximum (R-32) nor a standard line its limit (R-40)."""
        kind = self.limit_kind(category)
        limit = self.limit(category)
        if kind is LimitKind.MAXIMUM and limit is not None and amount > limit:
            raise RuleViolation(
                "R-32",
                f"{category.value} would be {format_pounds(amount)}, above its maximum of {format_pounds(limit)}",
                field=category.value,
            )
        if kind is LimitKind.STANDARD and limit is not None and amount > limit:
            raise RuleViolation(
                rule_for_standard,
                f"{category.value} would be {format_pounds(amount)}, above its limit of {format_pounds(limit)}: "
                "the LMC must first approve an exceedance (approve_exceedance)",
                field=category.value,
            )

    def _check_decision(self, on: date, decision: LMCDecision) -> None:
        self._check_not_before_offer(on, "R-32", "LMC decision")
        offer = self._offer()
        change = decision.decision
        if isinstance(change, Virement):
            self._check_category(change.from_category, "R-32")
            self._check_category(change.to_category, "R-32")
            if offer.virtual and change.from_category is Category.TRAVEL_SUBSISTENCE:
                raise RuleViolation(
                    "R-32",
                    "a virtual business's travel_subsistence may not be vired to another line (R-14)",
                    field="from",
                )
            giving = self.budget.get(change.from_category, ZERO) - change.amount
            claimed = self.spent.get(change.from_category, ZERO)
            if giving < claimed:
                raise RuleViolation(
                    "R-32",
                    f"moving {format_pounds(change.amount)} would leave {change.from_category.value} at "
                    f"{format_pounds(giving)}, below the {format_pounds(claimed, pence=True)} already claimed "
                    "against it",
                    field="amount",
                )
            self._check_line_fits(
                change.to_category, self.budget.get(change.to_category, ZERO) + change.amount, "R-40"
            )
        elif isinstance(change, ApproveExceedance):
            self._check_category(change.category, "R-32")
            if self.limit_kind(change.category) is not LimitKind.STANDARD:
                raise RuleViolation(
                    "R-32",
                    f"{change.category.value} has a {self.limit_kind(change.category).value} limit; only a "
                    "standard line can be approved to exceed its standard",
                    field="category",
                )
            budget = self.budget.get(change.category, ZERO)
            if change.limit < budget:
                raise RuleViolation(
                    "R-40",
                    f"the approved limit {format_pounds(change.limit)} is below {change.category.value}'s "
                    f"budget of {format_pounds(budget)}",
                    field="limit",
                )
        elif isinstance(change, Extension):
            months = self._rules().check_months(self.months + change.months)
            end = add_months(self.start, months) - timedelta(days=1)
            if end > LATEST_DATE:
                raise RuleViolation(
                    "R-32",
                    f"extending by {change.months} months would end the project on {end}, after the "
                    f"last date the ledger accepts ({LATEST_DATE}): extend it by fewer months",
                    field="months",
                )
        elif isinstance(change, BudgetRevision):
            for category, amount in change.budget.items():
                self._check_category(category, "R-32")
                if (
                    offer.virtual
                    and category is Category.TRAVEL_SUBSISTENCE
                    and amount < self.budget.get(category, ZERO)
                ):
                    raise RuleViolation(
                        "R-32",
                        "a virtual business's travel_subsistence may not be moved to another line (R-14)",
                        field="budget.travel_subsistence",
                    )
                claimed = self.spent.get(category, ZERO)
                if amount < claimed:
                    raise RuleViolation(
                        "R-32",
                        f"{category.value} would be {format_pounds(amount)}, below the "
                        f"{format_pounds(claimed, pence=True)} already claimed against it",
                        field=f"budget.{category.value}",
                    )
                self._check_line_fits(category, amount, "R-40")
            revised = {**self.budget, **change.budget}
            before, after = self.business_contribution(self.budget), self.business_contribution(revised)
            if after < before:
                raise RuleViolation(
                    "R-32",
                    f"the revision lowers the business's contribution from {format_pounds(before, pence=True)} "
                    f"to {format_pounds(after, pence=True)}: costs to the business may not be reduced after "
                    "the grant is approved",
                    field="budget",
                )

    def _check_claim(self, on: date, claim: SpendClaimed) -> None:
        self._check_category(claim.category, "R-33")
        self._check_in_period(on, "R-33", "claim")
        for tag in claim.tags:
            if TAG_CATEGORIES[tag] is not claim.category:
                raise RuleViolation(
                    "R-33",
                    f"tag {shown(tag.value)} applies to {TAG_CATEGORIES[tag].value} claims, not {claim.category.value}",
                    field="tags",
                )

    def _check_reversal(self, on: date, reversal: ClaimReversed) -> None:
        claim = self.claims.get(reversal.claim)
        if claim is None:
            raise RuleViolation(
                "R-34",
                f"no SpendClaimed with key {shown(reversal.claim)} in project {self.project}",
                field="claim",
            )
        if on < claim.date:
            raise RuleViolation(
                "R-34", f"a reversal dated {on} cannot precede its claim of {claim.date}", field="date"
            )
        if claim.outstanding <= 0:
            raise RuleViolation(
                "R-34", f"claim {shown(claim.key)} has already been reversed in full", field="claim"
            )
        if reversal.amount is not None and reversal.amount > claim.outstanding:
            raise RuleViolation(
                "R-34",
                f"reversal of {format_pounds(reversal.amount, pence=True)} is more than the "
                f"{format_pounds(claim.outstanding, pence=True)} left of claim {shown(claim.key)}",
                field="amount",
            )

    # --- folding ---------------------------------------------------------------------------------

    def apply(self, event: Event, version: int, event_hash: str = "") -> None:
        """Fold a recorded event in (it has passed `check`, or it is being replayed).

        An event the fold cannot take (a stored offer no rule set covers, a period whose end is
        past the calendar's last year, a reversal of a claim the stream does not hold) raises
        `UnreadableEvent` naming the project and version, before the state is changed: what can
        fail is worked out first."""
        payload = event.payload
        try:
            if isinstance(payload, SpendClaimed):
                pass  # the bulk of any ledger: nothing in it can fail to fold
            elif isinstance(payload, GrantOffered):
                rules = rule_set_for(event.date)
                # The period's end is the date arithmetic that can overflow: met here, on the offer.
                end = add_months(payload.start, payload.months) - timedelta(days=1)
            elif isinstance(payload, ClaimReversed) and payload.claim not in self.claims:
                raise ValueError(f"it reverses claim {shown(payload.claim)}, which the project does not hold")
            elif isinstance(payload, LMCDecision):
                self._check_foldable(payload.decision)
            elif isinstance(payload, OfferAmended):
                offer = payload.amend(self._offer())
                add_months(offer.start, offer.months + self.months - self._offer().months)
        except UnreadableEvent:
            raise
        except Exception as error:
            raise UnreadableEvent(self.project, version, None, event.type, cause_of(error)) from error
        self.version = version
        self.head_hash = event_hash
        if not isinstance(payload, AlertAcknowledged):  # an acknowledgement moves no clock
            self.clock = event.date if self.clock is None else max(self.clock, event.date)
        if self.track_keys:
            self.keys[event.key] = (event, version)
        if isinstance(payload, GrantOffered):
            self.offer = payload
            self.offer_date = event.date
            self.rules = rules
            self._end = end
            self.months = self.limit_months = payload.months
            self.original_budget = {
                c: payload.budget.get(c, ZERO)
                for c in self.categories()
                if self.limit_kind(c) is not LimitKind.DERIVED
            }
            self.budget = dict(self.original_budget)
            self._count_tagged()
        elif isinstance(payload, LMCDecision):
            self._apply_decision(payload, event.date)
        elif isinstance(payload, SpendClaimed):
            claim = Claim(event.key, version, event.date, payload.category, payload.amount, payload.tags)
            self.claims[event.key] = claim
            # A snapshot's state that has not read its claims yet holds a tagged one until it does
            # (`snapshot.DeferredClaims.defer_tagged`): an append need not read them to count it.
            if claim.tags and not getattr(self.tagged, "defer_tagged", _holds_none)(claim):
                self.hold_tagged(claim)
            self.spent[payload.category] = self.spent.get(payload.category, ZERO) + payload.amount
            by_month = self.spent_by_month.setdefault(payload.category, {})
            month = (event.date.year, event.date.month)
            by_month[month] = by_month.get(month, ZERO) + payload.amount
            self.latest_spend = max(event.date, self.latest_spend or event.date)
        elif isinstance(payload, ClaimReversed):
            claim = self.claims[payload.claim]
            amount = claim.outstanding if payload.amount is None else payload.amount
            counted = claim.outstanding > 0
            claim.reversed += amount
            if claim.tags and counted:
                self._count_reversal(claim, amount)
            self.spent[claim.category] = self.spent.get(claim.category, ZERO) - amount
            by_month = self.spent_by_month.setdefault(claim.category, {})
            month = (event.date.year, event.date.month)
            by_month[month] = by_month.get(month, ZERO) - amount
            self.latest_spend = max(event.date, self.latest_spend or event.date)
        elif isinstance(payload, ParentalLeaveCost):
            self.parental_leave += payload.amount
            first, last = self.leave_dates or (event.date, event.date)
            self.leave_dates = (min(first, event.date), max(last, event.date))
        elif isinstance(payload, GrantPayment):
            self.grant_paid += payload.amount
            paid = None if payload.claim is None else self.grant_claims.get(payload.claim)
            if paid is not None:  # grant claims: checked at the door to name one
                paid.paid += payload.amount
        elif isinstance(payload, ProjectClosed):
            self.closed_on = event.date
        elif isinstance(payload, ProjectReopened):
            self.closed_on = None
            self.reopened_on = event.date
        elif isinstance(payload, OfferAmended):
            self._apply_amendment(payload, event.date)
            self.amended_on = event.date
        elif isinstance(payload, AlertAcknowledged):
            self.acknowledged.setdefault(payload.crossing, (version, event.date, payload.note))
        elif isinstance(payload, BusinessInvoiced):
            self.invoices[payload.number] = Invoice(version, event.date, payload)
        elif isinstance(payload, BusinessPaymentReceived):
            self.invoices[payload.invoice].paid += payload.amount
        elif isinstance(payload, SpendProfileSet):
            for category, line in payload.lines.items():
                self.profiles[category] = (line, event.date)
        elif isinstance(payload, ClaimSubmitted):
            self.grant_claims[payload.number] = GrantClaim(version, event.date, payload)
        elif isinstance(payload, ClaimApproved):
            approved = self.grant_claims.get(payload.claim)
            if approved is not None:  # claim approvals: checked at the door to name one
                approved.approval = payload
                approved.approved_on = event.date

    def _apply_amendment(self, amendment: OfferAmended, on: date | None) -> None:
        """Fold an amendment in (module docstring): the offer's fields replaced, each amended
        line's budget moved by the difference from the offered figure, the extensions kept on top
        of the amended months, and the figures cached from the offer worked out again."""
        offer = self._offer()
        amended = amendment.amend(offer)
        for category, amount in (amendment.budget or {}).items():
            if on is not None:
                self.budget_changed_on[category] = on
            difference = amount - self.original_budget.get(category, ZERO)
            self.original_budget[category] = amount
            self.budget[category] = self.budget.get(category, ZERO) + difference
        self.months += amended.months - offer.months
        self.limit_months += amended.months - offer.months
        self.offer = amended
        self._end = None
        self._standards = {}
        if amended.virtual != offer.virtual:
            self._count_tagged()  # a new dict: `amended` folds into a copy sharing this one

    # --- the claims counted under sub-limits and R-14 -------------------------------------------

    def hold_tagged(self, claim: Claim) -> None:
        """Keep a tagged claim recorded after every other, and count it (`_count`)."""
        self.tagged.setdefault(claim.category, []).append(claim)
        self._count(claim)

    def _count_tagged(self) -> None:
        """Work `counted` out afresh from every tagged claim that still counts, in version order."""
        # The tagged claims read before `counted` is replaced: reading a snapshot's claims
        # (`snapshot.DeferredClaims`) counts those it held back into the counts it read.
        tagged = list(self.tagged.values())
        self.counted = {}
        for claims in tagged:
            for claim in claims:
                if claim.outstanding > 0:
                    self._count(claim)

    def _count(self, claim: Claim) -> None:
        """Count a tagged claim under each reason it falls under (none before the offer: the offer
        counts the claims recorded before it)."""
        if self.rules is None or self.offer is None:
            return
        for reason in exclusion_reasons(claim.tags, virtual=self.offer.virtual):
            tally = self.counted.get((claim.category, reason))
            if tally is None:
                allowed = {CONFERENCE: self.rules.conference_guide, COMPUTER: self.rules.computer_cap}
                tally = self.counted[(claim.category, reason)] = CountedClaims(allowed.get(reason, 0))
            tally.add(claim)

    def _count_reversal(self, claim: Claim, amount: Decimal) -> None:
        if self.rules is None or self.offer is None:
            return
        for reason in exclusion_reasons(claim.tags, virtual=self.offer.virtual):
            self.counted[(claim.category, reason)].reversed(claim, amount)

    def _check_foldable(self, change: Decision) -> None:
        """Raise if a stored decision cannot be folded in: one on a project with no offer, a
        virement from a line the project does not have, an extension past the calendar's end."""
        self._offer()
        if isinstance(change, Virement) and change.from_category not in self.budget:
            raise ValueError(
                f"it moves budget from {change.from_category.value}, a line the project does not have"
            )
        if isinstance(change, Extension):
            add_months(self.start, self.months + change.months)

    def _apply_decision(self, decision: LMCDecision, on: date) -> None:
        change = decision.decision
        if isinstance(change, Virement):
            self.budget_changed_on[change.from_category] = on
            self.budget_changed_on[change.to_category] = on
            self.budget[change.from_category] -= change.amount
            self.budget[change.to_category] = self.budget.get(change.to_category, ZERO) + change.amount
        elif isinstance(change, ApproveExceedance):
            self.approved_limits[change.category] = change.limit
        elif isinstance(change, Extension):
            self.months += change.months
            self._end = None
            if change.costed:
                self.limit_months += change.months
                self._standards.clear()
        elif isinstance(change, BudgetRevision):
            self.budget.update(change.budget)
            for category in change.budget:
                self.budget_changed_on[category] = on
