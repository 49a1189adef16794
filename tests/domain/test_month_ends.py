"""`domain/month_ends.MonthEnds`, pure: the months an event steps over, a back-dated event, and a
ledger whose dates span more months than the door allows (the demo's whole stream is in
tests/projections/test_summary_from_rows.py)."""

from __future__ import annotations

from datetime import date

from ktpledger.domain.month_ends import MOST_MONTHS, NO_FIGURES, MonthEnds, MonthFigures
from ktpledger.domain.project import ProjectState


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
