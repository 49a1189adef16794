"""service/effects.py: what an LMC decision would do to a project's lines, limits and period,
worked out by hand (the forms' previews show these figures)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.project import ProjectState
from ktpledger.service.effects import Effect, LineEffect, Period, effect_on
from tests.domain.support import build
from tests.ledger.factory import PROJECT, claim, decision, offer

# The factory's offer: fec, sme, from 2024-10-01 for 24 months (to 2026-09-30); consumables 4,000
# (its standard, 4,000 for 24 months), travel 2,500, associate employment 100,000.


def state() -> ProjectState:
    return build(offer(), claim("kit", "1200.00", category="consumables", date="2024-11-05"))


def lmc(kind: str, **data: object) -> dict[str, object]:
    return decision("lmc-x", "2025-01-20", kind=kind, **data)


def by_line(effect: Effect) -> dict[str, LineEffect]:
    return {line.category.value: line for line in effect.lines}


def test_a_virement_moves_budget_and_remaining_and_keeps_the_total() -> None:
    raw = lmc(
        "virement",
        **{"from": "consumables", "to": "associate_employment", "amount": "500", "minute": "LMC 1"},
    )
    effect = effect_on(state(), [raw])
    lines = by_line(effect)
    # consumables 4,000 - 500 = 3,500, remaining 3,500 - 1,200 = 2,300; associate employment
    # 100,000 + 500 = 100,500.
    assert (lines["consumables"].before.remaining, lines["consumables"].after.remaining) == (
        Decimal(2800),
        Decimal(2300),
    )
    assert lines["associate_employment"].after.budget == Decimal(100500)
    assert effect.before.budget == effect.after.budget
    assert not effect.period_changed


def test_an_approval_to_exceed_shows_the_new_limit() -> None:
    raw = lmc(
        "approve_exceedance",
        category="consumables",
        limit="6000",
        justification="j",
        approved_by="KTP adviser",
    )
    effect = effect_on(state(), [raw])
    line = by_line(effect)["consumables"]
    assert (line.before.limit, line.after.limit) == (Decimal(4000), Decimal(6000))
    assert line.before.budget == line.after.budget == Decimal(4000)
    assert effect.limits_changed and list(by_line(effect)) == ["consumables"]


def test_a_no_cost_extension_moves_the_end_only() -> None:
    effect = effect_on(state(), [lmc("extension", months=6, costed=False)])
    assert effect.period_before == Period(date(2024, 10, 1), date(2026, 9, 30), 24)
    assert effect.period_after == Period(date(2024, 10, 1), date(2027, 3, 31), 30)
    assert effect.lines == () and not effect.limits_changed


def test_a_costed_extension_raises_the_standard_limits_pro_rata() -> None:
    effect = effect_on(state(), [lmc("extension", months=6, costed=True)])
    line = by_line(effect)["consumables"]
    # 4,000 for 24 months; 30 months: 4,000 x 30 / 24 = 5,000. The budget stays.
    assert (line.before.limit, line.after.limit) == (Decimal(4000), Decimal(5000))
    assert line.after.budget == Decimal(4000)
    assert effect.period_after.months == 30


def test_a_refused_decision_raises_its_rule() -> None:
    raw = lmc("approve_exceedance", category="consumables", limit="3000", justification="j", approved_by="a")
    with pytest.raises(RuleViolation) as refused:
        effect_on(state(), [raw])
    assert refused.value.rule == "R-40" and refused.value.field == "limit"


def test_a_closure_shows_every_line_as_its_final_position() -> None:
    effect = effect_on(
        state(), [{"type": "ProjectClosed", "project": PROJECT, "key": "close", "date": "2026-10-15"}]
    )
    assert effect.closes_on == date(2026, 10, 15)
    assert {line.category.value for line in effect.lines} >= {"consumables", "associate_employment"}
    assert all(not line.changed for line in effect.lines)
    # consumables 4,000 - 1,200 claimed = 2,800 remaining at the end.
    assert by_line(effect)["consumables"].after.remaining == Decimal(2800)


def test_a_new_project_starts_every_line_from_nothing() -> None:
    effect = effect_on(ProjectState(project=PROJECT), [offer()])
    assert effect.period_before is None
    assert effect.period_after == Period(date(2024, 10, 1), date(2026, 9, 30), 24)
    line = by_line(effect)["consumables"]
    assert (line.before.budget, line.after.budget, line.after.remaining) == (
        Decimal(0),
        Decimal(4000),
        Decimal(4000),
    )
    # The factory's budget lines: 100,000 + 4,000 + 2,500 + 4,000 + 16,000 + 0 + 36,000.
    assert effect.after.budget == Decimal(162500)


def test_on_an_unknown_project_only_an_offer_may_come_first() -> None:
    with pytest.raises(RuleViolation) as refused:
        effect_on(ProjectState(project=PROJECT), [claim("kit")])
    assert refused.value.rule == "R-31"
