"""One domain function per rule (issue 12, item 4), with figures worked by hand: the two month
clamps and the forecast (R-41), the overheads budget and earned amount (R-19), the offer terms a
costing and a grant offer share (R-02, R-11, R-16), the costing's parameters, the one fold loop."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D  # noqa: N817 - short, for figures worked by hand
from typing import Any

import pytest

from ktpledger.domain.alerts import forecast_at_end
from ktpledger.domain.costing import COSTING_PARAMETERS, cost_project, parse_request
from ktpledger.domain.errors import RuleViolation, UnreadableEvent
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent, fold_events, fold_recorded
from ktpledger.domain.rules import Category, rule_set_for
from ktpledger.domain.shares import overheads_budget, overheads_earned
from ktpledger.domain.timeline import forecast_month, period_month, position, state_as_of
from tests.ledger.factory import PROJECT, claim, offer

START = date(2024, 10, 1)
RULES = rule_set_for(date(2025, 1, 1))


# --- the forecast, and the two months ---------------------------------------------------------


def offered() -> ProjectState:
    """tests.ledger.factory's offer: 24 months from 2024-10-01, consumables 4,000, travel 2,500."""
    state = ProjectState(project=PROJECT)
    state.apply(parse_event(offer()), 1)
    return state


def test_a_forecast_at_month_3_of_24_with_1200_spent_is_spend_plus_the_rest_of_the_plan() -> None:
    found = forecast_at_end(offered(), Category.CONSUMABLES, D(1200), on=date(2024, 12, 15))
    assert found.month == 3
    # the default profile, even by month: 4,000 x 3/24 = 500.00 planned by now, 3,500.00 to come
    assert (found.planned_to_date, found.planned_rest) == (D("500.00"), D("3500.00"))
    assert found.forecast == D("4700.00")  # 1,200 + 3,500 (the straight line said 1,200 / 3 x 24 = 9,600)
    assert found.excess == D("700.00")
    assert found.overspend()


def test_a_forecast_rounds_the_plan_half_up_to_the_penny() -> None:
    # travel 2,500 x 7/24 = 729.1666... -> 729.17 planned by April 2025 (month 7); 1,770.83 to come
    found = forecast_at_end(offered(), Category.TRAVEL_SUBSISTENCE, D(1000), on=date(2025, 4, 30))
    assert (found.month, found.planned_to_date, found.forecast) == (7, D("729.17"), D("2770.83"))


@pytest.mark.parametrize(
    ("on", "shown", "divides_by"),
    [
        (date(2024, 9, 30), 0, 1),  # before the start: month 0 shown, the first month divided by
        (date(2024, 10, 1), 1, 1),
        (date(2025, 9, 30), 12, 12),
        (date(2026, 9, 30), 24, 24),  # the last day
        (date(2026, 12, 1), 24, 24),  # after the end: capped at the months
    ],
)
def test_the_month_shown_and_the_month_a_forecast_divides_by(on: date, shown: int, divides_by: int) -> None:
    assert period_month(START, 24, on) == shown
    assert forecast_month(START, 24, on) == divides_by


def test_a_position_shows_the_period_month() -> None:
    state = ProjectState(project=PROJECT)
    state.apply(parse_event(offer()), 1)
    for on in (date(2024, 9, 30), date(2025, 3, 3), date(2027, 1, 1)):
        assert position(state, on).month == period_month(START, 24, on)


# --- the overheads -----------------------------------------------------------------------------


def test_the_overheads_budget_is_46_percent_of_its_sources_grant_in_whole_pounds() -> None:
    budgets = {
        Category.ASSOCIATE_EMPLOYMENT: D(27001),  # x 0.67 = 18,090.67 -> 18,091
        Category.ACADEMIC_SECRETARIAL_SUPPORT: D(9000),  # x 0.67 = 6,030
        Category.CONSUMABLES: D(4000),  # not a source
    }
    # 46% of 24,121 = 11,095.66 -> 11,096
    assert overheads_budget(budgets, D("0.67"), RULES) == D(11096)
    assert overheads_budget({}, D("0.67"), RULES) == D(0)


def test_the_overheads_earned_is_46_percent_of_its_sources_reconciled_grant_capped_at_the_budget() -> None:
    eligible = {
        Category.ASSOCIATE_EMPLOYMENT: D("1000.10"),  # x 0.67 = 670.067 -> 670.07
        Category.ACADEMIC_SECRETARIAL_SUPPORT: D(500),  # x 0.67 = 335.00
        Category.CONSUMABLES: D(999),  # not a source
    }
    # 46% of 1,005.07 = 462.3322 -> 462.33
    assert overheads_earned(eligible, D("0.67"), RULES, D(11096)) == D("462.33")
    assert overheads_earned(eligible, D("0.67"), RULES, D(400)) == D(400)


# --- the terms a costing and an offer share -------------------------------------


def _costing_refusal(**typed: Any) -> RuleViolation:
    values = {"methodology": "fec", "business_type": "sme", "months": "24", "salary": "30000", **typed}
    with pytest.raises(RuleViolation) as raised:
        cost_project(parse_request(values), on=date(2025, 1, 1))
    return raised.value


def _offer_refusal(**data: Any) -> RuleViolation:
    raw = offer(**data)
    if data.get("methodology") == "non_fec":
        raw["data"]["budget"] = {"associate_employment": "30000"}
    with pytest.raises(RuleViolation) as raised:
        ProjectState(project=PROJECT).check(parse_event(raw))
    return raised.value


