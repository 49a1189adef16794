"""The KTP office's portfolio (`ktpledger portfolio`, `GET /portfolio`): every project the reader
may see, one row each, with its health (R-47, `domain/health.py`) as of a day, and the totals.

The figures are the dashboard's own, one definition each: `budget` and `spent` are the totals of
the project's allowance lines to the penny (`project_summary.summary_line`), `forecast` the sum of
the lines' forecasts at the end date (R-41, R-43), `elapsed` the share of the period elapsed
(`timeline.Position`), `grant_claimed` the submitted claims' grant (R-45) and `grant_paid` the
grant payments recorded (R-42).

A project whose events cannot be read is listed red, its reason `unreadable` naming the row: one
bad project never hides the others.

Where the rows come from. A row depends on the project's ledger and on the day, so judging a
thousand projects afresh on a day's first read costs most of a second. Each row is taken from the
first of:
1. this process's `RowCache` (by project, version and day);
2. `portfolio_rows`, the row stored for that day of that version (a cache of the day, migration
   0017), parsed;
3. `project_facts`, the projector's facts of that version (`domain/health_facts.py`), judged;
4. the project's stream, folded (a project the projector has not reached, or a quarantined one).
Rows not stored yet are written back to `portfolio_rows` for the next reader; the
`ktpledger.portfolio_judge` task (`judge_the_day`, every quarter of an hour) judges the day's
rows before anyone asks. A stored row is only ever read for its own version and day, so it is
never stale.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.adapters.errors import BackendDataError, DatabaseUnavailable
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.adapters.projection_store import ProjectionStoreError
from ktpledger.domain.allowances import allowances
from ktpledger.domain.errors import RuleViolation, UnreadableEvent
from ktpledger.domain.health import (
    Deadline,
    Health,
    HealthReason,
    ProjectHealth,
    health_of,
    next_deadline,
)
from ktpledger.domain.health_facts import HealthFacts, facts_of
from ktpledger.domain.money import ZERO, format_money, round_penny_half_up
from ktpledger.domain.profile import period_quarters, planned_in_quarter
from ktpledger.domain.project import add_months
from ktpledger.domain.quarters import Quarter
from ktpledger.domain.rules import BusinessType, Methodology
from ktpledger.domain.statuses import FAILED
from ktpledger.domain.timeline import Phase, position
from ktpledger.service.access import Principal
from ktpledger.service.caches import BoundedCache, PerDatabase
from ktpledger.service.ledger_reading import fold
from ktpledger.service.project_summary import Readers, summary_line

LOG = logging.getLogger(__name__)
SHARE_PLACES = Decimal("0.0001")
ROW_FORMAT = 2  # raised when the stored row's shape changes: older rows are then judged again
ROW_CACHE_SIZE = 2_500  # rows kept per process: a portfolio of a thousand projects, two days and more
HEALTH = {status.value: status for status in Health}  # a dict look-up: `Health(text)` costs 10x
STATUS_ORDER = {Health.RED: 0, Health.AMBER: 1, Health.GREEN: 2}
MONEY_FIGURES = ("budget", "spent", "forecast", "grant_claimed", "grant_paid")


@dataclass(frozen=True)
class QuarterFigures:
    """One calendar quarter across the portfolio's projects: `budget`, what their spend profiles
    plan in it (R-43, each line's `planned_in_quarter`), and `spent`, the net claims (claims less
    reversals, each by its own date) dated in it."""

    quarter: Quarter
    budget: Decimal
    spent: Decimal

    def to_json(self) -> dict[str, str]:
        return {
            "quarter": str(self.quarter),
            "budget": format_money(self.budget),
            "spent": format_money(self.spent),
        }


@dataclass(frozen=True)
class PortfolioRow:
    """One project of the portfolio as of `as_of`."""

    project: str
    title: str
    knowledge_base: str
    business: str
    business_type: str
    methodology: str
    start: date | None
    end: date | None
    months: int
    phase: str
    month: int
    budget: Decimal
    spent: Decimal
    spent_share: Decimal | None
    elapsed: Decimal
    forecast: Decimal
    grant_claimed: Decimal
    grant_paid: Decimal
    next_deadline: Deadline | None
    as_of: date
    status: Health
    # The project's version the row was judged from (0 for an unreadable project).
    version: int = field(default=0, compare=False)
    # The project's plan and net spend by calendar quarter, for the portfolio's chart.
    quarters: tuple[QuarterFigures, ...] = field(default=(), compare=False, repr=False)
    # A row read back from `portfolio_rows`: its JSON document as stored (`to_json`, written as the
    # HTTP API writes JSON). Its reasons are read from it only when a reader asks for them, and a
    # JSON answer takes it as it is (`json_text`): a thousand rows are not decoded to be encoded.
    document: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def judged(cls, health: ProjectHealth, **figures: Any) -> PortfolioRow:
        """The row of `figures` with `health` (kept, not built again when asked for)."""
        row = cls(as_of=health.as_of, status=health.status, **figures)
        # What `cached_property` would store: the same health and its reasons, not built again.
        row.__dict__["health"] = health
        row.__dict__["reasons"] = tuple(reason.to_json() for reason in health.reasons)
        return row

    @cached_property
    def reasons(self) -> tuple[dict[str, Any], ...]:
        """The reasons as `HealthReason.to_json` gives them."""
        if self.document is None:
            return ()
        return tuple(json.loads(self.document)["reasons"])

    @cached_property
    def health(self) -> ProjectHealth:
        reasons = tuple(HealthReason.from_json(item) for item in self.reasons)
        return ProjectHealth(as_of=self.as_of, status=self.status, reasons=reasons)

    @property
    def top_reason(self) -> HealthReason | None:
        return self.health.top_reason

    def json_text(self) -> str:
        """`to_json` as the HTTP API writes it (the stored document, when the row was read back)."""
        return self.document if self.document is not None else document_text(self.to_json())

    def to_json(self) -> dict[str, Any]:
        if self.document is not None:
            found: dict[str, Any] = json.loads(self.document)
            return found
        return {
            "project": self.project,
            "title": self.title,
            "knowledge_base": self.knowledge_base,
            "business": self.business,
            "business_type": self.business_type,
            "methodology": self.methodology,
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "months": self.months,
            "phase": self.phase,
            "month": self.month,
            "status": self.status.value,
            "top_reason": self.reasons[0]["message"] if self.reasons else None,
            "reasons": [dict(reason) for reason in self.reasons],
            **{name: format_money(getattr(self, name)) for name in MONEY_FIGURES},
            "spent_share": None if self.spent_share is None else str(self.spent_share),
            "elapsed": str(self.elapsed),
            "next_deadline": None if self.next_deadline is None else self.next_deadline.to_json(),
        }


@dataclass(frozen=True)
class Portfolio:
    """The rows, most pressing first (red, amber, green; then the earliest end), and the totals."""

    as_of: date
    projects: tuple[PortfolioRow, ...]

    def totals(self) -> dict[str, Any]:
        found: dict[str, Any] = {"projects": len(self.projects)}
        for status in Health:
            found[status.value] = sum(1 for row in self.projects if row.status is status)
        for name in MONEY_FIGURES:
            found[name] = format_money(sum((getattr(row, name) for row in self.projects), ZERO))
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "projects": [row.to_json() for row in self.projects],
            "totals": self.totals(),
        }

    def json_text(self) -> str:
        """`to_json` as the HTTP API writes it, byte for byte (Starlette's `JSONResponse`), the
        rows read back from `portfolio_rows` taken as they are stored."""
        projects = ",".join(row.json_text() for row in self.projects)
        as_of, totals = document_text(self.as_of.isoformat()), document_text(self.totals())
        return f'{{"as_of":{as_of},"projects":[{projects}],"totals":{totals}}}'


def document_text(document: Any) -> str:
    """JSON as the HTTP API writes it: compact, UTF-8 (Starlette's `JSONResponse.render`)."""
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass(frozen=True)
class PortfolioFilter:
    """What the office narrows the portfolio to; None (or empty) lets everything through."""

    statuses: frozenset[Health] = frozenset()
    knowledge_base: str | None = None
    business_type: str | None = None
    methodology: str | None = None
    ending_within_months: int | None = None

    def admits(self, row: PortfolioRow, as_of: date) -> bool:
        if self.statuses and row.status not in self.statuses:
            return False
        if self.knowledge_base and row.knowledge_base.casefold() != self.knowledge_base.casefold():
            return False
        if self.business_type and row.business_type != self.business_type:
            return False
        if self.methodology and row.methodology != self.methodology:
            return False
        if self.ending_within_months is not None:
            if row.end is None or row.phase == Phase.CLOSED.value:
                return False
            if not as_of <= row.end <= add_months(as_of, self.ending_within_months):
                return False
        return True


def portfolio(
    application: Readers,
    who: Principal,
    *,
    today: date,
    only: PortfolioFilter | None = None,
    cache: RowCache | None = None,
) -> Portfolio:
    """Every project `who` may read, as of `today`, narrowed by `only` (module docstring, "Where
    the rows come from")."""
    rows, _ = portfolio_rows(application, who.visible(application.ledger.projects()), today, cache)
    if only is not None:
        rows = [row for row in rows if only.admits(row, today)]
    rows.sort(key=lambda row: (STATUS_ORDER[row.status], row.end or date.max, row.project))
    return Portfolio(as_of=today, projects=tuple(rows))


def judge_the_day(application: Readers, today: date, cache: RowCache | None = None) -> int:
    """Judge and store the row of every project whose stored row is not of its head as of `today`
    (the `ktpledger.portfolio_judge` task: the office's first read of a day then finds its rows
    judged); how many were stored."""
    _, judged_now = portfolio_rows(application, application.ledger.projects(), today, cache)
    return judged_now


def portfolio_rows(
    application: Readers, names: Sequence[str], today: date, cache: RowCache | None = None
) -> tuple[list[PortfolioRow], int]:
    """The rows of `names` as of `today`, each from the first of: this process's cache, the row
    stored for the day, the stored facts, the project's stream; the rows not stored yet are
    stored for the next reader. Also how many were stored."""
    cache = ROWS.of(application.database) if cache is None else cache
    stored = stored_for(application.database, names, today, cache)
    rows: list[PortfolioRow] = []
    unstored: list[PortfolioRow] = []
    for name in names:
        head = stored.heads.get(name)
        row = stored.cached.get(name)
        kept = name in stored.kept
        if row is None and name in stored.rows:
            row = row_from_text(stored.rows[name], head or 0, today)
            kept = row is not None  # unreadable: judged again below, and stored
        if row is None and name in stored.facts:
            row = judged(stored.facts[name], today)
        if row is None:
            row = project_row(application, name, today)
        if row.version:  # judged from the project's events (not an unreadable project's row)
            cache.put((name, row.version, today), row)
            if not kept or row.version != head:
                unstored.append(row)
        rows.append(row)
    remember(application.database, unstored, today)
    return rows, len(unstored)


@dataclass(frozen=True)
class Stored:
    """What a reader finds for some projects as of a day: each project's ledger head; the rows of
    that head this process has judged already (`cached`); the projects whose row of that head is
    stored for the day (`kept`) and the text of those not cached (`rows`); and the facts of that
    head of the projects with neither. A quarantined project has none of these (its row names
    the unreadable event)."""

    heads: Mapping[str, int]
    cached: Mapping[str, PortfolioRow]
    kept: frozenset[str]
    rows: Mapping[str, str]
    facts: Mapping[str, str]


def stored_for(
    database: Database, names: Sequence[str], today: date, cache: RowCache | None = None
) -> Stored:
    """`Stored` for `names`, read in at most five queries whatever their number; only the texts
    of rows not in `cache` are read (none given: an empty one)."""
    cache = RowCache() if cache is None else cache
    if not names:
        return Stored({}, {}, frozenset(), {}, {})
    with projection_store(database).read() as unit:
        heads = unit.events.heads(names)
        failed = {row["project"] for row in unit.heads.of(names) if row.get("status") == FAILED}
        usable = [name for name in names if name in heads and name not in failed]
        cached = {name: row for name in usable if (row := cache.get((name, heads[name], today))) is not None}
        kept = frozenset(
            name
            for name, version in unit.portfolio_rows.versions(usable, today).items()
            if version == heads[name]
        )
        wanted = [name for name in kept if name not in cached]
        rows = {
            str(row["project"]): str(row["row"])
            for row in (unit.portfolio_rows.of_projects(wanted, today) if wanted else [])
            if int(row["version"]) == heads[row["project"]]
        }
        lacking = [name for name in usable if name not in kept and name not in cached]
        facts = {
            str(row["project"]): str(row["facts"])
            for row in (unit.facts.of_projects(lacking) if lacking else [])
            if int(row["version"]) == heads[row["project"]]
        }
    return Stored(heads, cached, kept, rows, facts)


def remember(database: Database, rows: Sequence[PortfolioRow], today: date) -> None:
    """Store the rows judged as of `today` for the next reader. A cache: when the store refuses
    (a read-only replica, a lock held too long) the rows are judged again next time, and the
    reader is answered all the same."""
    values = [
        {"project": row.project, "version": row.version, "as_of": today, "row": text}
        for row in sorted(rows, key=lambda row: row.project)  # one lock order for every writer
        if (text := row_text(row)) is not None
    ]
    if not values:
        return
    try:
        with projection_store(database).write(durable=False) as unit:
            unit.portfolio_rows.upsert(values)
            unit.commit()
    except (ProjectionStoreError, DatabaseUnavailable, BackendDataError) as error:
        LOG.warning("portfolio rows of %s not stored, judged again next read: %s", today, error)


class RowCache(BoundedCache[tuple[str, int, date], PortfolioRow]):
    """Rows already judged, by project, version and day: the same project at the same version
    judged on the same day gives the same row, so a process reading the portfolio again judges
    (or parses) only the projects that changed."""

    def __init__(self, size: int = ROW_CACHE_SIZE) -> None:
        super().__init__(size)


ROWS: PerDatabase[RowCache] = PerDatabase(RowCache)


def judged(text: str, today: date) -> PortfolioRow | None:
    """The row of a project from its stored facts as of `today` (None when the text is not facts
    this version reads: the caller folds the project instead)."""
    try:
        facts = HealthFacts.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return None
    return row_of(facts, today)


def project_row(application: Readers, name: str, today: date) -> PortfolioRow:
    """One project's row, folded from its stream."""
    stream = application.ledger.stream(name)
    try:
        state = fold(name, stream)
    except UnreadableEvent as error:
        return _unreadable(name, today, error)
    facts = facts_of(state, allowances(state))
    assert facts is not None  # a stream starts with its offer
    return row_of(facts, today)


def row_of(facts: HealthFacts, today: date) -> PortfolioRow:
    """A project's row as of `today` from its facts (`health_facts`)."""
    lines = facts.allowances()
    totals = dict.fromkeys(("budget", "spent", "forecast"), ZERO)
    for line in lines:
        shown, forecast = summary_line(facts, line, today)
        totals["budget"] += shown.budget
        totals["spent"] += shown.spent
        totals["forecast"] += forecast
    budget = totals["budget"]
    where = position(facts, today)
    return PortfolioRow.judged(
        health_of(facts, today),
        project=facts.project,
        title=facts.title,
        knowledge_base=facts.knowledge_base,
        business=facts.business,
        business_type=facts.business_type,
        methodology=facts.methodology,
        start=facts.start,
        end=facts.end,
        months=facts.months,
        phase=where.phase.value,
        month=where.month,
        budget=budget,
        spent=totals["spent"],
        spent_share=None if budget <= 0 else (totals["spent"] / budget).quantize(SHARE_PLACES),
        elapsed=where.elapsed.quantize(SHARE_PLACES),
        forecast=round_penny_half_up(totals["forecast"]),
        grant_claimed=facts.grant_claimed,
        grant_paid=round_penny_half_up(facts.grant_paid),
        next_deadline=next_deadline(facts),
        version=facts.version,
        quarters=project_quarters(facts),
    )


def project_quarters(facts: HealthFacts) -> tuple[QuarterFigures, ...]:
    """The project's plan (R-43, each line's `planned_in_quarter`) in each calendar quarter of its
    period, and its net spend (claims less reversals, each by its own date) in each quarter it
    has any, in quarter order."""
    categories = [line.category for line in facts.lines]
    budget: dict[Quarter, Decimal] = {}
    for quarter in period_quarters(facts):
        budget[quarter] = sum((planned_in_quarter(facts, category, quarter) for category in categories), ZERO)
    spent: dict[Quarter, Decimal] = {}
    for by_month in facts.spent_by_month.values():
        for (year, month), amount in by_month.items():
            quarter = Quarter.of(date(year, month, 1))
            spent[quarter] = spent.get(quarter, ZERO) + amount
    return tuple(
        QuarterFigures(quarter, budget.get(quarter, ZERO), spent.get(quarter, ZERO))
        for quarter in sorted({*budget, *spent}, key=lambda quarter: (quarter.year, quarter.number))
    )


def row_text(row: PortfolioRow) -> str | None:
    """The row as stored (`portfolio_rows.row`): a line of what listing, filtering and sorting read
    (its figures, money and quarters exact), then the row's JSON document (`json_text`)."""
    try:
        shown = row.to_json()
        head = {
            "format": ROW_FORMAT,
            "row": {name: value for name, value in shown.items() if name not in ("reasons", "top_reason")},
            "exact": {name: str(getattr(row, name)) for name in MONEY_FIGURES},
            "quarters": [
                [q.quarter.year, q.quarter.number, str(q.budget), str(q.spent)] for q in row.quarters
            ],
        }
        # Compact JSON escapes every line break inside its strings: the first one ends the head.
        return document_text(head) + "\n" + document_text(shown)
    except (TypeError, ValueError):  # a figure JSON cannot hold: the row is judged each time instead
        return None


def row_from_text(text: str, version: int, today: date) -> PortfolioRow | None:
    """The row `row_text` stored, of `version` as of `today` (None for text this version does not
    read: the caller judges the project instead). Its document is kept as text."""
    head_text, line_break, document = text.partition("\n")
    if not line_break or not (document.startswith('{"project":') and document.endswith("}")):
        return None
    try:
        head = json.loads(head_text)
        if head.get("format") != ROW_FORMAT:
            return None
        shown, exact = head["row"], head["exact"]

        def day(value: Any) -> date | None:
            return None if value is None else date.fromisoformat(value)

        deadline = shown["next_deadline"]
        quarters: list[QuarterFigures] = []
        for year, number, planned, net in head["quarters"]:
            if number not in (1, 2, 3, 4):
                return None
            quarters.append(QuarterFigures(Quarter(int(year), number), Decimal(planned), Decimal(net)))
        return PortfolioRow(
            project=str(shown["project"]),
            title=str(shown["title"]),
            knowledge_base=str(shown["knowledge_base"]),
            business=str(shown["business"]),
            business_type=str(shown["business_type"]),
            methodology=str(shown["methodology"]),
            start=day(shown["start"]),
            end=day(shown["end"]),
            months=int(shown["months"]),
            phase=str(shown["phase"]),
            month=int(shown["month"]),
            budget=Decimal(exact["budget"]),
            spent=Decimal(exact["spent"]),
            spent_share=None if shown["spent_share"] is None else Decimal(shown["spent_share"]),
            elapsed=Decimal(shown["elapsed"]),
            forecast=Decimal(exact["forecast"]),
            grant_claimed=Decimal(exact["grant_claimed"]),
            grant_paid=Decimal(exact["grant_paid"]),
            next_deadline=None
            if deadline is None
            else Deadline(
                date.fromisoformat(deadline["due"]), str(deadline["kind"]), str(deadline["subject"])
            ),
            as_of=today,
            status=HEALTH[shown["status"]],
            version=version,
            quarters=tuple(quarters),
            document=document,
        )
    except (ValueError, KeyError, TypeError, ArithmeticError, AttributeError):
        return None


def _unreadable(name: str, today: date, error: UnreadableEvent) -> PortfolioRow:
    said = f"The project's events cannot be read: {error}. Fix the row named, then read again."
    reason = HealthReason(Health.RED, "unreadable", "", "", said, "R-31", error.as_dict())
    return PortfolioRow.judged(
        ProjectHealth(as_of=today, status=Health.RED, reasons=(reason,)),
        project=name,
        title="",
        knowledge_base="",
        business="",
        business_type="",
        methodology="",
        start=None,
        end=None,
        months=0,
        phase="unreadable",
        month=0,
        budget=ZERO,
        spent=ZERO,
        spent_share=None,
        elapsed=ZERO,
        forecast=ZERO,
        grant_claimed=ZERO,
        grant_paid=ZERO,
        next_deadline=None,
    )


def parse_filter(
    statuses: list[str],
    knowledge_base: str | None = None,
    business_type: str | None = None,
    methodology: str | None = None,
    ending_within: str | None = None,
) -> PortfolioFilter:
    """A filter from query text (`GET /portfolio`), each value checked: a refusal (R-47) names the
    parameter and the values it takes. `statuses` may repeat or be comma-separated."""
    chosen: set[Health] = set()
    for given in statuses:
        for part in given.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in {status.value for status in Health}:
                raise RuleViolation(
                    "R-47", f"status must be red, amber or green, got {part!r}", field="status"
                )
            chosen.add(Health(name))
    for field_name, value, allowed in (
        ("business_type", business_type, [kind.value for kind in BusinessType]),
        ("methodology", methodology, [kind.value for kind in Methodology]),
    ):
        if value is not None and value not in allowed:
            raise RuleViolation(
                "R-47", f"{field_name} must be one of {', '.join(allowed)}, got {value!r}", field=field_name
            )
    months: int | None = None
    if ending_within is not None:
        text = ending_within.strip()
        if not text.isdigit() or len(text) > 3:
            raise RuleViolation(
                "R-47",
                f"ending_within must be a whole number of months (0-999), got {ending_within!r}",
                field="ending_within",
            )
        months = int(text)
    return PortfolioFilter(
        statuses=frozenset(chosen),
        knowledge_base=knowledge_base.strip() if knowledge_base and knowledge_base.strip() else None,
        business_type=business_type,
        methodology=methodology,
        ending_within_months=months,
    )


# The columns the dashboard's portfolio page sorts by, each with its key; a row without the figure
# (no budget to take a share of, no deadline left, an unreadable project) sorts after the others
# whichever the direction.
SORT_KEYS: dict[str, Any] = {
    "project": lambda row: row.project.casefold(),
    "status": lambda row: STATUS_ORDER[row.status],
    "budget": lambda row: row.budget,
    "spent": lambda row: row.spent,
    "spent_share": lambda row: row.spent_share,
    "elapsed": lambda row: row.elapsed,
    "forecast": lambda row: row.forecast,
    "grant_claimed": lambda row: row.grant_claimed,
    "grant_paid": lambda row: row.grant_paid,
    "next_deadline": lambda row: None if row.next_deadline is None else row.next_deadline.due,
}


def sort_rows(
    rows: tuple[PortfolioRow, ...], column: str | None, direction: str | None = "asc"
) -> tuple[PortfolioRow, ...]:
    """`rows` by `column` (one of `SORT_KEYS`), ascending or, with `direction` "desc", descending;
    equal rows keep their order (most pressing first), and rows without the figure come last.
    No column: the rows as they are. An unknown column or direction is refused (R-47), naming
    `sort` or `dir`."""
    if not column:
        return rows
    key = SORT_KEYS.get(column)
    if key is None:
        raise RuleViolation(
            "R-47", f"sort must be one of {', '.join(SORT_KEYS)}, got {column!r}", field="sort"
        )
    if direction not in (None, "", "asc", "desc"):
        raise RuleViolation("R-47", f"dir must be asc or desc, got {direction!r}", field="dir")
    present = [row for row in rows if key(row) is not None]
    absent = [row for row in rows if key(row) is None]
    present.sort(key=key, reverse=direction == "desc")  # Python's sort is stable either way
    return (*present, *absent)


def portfolio_quarters(shown: Portfolio) -> tuple[QuarterFigures, ...]:
    """The shown projects' budget and spend by calendar quarter (each row's `quarters`, summed),
    from the first quarter any of their periods (or spends) touch to the last, every quarter
    between included; no stream is read. An unreadable project adds nothing (its row says why)."""
    budget: dict[Quarter, Decimal] = {}
    spent: dict[Quarter, Decimal] = {}
    for row in shown.projects:
        for figures in row.quarters:
            budget[figures.quarter] = budget.get(figures.quarter, ZERO) + figures.budget
            spent[figures.quarter] = spent.get(figures.quarter, ZERO) + figures.spent
    touched = sorted({*budget, *spent}, key=lambda quarter: (quarter.year, quarter.number))
    if not touched:
        return ()
    found: list[QuarterFigures] = []
    quarter = touched[0]
    while (quarter.year, quarter.number) <= (touched[-1].year, touched[-1].number):
        found.append(QuarterFigures(quarter, budget.get(quarter, ZERO), spent.get(quarter, ZERO)))
        quarter = Quarter.of(quarter.last_day + timedelta(days=1))
    return tuple(found)
