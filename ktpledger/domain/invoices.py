"""The business partner's invoices (R-44): what a quarter's invoice is made of, and the business's
receivable beside the grant's.

The knowledge base invoices the business partner quarterly in arrears for its contribution: the
business's share of the eligible costs, worked out exactly as the reconciliation works it
(`reconciliation.reconcile`: per line eligible - grant, the grant half up to the penny, R-23; the
derived overheads line is all grant, R-19). An invoice for quarter Q is cumulative, as a claim pack
is (`reconciliation.quarter_claim`):

- `quarter_costs`: the business share of the events dated up to Q's end less that of the events
  dated before Q: the eligible costs dated in the quarter. The final quarter (the one holding the
  project's end date) covers every event, those dated after the end too, as its claim pack does.
- the prior-period adjustment: the business share of the events dated before Q, as the ledger
  now stands, less everything invoiced so far. Costs of an invoiced quarter that arrived since are
  `prior_period`; reversals of invoiced costs are `prior_period_credit`. An old invoice is never
  changed (R-30).
- `offer_top_up`, on the final quarter's invoice only: what the business's share of the eligible
  costs falls short of the offer's business total (R-32: the costs to the business must not be
  reduced once the grant is approved), so the business's invoices add up to at least what it
  was offered to pay. An earlier top-up (an extension made after the final invoice) is credited
  by the prior-period adjustment.
- Decision: an invoice never asks for less than nothing: a credit larger than what the quarter
  adds is taken only as far as the invoice's 0.00, and the rest is carried to the next invoice
  (which sees it because it compares with what was invoiced).

So a project's invoices add up to its reconciliation's business share, or to the offer's
business total when that is more.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from ktpledger.domain.events import Event, next_quarter, quarter_of, quarter_span
from ktpledger.domain.money import ZERO
from ktpledger.domain.project import Invoice, ProjectState
from ktpledger.domain.reconciliation import History, quarter_states, reconcile
from ktpledger.domain.rules import LimitKind
from ktpledger.domain.shares import reconciled_grant

DUE_WARNING_DAYS = 10  # `invoice_due` and `claim_due` are raised from 10 days before the due date
CLAIM_DUE_DAYS = 30  # a quarter's grant claim is due 30 days after the quarter's end


def business_share(state: ProjectState) -> Decimal:
    """The business's share of the eligible costs as the reconciliation works it (R-23)."""
    if not state.exists:
        return ZERO
    return reconcile(state, History()).total("business")


def offer_business_total(state: ProjectState) -> Decimal:
    """The business's total at the grant offer (R-32): each offered line's business share as the
    reconciliation would work it were the line spent to its budget (budget - grant, the grant half
    up to the penny), so a project spent exactly to its offer needs no top-up. The derived
    overheads line is all grant."""
    rate = state.grant_rate
    return sum(
        (
            amount - reconciled_grant(amount, rate)
            for category, amount in state.original_budget.items()
            if state.limit_kind(category) is not LimitKind.DERIVED
        ),
        ZERO,
    )


@dataclass(frozen=True)
class InvoiceDue:
    """What an invoice for a quarter asks of the business, and what it is made of."""

    quarter: str
    start: date
    end: date
    final_quarter: bool
    quarter_costs: Decimal
    prior_period: Decimal
    prior_period_credit: Decimal
    offer_top_up: Decimal
    business_share: Decimal  # the business share of the costs the invoice covers, cumulative
    offer_business: Decimal
    invoiced_before: Decimal

    @property
    def amount(self) -> Decimal:
        return self.quarter_costs + self.prior_period - self.prior_period_credit + self.offer_top_up

    def data(self, number: str, due: date | None = None) -> dict[str, str]:
        """The `BusinessInvoiced` event's data for this invoice (canonical money)."""
        data = {
            "number": number,
            "quarter": self.quarter,
            "amount": f"{self.amount:.2f}",
            "quarter_costs": f"{self.quarter_costs:.2f}",
            "prior_period": f"{self.prior_period:.2f}",
            "prior_period_credit": f"{self.prior_period_credit:.2f}",
            "offer_top_up": f"{self.offer_top_up:.2f}",
        }
        if due is not None:
            data["due"] = due.isoformat()
        return data


