"""bench/ingest.py's single-append figure of fixed measurements (nothing is timed): judged against
the plain inserts it alternated with (>= 0.8x), its bound the append's own domain work plus a plain
insert, taken in a loop of its own and so scaled by the plain inserts that loop alternated with."""

from __future__ import annotations

import argparse

from bench import ingest
from bench.figures import out_of_reach


def measured(api: float, plain: float, bound: float, bound_floor: float) -> dict[str, ingest.Figure]:
    """Figures of 1,000 events at these rates (events/s)."""
    rates = {"api-single": api, "floor-single": plain, "bound-single": bound, "bound-floor": bound_floor}
    return {path: ingest.Figure(path, 1000, 1000 / rate) for path, rate in rates.items()}


def single_figure(report: ingest.Report) -> ingest.figures.Figure:
    args = argparse.Namespace(batch=1000, singles=1000, round_singles=100, file_events=2000)
    (figure,) = [
        figure
        for figure in ingest.brief_figures(report, args, 10_000, {})
        if figure.name == "postgresql single"
    ]
    return figure


def test_the_single_bound_is_its_loop_ratio_at_the_load_the_floor_met() -> None:
    # The bound's loop ran at 900/s beside plain inserts at 1,500/s: 0.6x of floor-single's 2,000/s.
    found = measured(api=1400, plain=2000, bound=900, bound_floor=1500)
    assert ingest.single_bound(found) == 1200
    del found["bound-floor"]
    assert ingest.single_bound(found) is None


def test_a_single_append_whose_bound_misses_the_target_is_out_of_reach() -> None:
    figure = single_figure(
        ingest.Report("postgresql", measured(api=1400, plain=2000, bound=900, bound_floor=1500))
    )
    assert (figure.value, figure.floor, figure.bound, figure.met) == (
        1400,
        2000,
        1200,
        False,
    )  # 0.7x, bound 0.6x
    assert out_of_reach(figure).startswith("OUT OF REACH: the append's own parse, check, hash and fold")
    near = single_figure(
        ingest.Report("postgresql", measured(api=1400, plain=2000, bound=1350, bound_floor=1500))
    )
    assert near.bound == 1800 and near.met is False and out_of_reach(near) == ""  # bound 0.9x: not met
    assert near.note == "1,000 appends alternating with plain single-row INSERTs; bound 0.90x (bound-single)"
