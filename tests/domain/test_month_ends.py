"""`domain/month_ends.MonthEnds`, pure: the months an event steps over, a back-dated event, and a
ledger whose dates span more months than the door allows (the demo's whole stream is in
tests/projections/test_summary_from_rows.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import SpendClaimed, parse_event
from ktpledger.domain.month_ends import (
    MOST_MONTHS,
    NO_FIGURES,
    MonthEnds,
    MonthFigures,
    figures_as_of,
    month_end_figures,
)
from ktpledger.domain.project import ProjectState
from ktpledger.domain.timeline import month_end_states
from tests.domain.test_linear_fold import streams
from tests.ledger.factory import PROJECT


def test_an_event_in_a_later_month_ends_every_month_it_steps_over() -> None:
    state = ProjectState(project="P", track_keys=False)  # no offer: no figures
    tracker = MonthEnds()
    tracker.before(state, date(2025, 1, 20))
    tracker.before(state, date(2025, 4, 2))
    kept = tracker.kept()
    assert kept is not None
    assert (kept.first, kept.latest) == ((2025, 1), (2025, 4))
    assert sorted(kept.ended) == [(2025, 1), (2025, 2), (2025, 3)]
    head = MonthFigures(spent=NO_FIGURES.spent + 1, budget=NO_FIGURES.budget)
    assert kept.at_end_of((2024, 12), head) == NO_FIGURES
    assert kept.at_end_of((2025, 4), head) is head and kept.at_end_of((2026, 1), head) is head


def test_a_back_dated_event_makes_its_month_on_stale() -> None:
    state = ProjectState(project="P", track_keys=False)
    tracker = MonthEnds()
    for day in (date(2025, 1, 20), date(2025, 4, 2), date(2025, 2, 27), date(2025, 3, 1)):
        tracker.before(state, day)
    assert tracker.stale_from == (2025, 2) and tracker.kept() is None


def test_a_span_beyond_the_doors_dates_keeps_nothing() -> None:
    state = ProjectState(project="P", track_keys=False)
    tracker = MonthEnds()
    tracker.before(state, date(1990, 1, 1))
    tracker.before(state, date(1990 + MOST_MONTHS // 12, 2, 1))  # beyond the door: 2100-02
    assert tracker.abandoned and tracker.kept() is None and not tracker.ended
    tracker.before(state, date(1990, 2, 1))
    assert tracker.kept() is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=streams(), start=st.integers(-3, 6), through=st.integers(1, 30))
def test_month_end_figures_equal_each_month_folded_whole(
    raws: list[dict[str, Any]], start: int, through: int
) -> None:
    """`month_end_figures` sums plain claims by date and folds the rest: on random streams (late and
    back-dated claims, tagged and reversed ones, budget changes, amendments, closures) its figures
    equal `figures_as_of` each month's end folded from every event, as `month_end_states` does."""
    checking = ProjectState(project=PROJECT, track_keys=False)
    events = []
    for raw in raws:
        parsed = parse_event(raw)
        try:
            checking.check(parsed)
        except RuleViolation:
            continue
        checking.apply(parsed, len(events) + 1)
        events.append((parsed, len(events) + 1, ""))
    first = date(2024 + (11 + start) // 12, (11 + start) % 12 + 1, 1)  # around the offer (2024-12)
    expected = [figures_as_of(state) for _, _, state in month_end_states(PROJECT, events, first, through)]
    assert list(month_end_figures(PROJECT, events, first, through)) == expected
    # The projector's way: the claims from its fold, the rest of the stream read without them.
    others = [item for item in events if not isinstance(item[0].payload, SpendClaimed)]
    month = (first.year, first.month)
    latest = (first.year + (first.month - 1 + through) // 12, (first.month - 1 + through) % 12 + 1)
    tracker = MonthEnds(first=month, latest=latest, stale_from=month)
    tracker.rebuild_held(checking, others)
    assert tracker.stale_from is None
    assert [tracker.ended[key] for key in sorted(tracker.ended)] == expected
