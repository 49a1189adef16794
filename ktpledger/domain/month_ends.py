"""Spend by month as the project page charts it, kept as the projector folds instead of folding the
whole stream again on every read.

The chart's point of a month is every line's spend and budget at the month's last day, as
`allowances --as-of` gives them: the events dated on or before that day, folded in version order
(`timeline.state_as_of`); `figures_as_of` sums them. Both readers take them from here: the fold of
a stream (`timeline.month_end_states`, then `figures_as_of`) and the projector's `MonthEnds`.

`MonthEnds` watches the fold in version order. While each event is dated in the calendar month of
the latest one so far or after it (the usual ledger), the events dated on or before a month's last
day are exactly those folded before the first event dated after it: so when an event dated in a
later month arrives, the state before it is the state as of the last day of every month it steps
over (`ended`), and every month from the latest event's on is as the head leaves it. An event
dated in an earlier month than one folded already (back-dated) changes the months from its own on
in a way no later event can show: the tracker is then `stale` from that month, and those months
are `rebuild`-t from the stream by the same as-of fold the stream's reader does (the months
before it stand); it carries on from there. A claim recorded a month late costs one fold of the
stream; one dated many months back, a fold for each month after it.

Most back-dated events are claims, and most of those need no fold (`MonthEnds.add_back`): a line's
spend is the sum of its claims (`allowances.allowance`), so a claim dated in month C adds its
amount to the spend of every month from C on, provided the offer (which fixes the lines: no
decision or amendment adds or removes one) is dated in C's month or before, and the project has no
derived line (the non-fec overheads' earned amount is not a sum: R-23, R-42). A worker catching up
claims dated out of order (an import of a quarter's spend) then adds, instead of folding the
stream once per month after each claim.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from ktpledger.domain.allowances import Allowance, allowances
from ktpledger.domain.events import ClaimReversed, Event, SpendClaimed
from ktpledger.domain.money import ZERO
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import Category, LimitKind
from ktpledger.domain.timeline import month_end_states

Month = tuple[int, int]  # a calendar month: (year, month)
# The door's dates (1990-01-01 to 2099-12-31, README "Dates") span 1,320 months; a ledger recorded
# before it checked them may hold any year, whose months are not kept (the project page folds).
MOST_MONTHS = 12 * 110

# The events the project page lists as changes to a project's terms: the LMC's decisions, and the
# administrator's corrections, so that a reader sees why the offer or the status moved.
DECISION_TYPES = frozenset({"LMCDecision", "OfferAmended", "ProjectReopened"})
# The events a project's facts are folded from without its claims (`service.ledger.facts`, which
# reads them through a partial index of these types: `adapters.tables.EVENTS_FACTS_PREDICATE` and
# migration 0022, tests/ledger/test_migrations.py holding the three equal): the projector keeps
# their versions so that the project page reads them by version, not by type.
FACT_TYPES = frozenset(
    {
        "GrantOffered",
        "LMCDecision",
        "ProjectClosed",
        "OfferAmended",
        "ProjectReopened",
        "BusinessInvoiced",
        "BusinessPaymentReceived",
        "ClaimSubmitted",
    }
)


@dataclass(frozen=True)
class MonthFigures:
    """Every line's spend and budget summed, exact (the reader rounds them to the penny)."""

    spent: Decimal
    budget: Decimal


NO_FIGURES = MonthFigures(ZERO, ZERO)


def figures_of(lines: Iterable[Allowance]) -> MonthFigures:
    """The lines' spend and budget summed (the derived overheads' earned amount included)."""
    spent, budget = ZERO, ZERO
    for line in lines:
        spent += line.spent
        budget += line.budget
    return MonthFigures(spent, budget)


def figures_as_of(state: ProjectState) -> MonthFigures:
    """`figures_of` a folded state's allowances (none before its offer)."""
    return figures_of(allowances(state)) if state.exists else NO_FIGURES


def month_of(day: date) -> Month:
    return day.year, day.month