def invoice_due(project: str, events: Iterable[tuple[Event, int, str]], quarter: str) -> InvoiceDue:
    """The invoice for `quarter` as the ledger's events (version order) now stand (module docstring).
    Whether the quarter may be invoiced is `ProjectState.check`'s question (R-44)."""
    stream = list(events)
    states = quarter_states(project, stream, quarter, rule="R-44")
    label, start, end, until = states.label, states.start, states.end, states.until
    whole, before, through = states.whole, states.before, states.through
    share_before = business_share(before)
    share_through = business_share(through)
    final = until == date.max
    offer_business = offer_business_total(whole) if whole.exists else ZERO
    top_up = max(ZERO, offer_business - share_through) if final else ZERO
    invoiced = whole.invoiced_total() if whole.exists else ZERO
    # Reversals dated in the quarter of costs invoiced before it make no negative quarter: they
    # are a prior-period credit.
    added = share_through - share_before
    quarter_costs = max(ZERO, added)
    adjustment = (added - quarter_costs) + (share_before - invoiced)
    # Never less than nothing: a credit is taken only as far as 0.00; the rest carries forward.
    adjustment = max(adjustment, -(quarter_costs + top_up))
    return InvoiceDue(
        quarter=label,
        start=start,
        end=end,
        final_quarter=final,
        quarter_costs=quarter_costs,
        prior_period=max(ZERO, adjustment),
        prior_period_credit=max(ZERO, -adjustment),
        offer_top_up=top_up,
        business_share=share_through,
        offer_business=offer_business,
        invoiced_before=invoiced,
    )


@dataclass(frozen=True)
class BusinessReceivable:
    """The business's side of the statement: its invoices, what it has paid, what is outstanding,
    and the R-32 check that its contribution does not fall below the offer's."""

    invoices: tuple[Invoice, ...]
    business_share: Decimal
    offer_business: Decimal

    @property
    def invoiced(self) -> Decimal:
        return sum((invoice.invoice.amount for invoice in self.invoices), ZERO)

    @property
    def received(self) -> Decimal:
        return sum((invoice.paid for invoice in self.invoices), ZERO)

    @property
    def outstanding(self) -> Decimal:
        return self.invoiced - self.received

    @property
    def contribution_due(self) -> Decimal:
        """What the business owes in all: its share of the eligible costs, never below the offer's
        business total (R-32)."""
        return max(self.business_share, self.offer_business)

    @property
    def not_yet_invoiced(self) -> Decimal:
        return self.contribution_due - self.invoiced

    @property
    def below_offer(self) -> Decimal:
        """How far the business's share of the eligible costs is below the offer's business total
        (0 when it is not): the final invoice's top-up (R-32)."""
        return max(ZERO, self.offer_business - self.business_share)


def business_receivable(state: ProjectState, share: Decimal) -> BusinessReceivable:
    """The business's receivable from the project's state and its reconciled business share."""
    return BusinessReceivable(
        invoices=tuple(state.invoices.values()),
        business_share=share,
        offer_business=offer_business_total(state),
    )


def claim_due_quarter(state: ProjectState, today: date) -> tuple[str, date] | None:
    """The project's most recent quarter that has ended by `today` (its grant claim is due
    `CLAIM_DUE_DAYS` after its end), with the claim's due date; None before its first has ended."""
    _, this_start, _ = quarter_span(quarter_of(today), rule="R-44")
    _, _, final_end = quarter_span(quarter_of(state.end), rule="R-44")
    last_end = min(this_start - timedelta(days=1), final_end)
    if last_end < state.start:
        return None
    return quarter_of(last_end), last_end + timedelta(days=CLAIM_DUE_DAYS)


# --- the grant claims' deadlines (R-45) -----------------------------------------------------------


class OwedInvoice(Protocol):
    """An invoice to the business as its deadlines read it (`project.Invoice`, or the portfolio's
    facts of one)."""

    @property
    def number(self) -> str: ...

    @property
    def quarter(self) -> str: ...

    @property
    def invoiced_on(self) -> date: ...

    @property
    def due(self) -> date: ...

    @property
    def amount(self) -> Decimal: ...

    @property
    def paid(self) -> Decimal: ...

    @property
    def outstanding(self) -> Decimal: ...


class DeadlineSource(Protocol):
    """What the receivables' deadlines are judged from: a folded project (`ProjectState`) or the
    portfolio's facts of one (`health.HealthFacts`)."""

    @property
    def exists(self) -> bool: ...

    @property
    def closed(self) -> bool: ...

    @property
    def start(self) -> date: ...

    @property
    def end(self) -> date: ...

    @property
    def invoices(self) -> Mapping[str, OwedInvoice]: ...

    def claimed_quarters(self) -> Collection[str]: ...


def claims_not_submitted(state: DeadlineSource, today: date) -> list[tuple[str, date]]:
    """Each quarter of the project's period that has ended by `today` and has no `ClaimSubmitted`
    (R-45), in order, with its claim's due date (`CLAIM_DUE_DAYS` after the quarter's end)."""
    _, this_start, _ = quarter_span(quarter_of(today), rule="R-45")
    claimed = state.claimed_quarters()
    found: list[tuple[str, date]] = []
    quarter = quarter_of(state.start)
    while True:
        _, start, end = quarter_span(quarter, rule="R-45")
        if end >= this_start or start > state.end:
            return found
        if quarter not in claimed:
            found.append((quarter, end + timedelta(days=CLAIM_DUE_DAYS)))
        quarter = next_quarter(quarter)