@pytest.mark.parametrize(
    ("costing", "offered", "rule"),
    [
        ({"months": "61"}, {"months": 61}, "R-02"),
        ({"months": "0"}, {"months": 0}, "R-02"),
        ({"london": True, "virtual": True}, {"london": True, "virtual": True}, "R-11"),
        (
            {"methodology": "non_fec", "supervisor_cost": "60000"},
            {"methodology": "non_fec", "supervisor_cost": "60000"},
            "R-16",
        ),
    ],
)
def test_a_costing_and_an_offer_with_the_same_terms_are_refused_by_the_same_rule(
    costing: dict[str, Any], offered: dict[str, Any], rule: str
) -> None:
    by_costing, by_offer = _costing_refusal(**costing), _offer_refusal(**offered)
    assert by_costing.rule == by_offer.rule == rule
    assert by_costing.field.replace("-", "_") == by_offer.field


def test_each_caller_keeps_its_wording() -> None:
    assert _costing_refusal(london=True, virtual=True).message == (
        "a virtual business cannot claim London weighting: drop --london or --virtual"
    )
    assert _offer_refusal(london=True, virtual=True).message == (
        "a virtual business cannot claim London weighting: set london or virtual to false"
    )
    refused = _costing_refusal(methodology="non_fec", estates="5")
    assert (refused.rule, refused.field) == ("R-17", "estates")
    assert refused.message == (
        "--estates applies to fec projects only: a non_fec knowledge base's supervision and support are "
        "covered by knowledge_base_overheads (R-19)"
    )
    refused = _offer_refusal(methodology="non_fec", supervisor_cost="60000")
    assert (refused.field, refused.message) == (
        "supervisor_cost",
        "supervisor_cost applies to fec projects only",
    )


def test_an_offer_ending_after_the_ledgers_last_date_is_refused_before_virtual_and_london() -> None:
    refused = _offer_refusal(start="2099-06-01", months=12, london=True, virtual=True)
    assert (refused.rule, refused.field) == ("R-02", "months")


# --- the costing's parameters ----------------------------------------------------------------------------


def test_the_costing_parameters_are_the_twelve_of_parse_request_with_their_defaults() -> None:
    assert [p.name for p in COSTING_PARAMETERS] == [
        "methodology",
        "business_type",
        "months",
        "salary",
        "london",
        "virtual",
        "supervisor_cost",
        "supervisor_fte",
        "support_costs",
        "support_rate",
        "estates",
        "grant_rate",
    ]
    assert [p.name for p in COSTING_PARAMETERS if p.required] == [
        "methodology",
        "business_type",
        "months",
        "salary",
    ]
    assert [p.name for p in COSTING_PARAMETERS if p.flag] == ["london", "virtual"]
    every = {p.name: p.default for p in COSTING_PARAMETERS}
    every.update(methodology="fec", business_type="sme", months="12", salary="45000")
    assert parse_request(every) == parse_request(
        methodology="fec", business_type="sme", months="12", salary="45000"
    )


def test_parse_request_takes_a_mapping_as_it_takes_names() -> None:
    typed = {
        "methodology": "fec",
        "business_type": "large",
        "months": "24",
        "salary": "38000",
        "london": True,
    }
    request = parse_request(typed)
    assert request == parse_request(**typed)
    assert (request.months, request.salary, request.london, request.supervisor_fte) == (
        24,
        D(38000),
        True,
        D("0.1"),
    )


def test_parse_request_refuses_an_unknown_or_missing_name() -> None:
    with pytest.raises(TypeError, match="unknown parameters colour"):
        parse_request(
            {"colour": "red", "methodology": "fec", "business_type": "sme", "months": "1", "salary": "1"}
        )
    with pytest.raises(TypeError, match="salary"):
        parse_request({"methodology": "fec", "business_type": "sme", "months": "1"})


# --- the fold ---------------------------------------------------------------------------------------------


def _rows(raws: list[dict[str, Any]]) -> list[RecordedEvent]:
    rows = []
    for version, raw in enumerate(raws, start=1):
        event = parse_event(raw)
        rows.append(
            RecordedEvent(
                position=version,
                project=PROJECT,
                version=version,
                type=raw["type"],
                schema_version=1,
                key=raw["key"],
                date=event.date,
                data=json.dumps(event.content()["data"]),
                recorded_at=datetime(2025, 1, 1, tzinfo=UTC),
                prev_hash="",
                hash=f"h{version}",
            )
        )
    return rows


def test_fold_recorded_and_fold_events_give_the_as_of_figures() -> None:
    rows = _rows([offer(), claim("a", "100.00", date="2025-01-15"), claim("b", "50.00", date="2025-03-01")])
    state = ProjectState(project=PROJECT, track_keys=False)
    fold_recorded(rows, state.apply, until=date(2025, 2, 1))
    assert state.spent == {Category.CONSUMABLES: D("100.00")}
    assert (state.version, state.head_hash) == (2, "h2")

    again = ProjectState(project=PROJECT, track_keys=False)
    fold_events(((r.event(), r.version, r.hash) for r in rows), again.apply, until=date(2025, 2, 1))
    assert again.spent == state.spent
    as_of = state_as_of(PROJECT, ((r.event(), r.version, r.hash) for r in rows), date(2025, 2, 1))
    assert as_of.spent == state.spent

    whole = ProjectState(project=PROJECT)
    fold_recorded(rows, whole.apply)
    assert whole.spent == {Category.CONSUMABLES: D("150.00")}


def test_fold_recorded_names_the_row_it_cannot_fold_and_reads_rows_past_until() -> None:
    rows = _rows([offer(), claim("a")])
    bad = replace(rows[1], data="{not json", position=7)
    with pytest.raises(UnreadableEvent) as raised:
        fold_recorded([rows[0], bad], ProjectState(project=PROJECT).apply, until=date(2024, 9, 2))
    assert (raised.value.version, raised.value.position) == (2, 7)
