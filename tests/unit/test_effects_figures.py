"""service/effects.py: the figures off the budget lines (parental leave, grant received) and the
line a reversal names, worked by hand on the demo's second project (KTP-0107: consumables budget
£2,000, the "kit" claim £350)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.project import ProjectState
from ktpledger.service.effects import effect_on
from tests.api import demo
from tests.domain.support import fold_accepted

P = demo.SECOND


def state() -> ProjectState:
    folded, _ = fold_accepted(P, demo.second_project())
    return folded


def test_a_parental_leave_cost_moves_no_line_but_the_parental_leave_total() -> None:
    cost = {"type": "ParentalLeaveCost", "project": P, "key": "pl", "date": "2025-06-30",
            "data": {"amount": "2400.00", "description": "Occupational pay"}}  # fmt: skip
    effect = effect_on(state(), [cost])
    assert effect.lines == ()
    assert effect.before == effect.after
    [figure] = effect.figures
    assert (figure.name, figure.before, figure.after) == ("parental_leave", Decimal(0), Decimal("2400.00"))


def test_a_grant_payment_moves_the_grant_received() -> None:
    payment = {
        "type": "GrantPayment",
        "project": P,
        "key": "pay",
        "date": "2025-04-28",
        "data": {"amount": "9100.00"},
    }
    effect = effect_on(state(), [payment])
    assert effect.lines == ()
    [figure] = effect.figures
    assert (figure.name, figure.before, figure.after) == ("grant_paid", Decimal(0), Decimal("9100.00"))


def test_a_reversal_names_its_claims_line() -> None:
    reversal = {"type": "ClaimReversed", "project": P, "key": "rev", "date": "2025-04-01",
                "data": {"claim": "kit", "amount": "50.00", "reason": "Refund"}}  # fmt: skip
    effect = effect_on(state(), [reversal])
    line = next(line for line in effect.lines if line.category.value == "consumables")
    assert (line.before.spent, line.after.spent) == (Decimal("350.00"), Decimal("300.00"))
    assert (line.before.remaining, line.after.remaining) == (Decimal("1650.00"), Decimal("1700.00"))
    assert effect.figures == ()


def test_a_spend_claim_moves_no_project_figure() -> None:
    claim = {"type": "SpendClaimed", "project": P, "key": "c", "date": "2025-06-10",
             "data": {"category": "consumables", "amount": "10.00", "description": "Jars"}}  # fmt: skip
    assert effect_on(state(), [claim]).figures == ()


def test_a_refusal_is_raised() -> None:
    payment = {
        "type": "GrantPayment",
        "project": P,
        "key": "pay",
        "date": "2024-01-01",
        "data": {"amount": "1.00"},
    }
    with pytest.raises(RuleViolation):
        effect_on(state(), [payment])
