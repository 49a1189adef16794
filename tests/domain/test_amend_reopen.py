"""Corrections (issue item 6): `OfferAmended` (R-37) and `ProjectReopened` (R-38), pure.

The offer of `tests.ledger.factory.offer`: fec, SME (grant rate 0.67), 24 months from 2024-10-01
(end 2026-09-30), dated 2024-09-02, lines totalling 162,500, so the business contributes
162,500 x 0.33 = 53,625.00. Consumables has a standard of 4,000 over 24 months, associate
development a maximum of 4,000, additional associate support a plain budget."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D  # noqa: N817 - short, for figures worked by hand
from typing import Any

import pytest

from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import OfferAmended, ProjectReopened, parse_event
from ktpledger.domain.live import LiveProject
from ktpledger.domain.project import ProjectState
from ktpledger.domain.reconciliation import fold_with_history, reconcile
from ktpledger.domain.rules import Category
from tests.domain.support import build, lines
from tests.ledger.factory import PROJECT, claim, decision, event, offer

AAS, CO, TS = "additional_associate_support", "consumables", "travel_subsistence"


def amend(key: str = "amend", date_: str = "2025-03-03", **data: Any) -> dict[str, Any]:
    return event("OfferAmended", key, date_, {"reason": "the offer letter says otherwise", **data})


def close(key: str = "close", date_: str = "2026-10-15") -> dict[str, Any]:
    return event("ProjectClosed", key, date_, {})


def reopen(key: str = "reopen", date_: str = "2026-11-02", **data: Any) -> dict[str, Any]:
    return event("ProjectReopened", key, date_, {"reason": "a late invoice", **data})


def refused(state: ProjectState, raw: dict[str, Any]) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        state.check(parse_event(raw))
    return caught.value


def refused_at_the_door(raw: dict[str, Any]) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        parse_event(raw)
    return caught.value


# --- what an amendment changes ---------------------------------------------------------------


def test_a_title_and_a_party_are_corrected_and_nothing_else_moves() -> None:
    before = build(offer())
    state = build(offer(), amend(title="Machine vision for bakery quality assurance", business="Crumb & Co"))
    assert state.offer is not None and before.offer is not None
    assert state.offer.title == "Machine vision for bakery quality assurance"
    assert state.offer.business == "Crumb & Co"
    assert state.offer.knowledge_base == "University of Example"  # not named: kept
    assert state.budget == before.budget and state.end == before.end
    assert state.amended_on == date(2025, 3, 3)


def test_a_budget_line_typo_raises_the_line_and_the_business_contribution() -> None:
    state = build(offer(), claim("c1", "300.00", category=AAS), amend(budget={AAS: "36500"}))
    assert state.budget[Category.ADDITIONAL_ASSOCIATE_SUPPORT] == D(36500)
    assert state.original_budget[Category.ADDITIONAL_ASSOCIATE_SUPPORT] == D(36500)
    # 163,000 x 0.33 = 53,790.00, up from 53,625.00
    assert state.business_contribution(state.budget) == D("53790.00")
    line = lines(state)[AAS]
    assert (line.budget, line.spent, line.remaining) == (D(36500), D(300), D(36200))


def test_a_virement_before_an_amendment_still_applies_on_top() -> None:
    # Offered 36,000; +500 by virement from consumables = 36,500; the offer corrected to 37,000
    # moves the line by +1,000: 37,500. The reconciliation: original 37,000, the virement's +500.
    vire = decision(
        "lmc-1", "2025-01-10", kind="virement", **{"from": CO, "to": AAS, "amount": "500", "minute": "LMC 1"}
    )
    raws = [offer(), vire, amend(budget={AAS: "37000"})]
    state = build(*raws)
    assert state.budget[Category.ADDITIONAL_ASSOCIATE_SUPPORT] == D(37500)
    assert state.budget[Category.CONSUMABLES] == D(3500)
    events = [(parse_event(raw), version, "") for version, raw in enumerate(raws, start=1)]
    folded, history = fold_with_history(PROJECT, events)
    result = {line.category.value: line for line in reconcile(folded, history).lines}
    aas = result[AAS]
    assert aas.original_budget == D(37000)
    assert [(change.kind, change.amount) for change in aas.changes] == [
        ("virement", D(500)),
        ("offer_amended", D(0)),
    ]
    assert aas.final_budget == D(37500) == aas.original_budget + sum(c.amount for c in aas.changes)


def test_a_budget_revision_before_an_amendment_keeps_its_difference() -> None:
    # The revision set 36,000 -> 38,000 (+2,000); the amendment 36,000 -> 36,500: 38,500.
    revise = decision("lmc-1", "2025-01-10", kind="budget_revision", budget={AAS: "38000"}, minute="LMC 1")
    state = build(offer(), revise, amend(budget={AAS: "36500"}))
    assert state.budget[Category.ADDITIONAL_ASSOCIATE_SUPPORT] == D(38500)


def test_a_start_date_correction_moves_the_period() -> None:
    state = build(offer(), claim("c1", "100.00", date="2024-11-20"), amend(start="2024-11-01"))
    assert (state.start, state.end) == (date(2024, 11, 1), date(2026, 10, 31))
    # A claim of the first day of the corrected period, and of its new last day, are accepted.
    state.check(parse_event(claim("c2", date="2026-10-31")))
    error = refused(state, claim("c3", date="2024-10-31"))
    assert error.rule == "R-33" and "2024-11-01 to 2026-10-31" in error.message


def test_extensions_stay_on_top_of_amended_months() -> None:
    extend = decision("lmc-1", "2025-01-10", kind="extension", months=3, costed=False)
    # The offer letter says 26 months, not 24: 26 + 3 = 29, ending 2027-02-28.
    state = build(offer(), extend, amend(months=26))
    assert (state.months, state.end) == (29, date(2027, 2, 28))
    assert state.offer is not None and state.offer.months == 26


def test_a_justified_standard_line_may_be_raised() -> None:
    state = build(offer(), amend(budget={CO: "4500"}, justifications={CO: "the sensors cost more"}))
    assert state.limit(Category.CONSUMABLES) == D(4500)
    assert state.offer is not None and state.offer.justifications == {
        Category.CONSUMABLES: "the sensors cost more"
    }


# --- refusals, each naming the field and what to fix -----------------------------------------


def test_lowering_the_business_contribution_is_refused() -> None:
    # 152,500 x 0.33 = 50,325.00 < 53,625.00
    error = refused(build(offer()), amend(budget={"associate_employment": "90000"}))
    assert (error.rule, error.field) == ("R-37", "budget")
    assert "from 53,625.00 to 50,325.00" in error.message


def test_raising_the_grant_rate_lowers_the_contribution_and_is_refused() -> None:
    error = refused(build(offer()), amend(grant_rate="0.75"))
    assert (error.rule, error.field) == ("R-37", "grant_rate")


def test_a_claim_outside_the_amended_period_is_refused() -> None:
    state = build(offer(), claim("early", "100.00", date="2024-10-15"))
    error = refused(state, amend(start="2024-11-01"))
    assert (error.rule, error.field) == ("R-37", "start")
    assert "claim 'early' dated 2024-10-15" in error.message or 'claim "early"' in error.message
    # (lines that fit 23 months too, so that the offer's own checks pass)
    small = offer(budget={"associate_employment": "100000", AAS: "36000"})
    state = build(small, claim("late", "100.00", category=AAS, date="2026-09-15"))
    error = refused(state, amend(months=23))
    assert (error.rule, error.field) == ("R-37", "months")


def test_a_parental_leave_cost_outside_the_amended_period_is_refused() -> None:
    leave = event("ParentalLeaveCost", "pl", "2024-10-20", {"amount": "500.00", "description": "cover"})
    error = refused(build(offer(), leave), amend(start="2024-11-01"))
    assert (error.rule, error.field) == ("R-37", "start")


def test_a_line_below_what_was_claimed_is_refused() -> None:
    state = build(offer(), claim("c1", "3000.00", category=CO))
    # Consumables 4,000 -> 2,000 with 2,000 moved to additional support: the contribution is kept.
    error = refused(state, amend(budget={CO: "2000", AAS: "38000"}))
    assert (error.rule, error.field) == ("R-37", "budget.consumables")
    assert "below the 3,000.00 already claimed" in error.message


def test_the_amended_offer_passes_every_offer_check() -> None:
    state = build(offer())
    error = refused(state, amend(budget={"associate_development": "5000"}))
    assert (error.rule, error.field) == ("R-37", "budget.associate_development")
    assert "breaks R-31" in error.message and "maximum of 4,000" in error.message
    error = refused(state, amend(budget={CO: "4500"}))
    assert (error.rule, error.field) == ("R-37", "justifications.consumables")
    error = refused(state, amend(budget={"academic_secretarial_support": "1000"}))
    assert error.rule == "R-37" and "does not exist for a fec project" in error.message
    error = refused(build(offer(virtual=True)), amend(london=True))
    assert (error.rule, error.field) == ("R-37", "london") and "R-11" in error.message
    error = refused(state, amend(months=61))
    assert (error.rule, error.field) == ("R-37", "months")


def test_a_line_the_lmc_raised_must_fit_the_amended_maximum() -> None:
    # Associate employment offered at 100,000 and vired up to 110,000, the maximum for 24 months
    # (55,000 a year); 23 months would lower the maximum to 105,416.67 (the offer's own 100,000 fits).
    small = offer(budget={"associate_employment": "100000", AAS: "36000"})
    vire = decision(
        "lmc-1",
        "2025-01-10",
        kind="virement",
        **{"from": AAS, "to": "associate_employment", "amount": "10000", "minute": "LMC 1"},
    )
    error = refused(build(small, vire), amend(months=23))
    assert (error.rule, error.field) == ("R-37", "budget.associate_employment")
    assert "with the LMC's changes" in error.message and "above its maximum" in error.message


def test_a_supervisor_cost_on_a_non_fec_project_is_refused() -> None:
    state = build(offer(methodology="non_fec", budget={"academic_secretarial_support": "30000"}))
    error = refused(state, amend(supervisor_cost="50000"))
    assert (error.rule, error.field) == ("R-37", "supervisor_cost")


def test_an_amendment_before_the_offer_or_on_a_closed_project_is_refused() -> None:
    error = refused(build(offer()), amend(date_="2024-09-01", title="t"))
    assert (error.rule, error.field) == ("R-37", "date")
    error = refused(build(offer(), close()), amend(date_="2026-10-20", title="t"))
    assert error.rule == "R-37" and "reopen it (ProjectReopened)" in error.message


def test_an_amendment_of_an_unknown_project_is_refused() -> None:
    error = refused(ProjectState(project=PROJECT), amend(title="t"))
    assert (error.rule, error.field) == ("R-31", "project")


@pytest.mark.parametrize(
    ("data", "rule", "field"),
    [
        ({"title": "t"}, "R-37", "reason"),
        ({"reason": "r"}, "R-37", "data"),
        ({"reason": " ", "title": "t"}, "R-37", "reason"),
        ({"reason": "r", "methodology": "non_fec"}, "R-30", "methodology"),
        ({"reason": "r", "colour": "blue"}, "R-30", "colour"),
        ({"reason": "r", "title": None}, "R-37", "title"),
        ({"reason": "r", "title": 5}, "R-37", "title"),
        ({"reason": "r", "months": "24"}, "R-37", "months"),
        ({"reason": "r", "virtual": "yes"}, "R-37", "virtual"),
        ({"reason": "r", "start": "1 Nov 2024"}, "R-37", "start"),
        ({"reason": "r", "budget": {}}, "R-37", "budget"),
        ({"reason": "r", "budget": "4500"}, "R-37", "budget"),
        ({"reason": "r", "budget": {CO: "4500.50"}}, "R-37", "budget.consumables"),
        ({"reason": "r", "budget": {CO: 4500.0}}, "R-37", "budget.consumables"),
        ({"reason": "r", "justifications": ["why"]}, "R-37", "justifications"),
        ({"reason": "r", "grant_rate": "1.5"}, "R-37", "grant_rate"),
        ({"reason": "r", "business_type": "charity"}, "R-37", "business_type"),
        ({"reason": "r", "supervisor_cost": "-5"}, "R-37", "supervisor_cost"),
        ({"reason": "r", "title": "a\x00b"}, "R-37", "title"),
    ],
)
def test_bad_amendments_are_refused_at_the_door(data: dict[str, Any], rule: str, field: str) -> None:
    error = refused_at_the_door(event("OfferAmended", "a", "2025-03-03", data))
    assert (error.rule, error.field) == (rule, field), error
    assert field.split(".")[0] in error.message or field == "data"


def test_an_amendment_is_stored_in_canonical_form() -> None:
    parsed = parse_event(amend(budget={CO: 4500, AAS: "36500.00"}, start="2024-11-01", grant_rate="0.670"))
    assert isinstance(parsed.payload, OfferAmended)
    assert parsed.payload.to_data() == {
        "reason": "the offer letter says otherwise",
        "start": "2024-11-01",
        "budget": {AAS: "36500.00", CO: "4500.00"},
        "grant_rate": "0.670",
    }
    assert parse_event({**amend(), "data": parsed.payload.to_data()}).payload == parsed.payload


# --- reopening -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "rule", "field"),
    [
        ({}, "R-38", "reason"),
        ({"reason": ""}, "R-38", "reason"),
        ({"reason": "r", "why": "w"}, "R-30", "why"),
    ],
)
def test_bad_reopenings_are_refused_at_the_door(data: dict[str, Any], rule: str, field: str) -> None:
    error = refused_at_the_door(event("ProjectReopened", "r", "2026-11-02", data))
    assert (error.rule, error.field) == (rule, field)


def test_only_a_closed_project_is_reopened_on_or_after_its_closure() -> None:
    error = refused(build(offer()), reopen())
    assert error.rule == "R-38" and "is not closed" in error.message
    error = refused(build(offer(), close()), reopen(date_="2026-10-14"))
    assert (error.rule, error.field) == ("R-38", "date")
    assert "closure of 2026-10-15" in error.message


def test_a_reopened_project_takes_late_costs_of_its_period_then_closes_again() -> None:
    state = build(offer(), claim("c1", "1000.00"), close())
    late = claim("late", "250.00", date="2026-09-20")
    assert refused(state, late).rule == "R-36"
    virement = decision(
        "lmc-9", "2026-11-03", kind="virement", **{"from": CO, "to": AAS, "amount": "100", "minute": "m"}
    )
    assert refused(state, virement).rule == "R-36"
    state = build(offer(), claim("c1", "1000.00"), close(), reopen(), late)
    assert not state.closed and state.reopened_on == date(2026, 11, 2)
    assert lines(state)[CO].spent == D("1250.00")
    # After the end: still refused (a late arrival of a cost of the period, not a new cost).
    error = refused(state, claim("after", date="2026-10-01"))
    assert (error.rule, error.field) == ("R-33", "date")
    state.check(parse_event(virement))  # LMC decisions are accepted again
    error = refused(state, close("close-2", "2026-11-01"))
    assert (error.rule, error.field) == ("R-38", "date")
    state.apply(parse_event(close("close-2", "2026-11-05")), state.version + 1)
    assert state.closed_on == date(2026, 11, 5)


def test_the_reconciliation_is_final_again_with_the_late_claim() -> None:
    raws = [offer(), claim("c1", "1000.00"), close(), reopen(), claim("late", "250.00", date="2026-09-20")]
    events = [(parse_event(raw), version, "") for version, raw in enumerate(raws, start=1)]
    state, history = fold_with_history(PROJECT, events)
    assert not reconcile(state, history).final
    raws.append(close("close-2", "2026-11-05"))
    events = [(parse_event(raw), version, "") for version, raw in enumerate(raws, start=1)]
    state, history = fold_with_history(PROJECT, events)
    result = reconcile(state, history)
    assert result.final
    consumables = {line.category.value: line for line in result.lines}[CO]
    # 1,250.00 claimed, all eligible; grant 1,250 x 0.67 = 837.50
    assert (consumables.claimed, consumables.eligible, consumables.grant) == (
        D("1250.00"),
        D("1250.00"),
        D("837.50"),
    )


def test_a_reopening_raises_the_thresholds_again_and_a_closure_resolves_them() -> None:
    live = LiveProject.new(PROJECT)
    threshold = AlertKey(CO, "threshold", "0.80")
    for version, raw in enumerate([offer(), claim("c1", "3300.00")], start=1):
        live.apply(parse_event(raw), version)
    assert threshold in live.conditions()
    closed = live.apply(parse_event(close()), 3)
    assert threshold in closed.resolved and closed.reason == "closed"
    reopened = live.apply(parse_event(reopen()), 4)
    assert threshold in reopened.raised and not reopened.resolved
    amended = live.apply(
        parse_event(amend(date_="2026-11-03", budget={CO: "4500"}, justifications={CO: "j"})), 5
    )
    # 3,300 / 4,500 = 73%: below 80%, resolved by the amendment
    assert threshold in amended.resolved and amended.reason == "offer_amended"


def test_the_payloads_have_their_types() -> None:
    assert OfferAmended.TYPE == "OfferAmended" and OfferAmended.SCHEMA_VERSION == 1
    assert ProjectReopened.TYPE == "ProjectReopened" and ProjectReopened.SCHEMA_VERSION == 1