def months_between(earlier: Month, later: Month) -> int:
    """How many months from `earlier` to `later` (0 for the same month)."""
    return (later[0] - earlier[0]) * 12 + later[1] - earlier[1]


def following(month: Month) -> Month:
    year, number = month
    return (year + 1, 1) if number == 12 else (year, number + 1)


@lru_cache(maxsize=4096)
def _months_from(month: Month, latest: Month) -> tuple[Month, ...]:
    """The months from `month` up to `latest` (excluded), in order (bounded by the caller)."""
    found = []
    while month < latest:
        found.append(month)
        month = following(month)
    return tuple(found)


Summed = list[tuple[date, Category, Decimal]]  # plain claims: (date, line, amount)


def month_end_figures(
    project: str, events: Sequence[tuple[Event, int, str]], start: date, through: int
) -> Iterator[MonthFigures]:
    """`figures_as_of` each of the `through` months from `start`'s as `month_end_states` folds it,
    without folding each month's claims again. Most claims are untagged and never reversed: all
    they do to a month's figures is add to their line's spend, whatever the order they were
    recorded in. Those are summed by date; every other event (the offer, decisions, tagged claims,
    whose order decides the sub-limits, and reversed claims with their reversals) is folded as of
    each month's end as before. So a back-dated claim costs a fold of the project's few other
    events per month, not of its whole stream (a worker folded 30 months of claims again for each)."""
    plain: set[str] = {
        event.key
        for event, _, _ in events
        if isinstance(event.payload, SpendClaimed) and not event.payload.tags
    }
    plain.difference_update(
        event.payload.claim for event, _, _ in events if isinstance(event.payload, ClaimReversed)
    )
    summed = [
        (event.date, event.payload.category, event.payload.amount)
        for event, _, _ in events
        if event.key in plain and isinstance(event.payload, SpendClaimed)
    ]
    folded = [
        item for item in events if item[0].key not in plain or not isinstance(item[0].payload, SpendClaimed)
    ]
    return _figures(project, folded, summed, start, through)


def claims_apart(
    state: ProjectState, others: Sequence[tuple[Event, int, str]]
) -> tuple[list[tuple[Event, int, str]], Summed]:
    """What `month_end_figures` needs of a stream, from a fold of it (`state`) and the stream's
    events but its claims (`others`): the events to fold (`others`, and the tagged or reversed
    claims as `state` holds them), in version order, and the plain claims summed by date. The
    projector's state holds every claim: no stream need be read for them."""
    folded = list(others)
    summed: Summed = []
    for claim in state.claims.values():
        if claim.tags or claim.reversed:
            held = SpendClaimed(category=claim.category, amount=claim.amount, description="", tags=claim.tags)
            folded.append((Event(state.project, claim.key, claim.date, held), claim.version, ""))
        else:
            summed.append((claim.date, claim.category, claim.amount))
    folded.sort(key=lambda item: item[1])
    return folded, summed


def _figures(
    project: str, folded: Sequence[tuple[Event, int, str]], summed: Summed, start: date, through: int
) -> Iterator[MonthFigures]:
    by_date = sorted(summed, key=lambda item: item[0])
    spent: dict[Category, Decimal] = {}
    taken = 0
    for _, ends, state in month_end_states(project, folded, start, through):
        while taken < len(by_date) and by_date[taken][0] <= ends:
            _, category, amount = by_date[taken]
            spent[category] = spent.get(category, ZERO) + amount
            taken += 1
        if not state.exists:
            yield NO_FIGURES
            continue
        with_claims = copy.copy(state)  # the fold goes on from `state`: not changed here
        with_claims.spent = {c: state.spent.get(c, ZERO) + spent.get(c, ZERO) for c in {*state.spent, *spent}}
        yield figures_as_of(with_claims)


