"""Where a project stands in its period on a given day: month N of M, the share elapsed, its phase.

Readers judge these as of today (or a `--today` given for a report or a test), never as of the
latest event: a project whose end date passed months ago is "ended, not closed", not "month 15 of
24" because nothing has been recorded since month 15.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from ktpledger.domain.events import Event
from ktpledger.domain.project import ProjectState, add_months
from ktpledger.domain.recorded import fold_events

QUIET_MONTHS = 3  # "no spend recorded for three months"


def month_number(start: date, on: date) -> int:
    """Which month of the project `on` falls in (1 for the start month; 0 or less before it)."""
    return (on.year - start.year) * 12 + on.month - start.month + 1


def period_month(start: date, months: int, on: date) -> int:
    """The project's month on `on` as readers show it ("month N of M"): 0 before the start,
    1 .. months during the period, `months` after it."""
    return max(0, min(month_number(start, on), months))


def forecast_month(start: date, months: int, on: date) -> int:
    """The months of spend counted on `on`, which a forecast divides by (R-41) and the spend chart
    runs through: the period's month, but at least the first (before the start there is no month 0
    to divide by)."""
    return max(1, period_month(start, months, on))


class PeriodSource(Protocol):
    """A project's period as `position` reads it (`ProjectState`, or the portfolio's facts)."""

    @property
    def start(self) -> date: ...

    @property
    def end(self) -> date: ...

    @property
    def months(self) -> int: ...

    @property
    def closed(self) -> bool: ...


class Phase(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    ENDED = "ended"  # past its end date and not closed: the office has to act
    CLOSED = "closed"


@dataclass(frozen=True)
class Position:
    """A project's place in its period on `as_of`."""

    as_of: date
    phase: Phase
    month: int  # 0 before the start, 1 .. months during the period, months after it
    months: int
    start: date
    end: date
    last_spend: date | None  # the latest date of a claim or reversal, if any

    @property
    def elapsed(self) -> Decimal:
        """The share of the period elapsed: month / months (a started month counts)."""
        return Decimal(self.month) / Decimal(self.months) if self.months else Decimal(0)

    @property
    def days_past_end(self) -> int:
        return max(0, (self.as_of - self.end).days)

    @property
    def quiet(self) -> bool:
        """No spend recorded in the `QUIET_MONTHS` months before `as_of`, on a running project
        (counted from its start when nothing has been claimed yet)."""
        if self.phase is not Phase.RUNNING:
            return False
        return self.as_of >= add_months(self.last_spend or self.start, QUIET_MONTHS)

    def describe(self) -> str:
        """For people: "month 7 of 24", "ended 31 March 2026, not closed", ..."""
        if self.phase is Phase.CLOSED:
            return f"closed, {self.months} months"
        if self.phase is Phase.ENDED:
            return f"ended {self.end.isoformat()}, not closed ({self.days_past_end} days ago)"
        if self.phase is Phase.NOT_STARTED:
            return f"not started: month 0 of {self.months}"
        return f"month {self.month} of {self.months}"


def position(state: PeriodSource, on: date, *, last_spend: date | None = None) -> Position:
    """`state`'s place in its period on `on`."""
    month = period_month(state.start, state.months, on)
    if state.closed:
        phase = Phase.CLOSED
    elif on > state.end:
        phase = Phase.ENDED
    elif on < state.start:
        phase = Phase.NOT_STARTED
    else:
        phase = Phase.RUNNING
    return Position(on, phase, month, state.months, state.start, state.end, last_spend)


def month_end(start: date, month: int) -> date:
    """The last day of month `month` of a project starting `start` (month 1 is the start month)."""
    first = date(start.year, start.month, 1)
    return add_months(first, month) - timedelta(days=1)


def state_as_of(project: str, events: Iterable[tuple[Event, int, str]], day: date) -> ProjectState:
    """The project as the events dated on or before `day` leave it, folded in version order: the
    figures `ktpledger allowances --as-of` gives."""
    state = ProjectState(project=project, track_keys=False)
    fold_events(events, state.apply, until=day)
    return state


def month_end_states(
    project: str, events: Sequence[tuple[Event, int, str]], start: date, through: int
) -> Iterator[tuple[int, date, ProjectState]]:
    """For each month 1..`through`, the project as `state_as_of` its last day gives it. The state
    is folded on from the month before when every event the month adds comes after (by version)
    those folded already, the usual case, and afresh otherwise; it is the same object each time,
    to be read before the next one is asked for."""
    by_date = sorted(events, key=lambda item: (item[0].date, item[1]))
    state = ProjectState(project=project, track_keys=False)
    taken, latest = 0, 0
    for month in range(1, through + 1):
        ends = month_end(start, month)
        added: list[tuple[Event, int, str]] = []
        while taken < len(by_date) and by_date[taken][0].date <= ends:
            added.append(by_date[taken])
            taken += 1
        added.sort(key=lambda item: item[1])
        if added and added[0][1] < latest:
            state = state_as_of(project, events, ends)  # an earlier version dated later: fold afresh
        else:
            fold_events(added, state.apply)
        if added:
            latest = max(latest, added[-1][1])
        yield month, ends, state
