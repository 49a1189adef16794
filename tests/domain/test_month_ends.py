"""`domain/month_ends.MonthEnds`, pure: the months an event steps over, a back-dated event, and a
ledger whose dates span more months than the door allows (the demo's whole stream is in
tests/projections/test_summary_from_rows.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktpledger.domain.events import SpendClaimed, parse_event
from ktpledger.domain.live import LiveProject
from ktpledger.domain.month_ends import (
    MOST_MONTHS,
    NO_FIGURES,
    MonthEnds,
    MonthFigures,
    figures_as_of,
    month_end_figures,
    months_between,
)
from ktpledger.domain.project import ProjectState
from ktpledger.domain.timeline import month_end_states
from tests.domain.test_linear_fold import BUDGET, accepted_events, streams
from tests.ledger.factory import PROJECT, claim, offer

# The offer's lines for a non-fec project (its overheads line is derived, R-19).
NON_FEC_BUDGET = {
    "associate_employment": "100000",
    "academic_secretarial_support": "4000",
    "associate_development": "900",
    "travel_subsistence": "400",
    "consumables": "300",
}


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
    accepted, checking = accepted_events(raws, track_keys=False)
    events = [(parsed, version, "") for version, parsed in enumerate(accepted, start=1)]
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


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=streams(), non_fec=st.booleans(), restored_at=st.integers(0, 45))
def test_months_kept_event_by_event_equal_each_month_folded_whole(
    raws: list[dict[str, Any]], non_fec: bool, restored_at: int
) -> None:
    """`MonthEnds` fed event by event (back-dated claims added where they can be, `add_back`; the
    rest made stale and rebuilt) keeps, for every month before the latest, the figures of that
    month's end folded from every event. Also with a derived line (non-fec: never added back),
    and taken from stored facts part-way (as a fold resumed from a snapshot is)."""
    if non_fec:
        raws = [
            dict(raws[0], data=dict(raws[0]["data"], methodology="non_fec", budget=NON_FEC_BUDGET)),
            *raws[1:],
        ]
    accepted, _ = accepted_events(raws, track_keys=False)
    state = ProjectState(project=PROJECT, track_keys=False)
    tracker = MonthEnds()
    for version, parsed in enumerate(accepted, start=1):
        if version == restored_at and tracker.kept() is not None:
            kept = tracker.kept()
            assert kept is not None
            tracker = MonthEnds(first=kept.first, latest=kept.latest, ended=dict(kept.ended))
        tracker.before(state, parsed.date, parsed)
        state.apply(parsed, version)
    events = [(parsed, version, "") for version, parsed in enumerate(accepted, start=1)]
    if tracker.stale:
        tracker.rebuild_held(
            state, [item for item in events if not isinstance(item[0].payload, SpendClaimed)]
        )
    kept = tracker.kept()
    assert kept is not None
    months = sorted(kept.ended)
    first = date(*kept.first, 1)
    expected = [
        figures_as_of(folded)
        for _, _, folded in month_end_states(PROJECT, events, first, months_between(kept.first, kept.latest))
    ]
    assert [kept.ended[month] for month in months] == expected


def test_a_back_dated_claim_is_added_to_every_month_from_its_own() -> None:
    """By hand: consumables budget 300; claims of 10.00 in 2025-01 and 20.00 in 2025-04, then one of
    5.00 dated 2025-02. The months to 2025-03 end with 10.00 spent before it; 2025-01 stays 10.00,
    2025-02 and 2025-03 become 15.00, and no month is stale (no fold needed)."""
    raws = [
        offer(date="2024-12-01", start="2025-01-01", months=24, budget=BUDGET),
        claim("a", "10.00", category="consumables", date="2025-01-10"),
        claim("b", "20.00", category="consumables", date="2025-04-10"),
        claim("c", "5.00", category="consumables", date="2025-02-10"),
    ]
    accepted, _ = accepted_events(raws, track_keys=False)
    assert len(accepted) == 4
    state = ProjectState(project=PROJECT, track_keys=False)
    tracker = MonthEnds()
    for version, parsed in enumerate(accepted, start=1):
        tracker.before(state, parsed.date, parsed)
        state.apply(parsed, version)
    assert not tracker.stale
    budget = sum((Decimal(amount) for amount in BUDGET.values()), Decimal(0))
    assert tracker.ended[(2025, 1)] == MonthFigures(Decimal("10.00"), budget)
    assert tracker.ended[(2025, 2)] == MonthFigures(Decimal("15.00"), budget)
    assert tracker.ended[(2025, 3)] == MonthFigures(Decimal("15.00"), budget)
    # A claim dated before the offer's month (the door refuses it; a ledger recorded before that
    # check may hold one): the months before the offer have no lines, so it is never added back.
    early = parse_event(claim("d", "7.00", category="consumables", date="2024-11-20"))
    before_offer = MonthEnds(
        first=(2024, 11), latest=(2025, 4), ended={**tracker.ended, (2024, 11): NO_FIGURES}
    )
    before_offer.before(state, early.date, early)
    assert before_offer.stale_from == (2024, 11) and before_offer.ended[(2024, 11)] == NO_FIGURES


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=streams(), reads=st.sets(st.integers(1, 45), max_size=8))
def test_claims_added_back_are_in_every_month_whenever_the_months_are_read(
    raws: list[dict[str, Any]], reads: set[int]
) -> None:
    """The claims `add_back` takes are held as (month, amount) and added to the months when they are
    next read: read after any event (here after those in `reads`), the months not stale hold every
    claim folded so far, each month the figures of its end folded from the events so far."""
    accepted, _ = accepted_events(raws, track_keys=False)
    state = ProjectState(project=PROJECT, track_keys=False)
    tracker = MonthEnds()
    for version, parsed in enumerate(accepted, start=1):
        tracker.before(state, parsed.date, parsed)
        state.apply(parsed, version)
        if version not in reads or tracker.stale or tracker.first is None or tracker.latest is None:
            continue
        events = [(event, number, "") for number, event in enumerate(accepted[:version], start=1)]
        first = date(*tracker.first, 1)
        expected = [
            figures_as_of(folded)
            for _, _, folded in month_end_states(
                PROJECT, events, first, months_between(tracker.first, tracker.latest)
            )
        ]
        assert [tracker.ended[month] for month in sorted(tracker.ended)] == expected, version


def test_claims_added_back_in_several_months_are_each_added_from_their_own() -> None:
    """By hand: consumables claims of 10.00 (2025-01) and 20.00 (2025-05), then back-dated ones of
    5.00 (2025-03), 1.00 (2025-02) and 2.00 (2025-03): 2025-01 ends at 10.00, 2025-02 at 11.00,
    2025-03 and 2025-04 at 18.00. A later month's claim then ends 2025-05 with all of them and the
    20.00 (38.00), and one more back-dated claim is added to every month again. The same whether
    the months are read between the claims (`read`) or not until the end (`unread`)."""
    raws = [
        offer(date="2024-12-01", start="2025-01-01", months=24, budget=BUDGET),
        claim("a", "10.00", category="consumables", date="2025-01-10"),
        claim("b", "20.00", category="consumables", date="2025-05-10"),
        claim("c", "5.00", category="consumables", date="2025-03-10"),
        claim("d", "1.00", category="consumables", date="2025-02-10"),
        claim("e", "2.00", category="consumables", date="2025-03-20"),
        claim("f", "4.00", category="consumables", date="2025-06-10"),
        claim("g", "0.50", category="consumables", date="2025-01-31"),
    ]
    accepted, _ = accepted_events(raws, track_keys=False)
    assert len(accepted) == len(raws)
    state = ProjectState(project=PROJECT, track_keys=False)
    read, unread = MonthEnds(), MonthEnds()
    budget = sum((Decimal(amount) for amount in BUDGET.values()), Decimal(0))
    for version, parsed in enumerate(accepted, start=1):
        read.before(state, parsed.date, parsed)
        unread.before(state, parsed.date, parsed)
        state.apply(parsed, version)
        if version == 6:  # after claim "e", before "f"
            spent = [read.ended[(2025, month)].spent for month in range(1, 5)]
            assert spent == [Decimal(figure) for figure in ("10.00", "11.00", "18.00", "18.00")]
    expected = [
        MonthFigures(Decimal(figure), budget) for figure in ("10.50", "11.50", "18.50", "18.50", "38.50")
    ]
    for tracker in (read, unread):
        assert not tracker.stale
        assert [tracker.ended[(2025, month)] for month in range(1, 6)] == expected


def test_a_back_dated_claim_on_a_project_with_a_derived_line_is_never_added_back() -> None:
    """A non-fec project's overheads line (R-19) earns a share of its source lines' eligible spend,
    not a sum of claims: a back-dated claim makes its month on stale (to be rebuilt), and it is so
    for every such claim, the project's lines being read once (`MonthEnds._derived_line`)."""
    raws = [
        offer(date="2024-12-01", start="2025-01-01", months=24, methodology="non_fec", budget=NON_FEC_BUDGET),
        claim("a", "10.00", category="associate_employment", date="2025-01-10"),
        claim("b", "20.00", category="consumables", date="2025-04-10"),
        claim("c", "5.00", category="associate_employment", date="2025-03-10"),
        claim("d", "5.00", category="consumables", date="2025-02-10"),
    ]
    accepted, _ = accepted_events(raws, track_keys=False)
    assert len(accepted) == len(raws)
    state = ProjectState(project=PROJECT, track_keys=False)
    tracker = MonthEnds()
    stale = []
    for version, parsed in enumerate(accepted, start=1):
        tracker.before(state, parsed.date, parsed)
        state.apply(parsed, version)
        stale.append(tracker.stale_from)
    assert stale == [None, None, None, (2025, 3), (2025, 2)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=streams(), non_fec=st.booleans())
