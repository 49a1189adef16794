"""`month_end_states` gives, month by month, exactly what `state_as_of` gives for each month's last
day (the figures of `allowances --as-of`), whatever order the events' dates come in."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ktpledger.domain.allowances import allowances
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import ProjectState
from ktpledger.domain.timeline import month_end, month_end_states, state_as_of
from tests.ledger.factory import PROJECT, claim, decision, offer

START = date(2024, 10, 1)  # the factory's offer: 24 months


def figures(state: ProjectState) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [(line.category.value, line.budget, line.spent, line.eligible) for line in allowances(state)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 700), st.sampled_from(["claim", "revision"]), st.integers(1, 3000)),
        max_size=25,
    )
)
def test_month_by_month_equals_the_as_of_fold(actions: list[tuple[int, str, int]]) -> None:
    raws = [offer()]
    for number, (offset, kind, amount) in enumerate(actions):
        when = (START + timedelta(days=offset)).isoformat()
        if kind == "claim":
            raws.append(claim(f"c{number}", f"{amount}.00", category="consumables", date=when))
        else:  # revisions dated out of order are what make folding on from the month before wrong
            raws.append(
                decision(
                    f"d{number}",
                    when,
                    kind="budget_revision",
                    budget={"consumables": str(4000 + amount)},
                    minute="m",
                )
            )
    events = [(parse_event(raw), version, "") for version, raw in enumerate(raws, start=1)]
    for month, ends, state in month_end_states(PROJECT, events, START, 24):
        assert ends == month_end(START, month)
        assert figures(state) == figures(state_as_of(PROJECT, events, ends)), month