@dataclass(frozen=True)
class SpendMonths:
    """What `MonthEnds` kept, as the stored facts hold it: the calendar months of the earliest and
    the latest event, and the figures at the end of each month from the earliest up to the latest
    (excluded). A month before the earliest has no figures (no offer yet); a month from the latest
    on has the head's."""

    first: Month
    latest: Month
    ended: Mapping[Month, MonthFigures]

    def at_end_of(self, month: Month, head: MonthFigures) -> MonthFigures:
        """The figures at the last day of `month`, given the head's (`figures_of` its lines)."""
        if month < self.first:
            return NO_FIGURES
        if month >= self.latest:
            return head
        return self.ended[month]


class MonthEnds:
    """The figures at the end of each month, kept event by event (module docstring).

    A claim added back (`add_back`) is noted as the month it adds from and its amount, and added to
    the months it reaches when they are next read (`ended`, or any other step): a ledger whose
    claims come back-dated one by one (an import, the lag bench's streams) then costs O(1) a claim,
    not a new figure for every month after its own. The figures read are the same: a month's spend
    is the exact sum of the same amounts."""

    def __init__(
        self,
        first: Month | None = None,
        latest: Month | None = None,
        ended: dict[Month, MonthFigures] | None = None,
        stale_from: Month | None = None,
        abandoned: bool = False,
    ) -> None:
        self.first = first
        self.latest = latest
        self._ended: dict[Month, MonthFigures] = {} if ended is None else ended
        # The earliest month of a back-dated event folded: the months from it on are `rebuild`-t.
        self.stale_from = stale_from
        # The as-of fold of the stream failed (`abandon`): nothing is kept from then on, and the
        # project page folds the stream itself (and says what it refuses).
        self.abandoned = abandoned
        # Claims added back and not yet in `_ended`: by the month each adds from, its amount (every
        # month from there up to `latest`, excluded; `latest` does not move while any is held).
        self._added: dict[Month, Decimal] = {}
        self._lines_of: tuple[tuple[Category, ...], bool] | None = None  # `_derived_line`

    @property
    def ended(self) -> dict[Month, MonthFigures]:
        """The figures at the end of each month kept, from the earliest up to the latest (excluded)."""
        if self._added:
            self._add_held()
        return self._ended

    def __repr__(self) -> str:
        return (
            f"MonthEnds(first={self.first!r}, latest={self.latest!r}, ended={self.ended!r}, "
            f"stale_from={self.stale_from!r}, abandoned={self.abandoned!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MonthEnds):
            return NotImplemented
        return (self.first, self.latest, self.ended, self.stale_from, self.abandoned) == (
            other.first,
            other.latest,
            other.ended,
            other.stale_from,
            other.abandoned,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it was

    @property
    def stale(self) -> bool:
        return self.stale_from is not None

    def before(
        self,
        state: ProjectState,
        on: date,
        event: Event | None = None,
        head: Callable[[], MonthFigures] | None = None,
    ) -> None:
        """Note an event dated `on`, about to be folded into `state` (`state` is as before it);
        `event` itself, when given, lets a back-dated claim be added (`add_back`) rather than
        make the months from its own stale. `head`: `figures_as_of(state)` from lines the caller
        holds already (`LiveProject`'s): working every line out again cost a month step of the
        projector a tenth of its catch-up."""
        month = month_of(on)
        if self.abandoned:
            return
        if self.latest is None or self.first is None:
            self.first = self.latest = month
            return
        if months_between(min(self.first, month), max(self.latest, month)) > MOST_MONTHS:
            self.abandon()
            return
        if month < self.latest:
            if event is not None and self.add_back(state, event, month):
                return
            if self._added:
                self._add_held()
            self.stale_from = month if self.stale_from is None else min(self.stale_from, month)
            self.first = min(self.first, month)
            return
        if month > self.latest:
            if self._added:
                self._add_held()  # before `latest` moves: they reach the months up to it
            if self.stale_from is None:
                figures = figures_as_of(state) if head is None else head()
                stepped = self.latest
                while stepped < month:  # bounded: the months between two events' dates
                    self._ended[stepped] = figures
                    stepped = following(stepped)
            self.latest = month

    def add_back(self, state: ProjectState, event: Event, month: Month) -> bool:
        """Add a claim dated in `month`, before the latest month, to the spend of every month
        from its own (module docstring); False, changing nothing, where that would not be the
        as-of fold's figure: not a claim, months stale already, dated before the offer's month
        (the months before it have no lines), a derived line, a line the project does not have, a
        month not kept. The months take the amount when next read (`_added`)."""
        payload = event.payload
        if (
            not isinstance(payload, SpendClaimed)
            or self.stale_from is not None
            or self.latest is None
            or not state.exists
            or state.offer_date is None
            or month < month_of(state.offer_date)
            or payload.category not in state.categories()
            or self._derived_line(state)
        ):
            return False
        months = _months_from(month, self.latest)  # bounded: the months kept (at most MOST_MONTHS)
        if not all(map(self._ended.__contains__, months)):
            return False
        if months:
            added = self._added
            added[month] = added[month] + payload.amount if month in added else payload.amount
        return True

    def _derived_line(self, state: ProjectState) -> bool:
        """Whether one of the project's lines is derived, kept for its lines (read per claim)."""
        categories = state.categories()
        if self._lines_of is None or self._lines_of[0] is not categories:
            derived = any(state.limit_kind(c) is LimitKind.DERIVED for c in categories)
            self._lines_of = (categories, derived)
        return self._lines_of[1]

    def _add_held(self) -> None:
        """Add the claims added back (`_added`) to every month from each one's up to the latest."""
        assert self.latest is not None
        ended, added = self._ended, self._added
        running: Decimal | None = None
        for month in _months_from(min(added), self.latest):
            if month in added:
                running = added[month] if running is None else running + added[month]
            if running is not None:
                kept = ended[month]
                ended[month] = MonthFigures(kept.spent + running, kept.budget)
        added.clear()

    def abandon(self) -> None:
        """Keep nothing more: the stream's as-of fold failed, and would fail again."""
        if self._added:
            self._add_held()
        self.abandoned = True

    def kept(self) -> SpendMonths | None:
        """The figures as the stored facts keep them (None when stale or abandoned, or with no
        event yet)."""
        if self.stale or self.abandoned or self.first is None or self.latest is None:
            return None
        return SpendMonths(self.first, self.latest, dict(self.ended))

    def rebuild(self, project: str, events: Sequence[tuple[Event, int, str]]) -> None:
        """Work out the months from `stale_from` up to the latest (excluded) again from the stream
        the tracker has seen (`events`, in version order), each folded as of its last day
        (`timeline.month_end_states`); no longer stale."""
        if self.stale_from is None or self.latest is None:
            return
        month = self.stale_from
        self._rebuilt(month, month_end_figures(project, events, date(*month, 1), self._stale_months()))

    def rebuild_held(self, state: ProjectState, others: Sequence[tuple[Event, int, str]]) -> None:
        """`rebuild` from the fold of the stream the tracker has seen (`state`) and that stream's
        events but its claims (`others`, in version order): the claims are the state's."""
        if self.stale_from is None or self.latest is None:
            return
        month = self.stale_from
        folded, summed = claims_apart(state, others)
        self._rebuilt(month, _figures(state.project, folded, summed, date(*month, 1), self._stale_months()))

    def _stale_months(self) -> int:
        assert self.stale_from is not None and self.latest is not None
        return months_between(self.stale_from, self.latest)

    def _rebuilt(self, month: Month, figures: Iterable[MonthFigures]) -> None:
        ended = self.ended  # what was added back is added first: the rebuilt months then replace it
        for found in figures:
            ended[month] = found
            month = following(month)
        self.stale_from = None

    @classmethod
    def rebuilt(cls, project: str, events: Sequence[tuple[Event, int, str]]) -> MonthEnds:
        """The figures of a whole stream (in version order), every month folded as of its last day:
        what the tracker holds once rebuilt, whatever was back-dated."""
        if not events:
            return cls()
        first = min(month_of(event.date) for event, _, _ in events)
        latest = max(month_of(event.date) for event, _, _ in events)
        tracker = cls(first=first, latest=latest, stale_from=first)
        tracker.rebuild(project, events)
        return tracker