def test_a_live_fold_keeps_each_month_folded_whole(raws: list[dict[str, Any]], non_fec: bool) -> None:
    """The projector's fold (`LiveProject.apply`) ends a month with the figures of the lines it
    holds, not the state's lines worked out again: on random streams (fec, and non-fec with its
    derived line), every month it keeps is that month's end folded from every event."""
    if non_fec:
        raws = [
            dict(raws[0], data=dict(raws[0]["data"], methodology="non_fec", budget=NON_FEC_BUDGET)),
            *raws[1:],
        ]
    accepted, _ = accepted_events(raws, track_keys=False)
    live = LiveProject.new(PROJECT)
    for version, parsed in enumerate(accepted, start=1):
        live.apply(parsed, version)
    events = [(parsed, version, "") for version, parsed in enumerate(accepted, start=1)]
    tracker = live.month_ends
    if tracker.stale:
        tracker.rebuild_held(
            live.state, [item for item in events if not isinstance(item[0].payload, SpendClaimed)]
        )
    kept = tracker.kept()
    assert kept is not None
    expected = [
        figures_as_of(folded)
        for _, _, folded in month_end_states(
            PROJECT, events, date(*kept.first, 1), months_between(kept.first, kept.latest)
        )
    ]
    assert [kept.ended[month] for month in sorted(kept.ended)] == expected
