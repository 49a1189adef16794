"""A project's grant claims from submission to payment (R-45, R-46): each claim's grant claimed, the
monitoring officer's approval, the grant payments naming it and what is outstanding; the grant
payments naming no claim; and the final adjustment, what is still to claim (or to repay) for the
claims to add up to the reconciliation's grant ("the final claim is the reconciliation").

`claim_history_of` is the one reading: `ktpledger claim history`, `GET /projects/{p}/claims` and the
reconciliation's `receivables.grant` (`service/statements.py`) all take their figures from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.domain.events import GrantPayment
from ktpledger.domain.money import ZERO, format_money
from ktpledger.domain.project import GrantClaim, ProjectState
from ktpledger.domain.reconciliation import fold_with_history, reconcile
from ktpledger.domain.recorded import RecordedEvent, located
from ktpledger.service.ledger_reading import project_stream


@dataclass(frozen=True)
class ClaimPayment:
    """A grant payment as the claim history lists it: its date, amount and the project's version."""

    on: date
    amount: Decimal
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"date": self.on.isoformat(), "amount": format_money(self.amount), "version": self.version}


@dataclass(frozen=True)
class ClaimRecord:
    """One submitted claim: the grant it claimed (the quarter's and the prior-period adjustment),
    the grant approved on it (None until `ClaimApproved`, R-46), paid against it and outstanding
    (approved, or until then claimed, less paid)."""

    number: int
    quarter: str
    submitted_on: date
    claimed: Decimal
    quarter_grant: Decimal
    prior_period: Decimal
    approved: Decimal | None
    approved_on: date | None
    approved_by: str
    note: str
    paid: Decimal
    outstanding: Decimal
    payments: tuple[ClaimPayment, ...]

    def row(self) -> dict[str, Any]:
        """The claim as the reconciliation's `receivables.grant.claims` writes it."""
        return {
            "number": self.number,
            "quarter": self.quarter,
            "submitted_on": self.submitted_on.isoformat(),
            "claimed": format_money(self.claimed),
            "approved": None if self.approved is None else format_money(self.approved),
            "approved_on": None if self.approved_on is None else self.approved_on.isoformat(),
            "paid": format_money(self.paid),
            "outstanding": format_money(self.outstanding),
        }

    def to_json(self) -> dict[str, Any]:
        row = self.row()
        return {
            "number": row["number"],
            "quarter": row["quarter"],
            "submitted_on": row["submitted_on"],
            "claimed": row["claimed"],
            "quarter_grant": format_money(self.quarter_grant),
            "prior_period": format_money(self.prior_period),
            "approved": row["approved"],
            "approved_on": row["approved_on"],
            "approved_by": self.approved_by or None,
            "note": self.note or None,
            "paid": row["paid"],
            "outstanding": row["outstanding"],
            "payments": [payment.to_json() for payment in self.payments],
        }


@dataclass(frozen=True)
class ClaimHistory:
    """`ktpledger claim history PROJECT`: the project's claims in order, the grant payments naming
    none, and the final adjustment: the reconciliation's grant (`totals.grant`) less the grant of
    every submitted claim."""

    project: str
    claims: tuple[ClaimRecord, ...]
    unallocated_payments: tuple[ClaimPayment, ...]
    grant: Decimal  # the reconciliation's grant, `totals.grant`

    @property
    def claimed_total(self) -> Decimal:
        return sum((claim.claimed for claim in self.claims), ZERO)

    @property
    def approved_total(self) -> Decimal:
        return sum((claim.approved for claim in self.claims if claim.approved is not None), ZERO)

    @property
    def paid_total(self) -> Decimal:
        return sum((claim.paid for claim in self.claims), ZERO)

    @property
    def outstanding_total(self) -> Decimal:
        return sum((claim.outstanding for claim in self.claims), ZERO)

    @property
    def unallocated_total(self) -> Decimal:
        return sum((payment.amount for payment in self.unallocated_payments), ZERO)

    @property
    def final_adjustment(self) -> Decimal:
        """What the final claim still has to claim (negative: to repay) for the claims to add up to
        the reconciliation's grant."""
        return self.grant - self.claimed_total

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "claims": [claim.to_json() for claim in self.claims],
            "totals": {
                "claimed": format_money(self.claimed_total),
                "approved": format_money(self.approved_total),
                "paid": format_money(self.paid_total),
                "outstanding": format_money(self.outstanding_total),
            },
            "unallocated_payments": [payment.to_json() for payment in self.unallocated_payments],
            "unallocated_paid": format_money(self.unallocated_total),
            "grant": format_money(self.grant),
            "claimed_total": format_money(self.claimed_total),
            "final_adjustment": format_money(self.final_adjustment),
        }


def _record(claim: GrantClaim, payments: tuple[ClaimPayment, ...]) -> ClaimRecord:
    made, approval = claim.claim, claim.approval
    return ClaimRecord(
        number=claim.number,
        quarter=made.quarter,
        submitted_on=claim.submitted_on,
        claimed=made.grant,
        quarter_grant=made.quarter_grant,
        prior_period=made.prior_period,
        approved=claim.approved,
        approved_on=claim.approved_on,
        approved_by=approval.approved_by if approval is not None else "",
        note=approval.note if approval is not None else "",
        paid=claim.paid,
        outstanding=claim.outstanding,
        payments=payments,
    )


def claim_history_of(
    project: str, state: ProjectState, stream: Iterable[RecordedEvent], grant: Decimal
) -> ClaimHistory:
    """The claim history of `state`, folded from `stream` (version order), whose reconciliation's
    grant is `grant`: the one reading of the claims every reader shows (module docstring)."""
    by_claim: dict[int, list[ClaimPayment]] = {}
    unallocated: list[ClaimPayment] = []
    for item in stream:
        if item.type != GrantPayment.TYPE:
            continue  # only the payments are read again: the rest of the stream is folded in `state`
        payload = item.event().payload
        assert isinstance(payload, GrantPayment)
        payment = ClaimPayment(item.date, payload.amount, item.version)
        if payload.claim is None:
            unallocated.append(payment)
        else:
            by_claim.setdefault(payload.claim, []).append(payment)
    return ClaimHistory(
        project=project,
        claims=tuple(
            _record(claim, tuple(by_claim.get(number, ()))) for number, claim in state.grant_claims.items()
        ),
        unallocated_payments=tuple(unallocated),
        grant=grant,
    )


def claim_history(database: Database, project: str) -> ClaimHistory:
    """`ktpledger claim history PROJECT` and `GET /projects/{project}/claims` (refused naming the
    project when the ledger has none, R-31)."""
    stream = project_stream(database, project)
    with located(stream):
        state, history = fold_with_history(
            project, ((item.event(), item.version, item.hash) for item in stream)
        )
        grant = reconcile(state, history).total("grant")
        return claim_history_of(project, state, stream, grant)
