"""What the dashboard shows: the project list and one project's figures, as read models
(`service/summary_models.py`).

Every figure comes from the library the command line uses: the allowance lines from the projector
(the same as `GET /projects/{project}/allowances`), the alerts from `alert_reader` (the same as
`GET /alerts`), spend by month as `allowances --as-of` gives each month's end
(`domain/month_ends.py`), the forecast from `forecast_at_end` (R-41) and the period from
`domain/timeline.py`, all judged as of the reader's today.

A project's summary is read from the projector's rows when its stored facts are of the ledger's
head, hold the project page's own (`PageFacts`) and the project is not quarantined
(`maintained_summary`): its facts, spend by month and the versions of the events its facts without
its claims are folded from (its decisions among them; the alerts' readers fold those), which are
then read by version; nothing reads the whole stream, nor the events of a type. Any other project (the projector has not
reached its head yet, its facts are of an older format, or a row of it cannot be read) is folded
from its stream, the same figures by the same rule functions (`folded_summary`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from ktpledger.adapters.database import Database
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.domain.alerts import deadline_findings, line_forecast
from ktpledger.domain.allowances import Allowance
from ktpledger.domain.errors import UnreadableEvent, unknown_project
from ktpledger.domain.health_facts import HealthFacts, ListedFacts
from ktpledger.domain.labels import category_label, gbp
from ktpledger.domain.money import ZERO, round_penny_half_up
from ktpledger.domain.month_ends import DECISION_TYPES, FACT_TYPES, MonthFigures, figures_as_of, figures_of
from ktpledger.domain.profile import PlanSource
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent, located
from ktpledger.domain.rules import BusinessType, Methodology
from ktpledger.domain.statuses import FAILED
from ktpledger.domain.timeline import Phase, forecast_month, month_end, month_end_states, position
from ktpledger.service.access import Principal
from ktpledger.service.alert_reader import shown_alerts
from ktpledger.service.caches import BoundedCache, PerDatabase
from ktpledger.service.ledger import Ledger, fold, read_facts
from ktpledger.service.listing_inputs import InputsCache, ListingInputs, Part, listing_inputs
from ktpledger.service.projections import Projector
from ktpledger.service.statement_models import rate_shown
from ktpledger.service.stored_facts import (
    FactsCache,
    ListedFactsCache,
    current_facts,
    listed_facts_of,
)
from ktpledger.service.summary_models import (
    FIGURES,
    TOTALS,
    DecisionShown,
    PeriodPlace,
    ProjectFacts,
    ProjectRow,
    ProjectStatus,
    ProjectSummary,
    SpendPoint,
    SpendSummary,
    SummaryLine,
    SummaryPeriod,
)

SHARE_PLACES = Decimal("0.0001")
MOST_USED = Decimal("9.99")  # a line's `used` stops here: far over budget reads as "far over"


class Readers(Protocol):
    """What the summaries read: the application (`bootstrap.App`) has all three."""

    @property
    def database(self) -> Database: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def projector(self) -> Projector: ...


def project_facts(state: ProjectState) -> ProjectFacts | None:
    """Reference, title, parties, status and period of a folded project (None with no offer)."""
    offer = state.offer
    if offer is None:  # a stream always starts with its grant offer; this is only defensive
        return None
    return ProjectFacts(
        project=state.project,
        title=offer.title,
        knowledge_base=offer.knowledge_base,
        business=offer.business,
        methodology=offer.methodology,
        business_type=offer.business_type,
        status=ProjectStatus.CLOSED if state.closed else ProjectStatus.OPEN,
        closed_on=state.closed_on,
        start=state.start,
        end=state.end,
        months=state.months,
        grant_rate=rate_shown(state.grant_rate),
        version=state.version,
    )


def project_list(application: Readers, who: Principal, *, today: date) -> list[ProjectRow]:
    """`GET /projects`: each project the token may read, with where it stands in its period as of
    `today`, its open alert count (the ledger's alerts and the calendar's findings: a project
    past its end date and not closed counts one, and so does each deadline of its receivables,
    R-44) and its `projection` (`status` `failed` while it is quarantined, with the error naming
    the row). Each project is read from the projector's stored facts of its head
    (`stored_facts.current_facts`), else folded from its offer, decisions, closure, invoices and
    claims. A project whose offer or decisions cannot be read is listed with `status`
    `unreadable` and that `error`: it never stops the list.

    Rows are kept per process (`ListCache`): a list while nothing changed is one query."""
    return [row for row, _ in listed(application, who, today=today)[0]]


def project_list_json(application: Readers, who: Principal, *, today: date) -> bytes:
    """`project_list` as `GET /projects` answers it: the rows' JSON array, as `JSONResponse` writes
    it (compact, UTF-8), each row written once per change and the whole list once per change for a
    token of every project."""
    rows, body = listed(application, who, today=today)
    return body if body is not None else json_array([written for _, written in rows])


Listing = tuple[ProjectFacts | None, PeriodPlace | None, int]
Listed = tuple[ProjectRow, bytes]  # a row and its JSON
# A row's key: the project, its part of the inputs (its head version in the ledger, its projection
# head row, its open alert count: `listing_inputs.Part`) and the reader's day; the same key lists the
# same row.
RowKey = tuple[str, Part, date]
ROWS_KEPT = 10_000  # rows kept per process and database: about a kilobyte each
DAYS_KEPT = 4  # whole lists kept, by the reader's day


@dataclass(frozen=True)
class WholeList:
    """Every project's row on a day as of `inputs`, in order, and their JSON array."""

    inputs: ListingInputs
    rows: tuple[Listed, ...]
    by_name: dict[str, Listed]
    body: bytes


class ListCache:
    """A process's project list of one database: its inputs (`listing_inputs`), the listed facts
    parsed, each row by its key (`RowKey`), and the whole list of each recent day for the tokens of
    every project. A token limited to some projects gets only their rows, picked by name."""

    def __init__(self, size: int = ROWS_KEPT) -> None:
        self.inputs = InputsCache()
        self.facts = ListedFactsCache()
        self.rows: BoundedCache[RowKey, Listed] = BoundedCache(size)
        self.whole: BoundedCache[date, WholeList] = BoundedCache(DAYS_KEPT)

    def clear(self) -> None:
        self.inputs.clear()
        self.facts.clear()
        self.rows.clear()
        self.whole.clear()


LISTINGS: PerDatabase[ListCache] = PerDatabase(ListCache)


def listed(application: Readers, who: Principal, *, today: date) -> tuple[Sequence[Listed], bytes | None]:
    """The rows `who` may read, and for a token of every project the list's JSON (else None).
    While nothing changed that is one query; after a change, the whole list is made again from the
    one before it, only the rows of projects whose part of the inputs moved looked up or made."""
    cache = LISTINGS.of(application.database)
    inputs = listing_inputs(application.database, cache.inputs)
    earlier = cache.whole.get(today)
    if who.projects is not None:
        return rows_of(application, inputs, who.visible(inputs.heads), today, cache, earlier), None
    if earlier is None or earlier.inputs is not inputs:
        rows = rows_of(application, inputs, list(inputs.heads), today, cache, earlier)
        whole = WholeList(
            inputs,
            tuple(rows),
            {row.project: (row, written) for row, written in rows},
            json_array([written for _, written in rows]),
        )
        cache.whole.put(today, whole)
        return whole.rows, whole.body
    return earlier.rows, earlier.body


def json_array(items: Sequence[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


def row_json(row: ProjectRow) -> bytes:
    """A row's JSON as `JSONResponse` writes it (so the list's array is the same bytes)."""
    return json.dumps(
        row.to_json(), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def rows_of(
    application: Readers,
    inputs: ListingInputs,
    names: Sequence[str],
    today: date,
    cache: ListCache,
    earlier: WholeList | None,
) -> list[Listed]:
    """The rows of `names` (projects with events): the row of `earlier` (the whole list of the day
    as of older inputs) where the project's part is the same object, else the row kept by its key,
    else made (`made_rows`)."""
    found: dict[str, Listed] = {}
    keys: dict[str, RowKey] = {}
    before = None if earlier is None else earlier.inputs.parts
    for name in names:
        part = inputs.parts[name]
        if before is not None and before.get(name) is part:
            assert earlier is not None
            found[name] = earlier.by_name[name]
            continue
        key = keys[name] = (name, part, today)
        kept = cache.rows.get(key)
        if kept is not None:
            found[name] = kept
    missing = [name for name in names if name not in found]
    if missing:
        for row in made_rows(application, inputs, missing, today, cache.facts):
            made = (row, row_json(row))
            cache.rows.put(keys[row.project], made)
            found[row.project] = made
    return [found[name] for name in names]


def made_rows(
    application: Readers, inputs: ListingInputs, names: Sequence[str], today: date, facts: ListedFactsCache
) -> list[ProjectRow]:
    """The rows of `names`, each from its stored facts of the head, else folded (`project_list`)."""
    failed = {name for name in names if inputs.projection(name)["status"] == FAILED}
    heads = {name: inputs.heads[name] for name in names}
    stored = listed_facts_of(application.database, heads, facts, quarantined=failed)
    lacking = [name for name in names if name not in stored]
    folded, refused = read_facts(application.database, lacking) if lacking else ({}, {})
    rows = []
    for name in names:
        projection = inputs.projection(name)
        alerts = inputs.counts.get(name, 0)
        source: ListedFacts | ProjectState | None = stored.get(name) or folded.get(name)
        if source is None:
            error = refused.get(name)
            rows.append(
                ProjectRow(
                    project=name,
                    status=ProjectStatus.UNREADABLE,
                    projection=projection,
                    open_alerts=alerts,
                    error=None if error is None else error.as_dict(),
                )
            )
            continue
        shown, period, findings = listing_of(source, today)
        rows.append(
            ProjectRow(
                project=name,
                status=ProjectStatus.OPEN if shown is None else shown.status,
                projection=projection,
                # the ledger's alerts, ended_not_closed, and the receivables' deadlines (R-44)
                open_alerts=alerts + findings,
                facts=shown,
                period=period,
            )
        )
    return rows


def listing_of(source: ListedFacts | ProjectState, today: date) -> Listing:
    """A project's facts, where it stands in its period as of `today`, and how many of its open
    alerts the calendar finds (ended and not closed; its receivables' deadlines, R-44)."""
    shown = project_facts(source) if isinstance(source, ProjectState) else listed_facts(source)
    if not source.exists:
        return shown, None, 0
    where = position(source, today)
    period = PeriodPlace(phase=where.phase, month=where.month, describe=where.describe())
    ended = 1 if period.phase is Phase.ENDED else 0
    return shown, period, ended + len(deadline_findings(source, today))


def listed_facts(facts: ListedFacts) -> ProjectFacts:
    """`project_facts` of the stored facts of a project's head (the same fields, read from them)."""
    return ProjectFacts(
        project=facts.project,
        title=facts.title,
        knowledge_base=facts.knowledge_base,
        business=facts.business,
        methodology=Methodology(facts.methodology),
        business_type=BusinessType(facts.business_type),
        status=ProjectStatus.CLOSED if facts.closed else ProjectStatus.OPEN,
        closed_on=facts.closed_on,
        start=facts.start,
        end=facts.end,
        months=facts.months,
        grant_rate=rate_shown(facts.grant_rate),
        version=facts.version,
    )


def describe_correction(event_type: str, data: dict[str, Any]) -> str:
    """An offer amendment or a reopening in a sentence (the dashboard escapes it)."""
    if event_type == "ProjectReopened":
        return "Project reopened for late costs of its period"
    corrected = [
        ", ".join(
            f"{category_label(line)} {gbp(amount, pence=False)}" for line, amount in sorted(value.items())
        )
        if name == "budget"
        else name.replace("_", " ")
        for name, value in data.items()
        if name != "reason"
    ]
    return "Offer amended: " + "; ".join(corrected)


def describe_decision(data: dict[str, Any]) -> str:
    """An LMC decision in a sentence (the dashboard escapes it)."""
    kind = data.get("kind")
    if kind == "virement":
        return (
            f"Virement of {gbp(data['amount'], pence=False)} from {category_label(data['from'])} "
            f"to {category_label(data['to'])}"
        )
    if kind == "approve_exceedance":
        return (
            f"Exceedance approved: {category_label(data['category'])} limit raised to "
            f"{gbp(data['limit'], pence=False)}"
        )
    if kind == "extension":
        what = "costed" if data.get("costed") else "no-cost"
        return f"Extension of {data['months']} month(s), {what}"
    if kind == "budget_revision":
        lines = ", ".join(
            f"{category_label(name)} {gbp(amount, pence=False)}"
            for name, amount in sorted(data.get("budget", {}).items())
        )
        return f"Budget revision: {lines}"
    return str(kind)


CORRECTION_KINDS = {"OfferAmended": "offer_amended", "ProjectReopened": "project_reopened"}


def decision_shown(item: RecordedEvent) -> DecisionShown:
    shown = item.to_json()
    data = shown["data"]
    by = shown["recorded_by"]
    if item.type in CORRECTION_KINDS:
        return DecisionShown(
            version=item.version,
            date=item.date,
            key=item.key,
            kind=CORRECTION_KINDS[item.type],
            summary=describe_correction(item.type, data),
            minute=data.get("reason"),
            justification=None,
            approved_by=None,
            recorded_by=by,
        )
    return DecisionShown(
        version=item.version,
        date=item.date,
        key=item.key,
        kind=data.get("kind"),
        summary=describe_decision(data),
        minute=data.get("minute"),
        justification=data.get("justification"),
        approved_by=data.get("approved_by"),
        recorded_by=by,
    )


def spend_point(month: int, ends: date, figures: MonthFigures) -> SpendPoint:
    """Month `month` of the chart: its figures (`month_ends.figures_as_of` its last day), to the penny."""
    return SpendPoint(
        month=month,
        to=ends,
        cumulative=round_penny_half_up(figures.spent),
        budget=round_penny_half_up(figures.budget),
    )


def spend_series(project: str, stream: list[RecordedEvent], start: date, through: int) -> list[SpendPoint]:
    """Each month 1..`through`: every line's spend and budget at the month's end, as
    `allowances --as-of` gives them (the derived overheads' earned amount included), folded."""
    events = [(item.event(), item.version, item.hash) for item in stream]
    with located(stream):
        return [
            spend_point(month, ends, figures_as_of(state))
            for month, ends, state in month_end_states(project, events, start, through)
        ]


def kept_spend_series(facts: HealthFacts, through: int) -> list[SpendPoint] | None:
    """`spend_series` from the projector's stored facts of the head (None without the page's)."""
    if facts.page is None:
        return None
    head = figures_of(facts.allowances())
    series = []
    for month in range(1, through + 1):  # bounded: the months of the period
        ends = month_end(facts.start, month)
        series.append(
            spend_point(month, ends, facts.page.spend_months.at_end_of((ends.year, ends.month), head))
        )
    return series


def summary_line(state: PlanSource, line: Allowance, today: date) -> tuple[SummaryLine, Decimal]:
    """The line with its figures to the penny, and its forecast at the end date as computed."""
    forecast = line_forecast(state, line, today)
    used = None if line.budget <= 0 else min(MOST_USED, line.spent / line.budget).quantize(SHARE_PLACES)
    shown = SummaryLine(
        category=line.category,
        budget=round_penny_half_up(line.budget),
        limit=None if line.limit is None else round_penny_half_up(line.limit),
        limit_kind=line.limit_kind,
        spent=round_penny_half_up(line.spent),
        remaining=round_penny_half_up(line.remaining),
        eligible=round_penny_half_up(line.eligible),
        ineligible=round_penny_half_up(line.ineligible),
        forecast=round_penny_half_up(forecast.forecast),
        forecast_over_budget=forecast.forecast > line.budget,
        used=used,
    )
    return shown, forecast.forecast


def project_summary(application: Readers, project: str, *, today: date) -> ProjectSummary:
    """`GET /projects/{project}/summary`: the figures of the dashboard's project page, with every
    time-based figure (month N of M, elapsed share, forecasts, "ended, not closed", no spend for
    three months) judged as of `today`.

    Headline figures, one definition each (README, "Headline figures"): `budget` and `spent` are
    the totals of the allowance table (each line to the penny), every line of the offer, the
    derived overheads included; `forecast` is the sum of the lines' forecasts at the end date
    (R-41 as of today) and `forecast_excess` how far it is above the budget (0 when within it).

    Read from the projector's rows when they are of the ledger's head (`maintained_summary`),
    else folded from the stream (`folded_summary`): the same summary either way."""
    summary = maintained_summary(application, project, today=today)
    if summary is not None:
        return summary
    return folded_summary(application, project, today=today)


def maintained_summary(application: Readers, project: str, *, today: date) -> ProjectSummary | None:
    """The summary from the projector's stored facts of the head, with the project page's
    (`PageFacts`), and the events of its decisions read by version; None when there are none such
    (module docstring)."""
    # Parsed afresh, not from the process's cache of the project list: one project's facts are
    # quick to parse, and a cache by project and version cannot tell two databases apart.
    facts = current_facts(application.database, [project], FactsCache(1)).get(project)
    if facts is None or facts.page is None:
        return None
    through = forecast_month(facts.start, facts.months, today)
    series = kept_spend_series(facts, through)
    fact_events = events_of_versions(application.database, project, facts.page.fact_versions)
    if series is None or fact_events is None:
        return None
    decisions = [item for item in fact_events if item.type in DECISION_TYPES]
    # The alerts are judged on the project's facts folded without its claims, as `shown_alerts`
    # folds them itself (`service.ledger.facts`: those events, the version the head's).
    try:
        terms = fold(project, fact_events)
    except UnreadableEvent:
        states: dict[str, ProjectState] = {}  # left out, as `facts` leaves out what it cannot fold
    else:
        terms.version = facts.version
        states = {project: terms}
    return assembled(application, listed_facts(facts), facts, series, decisions, today=today, states=states)


def events_of_versions(
    database: Database, project: str, versions: Sequence[int]
) -> list[RecordedEvent] | None:
    """The events of `versions` (`PageFacts.fact_versions`), oldest first; None should any be
    missing or not of `FACT_TYPES` (the caller folds the stream instead)."""
    with projection_store(database).read() as unit:
        found = unit.events.of_versions(project, versions)
    if [item.version for item in found] != sorted(versions) or any(
        item.type not in FACT_TYPES for item in found
    ):
        return None
    return found


def folded_summary(application: Readers, project: str, *, today: date) -> ProjectSummary:
    """The summary of a project folded from its whole stream (a row that cannot be read is
    refused, naming it; an unknown project is refused naming the projects there are)."""
    stream = application.ledger.stream(project)
    state = fold(project, stream)
    facts = project_facts(state)
    if not state.exists or facts is None:  # the HTTP API says this again for its caller (errors.for_caller)
        raise unknown_project(project, application.ledger.projects(), None)
    series = spend_series(project, stream, state.start, forecast_month(state.start, state.months, today))
    decisions = [item for item in stream if item.type in DECISION_TYPES]
    return assembled(application, facts, state, series, decisions, today=today, states=None)


def assembled(
    application: Readers,
    facts: ProjectFacts,
    source: HealthFacts | ProjectState,
    series: Sequence[SpendPoint],
    decisions: Sequence[RecordedEvent],
    *,
    today: date,
    states: Mapping[str, ProjectState] | None,
) -> ProjectSummary:
    """The summary of a project whose `source` (its stored facts of the head, or its folded
    state) gives `facts`, with its spend by month and its decisions' events (`project_summary`);
    `states`: its facts for its alerts (`shown_alerts`), None for them to be read."""
    project = facts.project
    report = application.projector.allowances(project)
    projection = application.projector.states([project])[project]
    alerts = shown_alerts(application.database, project, today=today, states=states)
    where = position(source, today, last_spend=source.latest_spend)
    lines = []
    totals = dict.fromkeys(TOTALS, ZERO)
    for line in report.lines:
        shown, forecast = summary_line(source, line, today)
        lines.append(shown)
        for name in FIGURES:
            totals[name] += getattr(shown, name)  # the lines' figures as shown, to the penny
        totals["forecast"] += forecast
    budget, spent, forecast_total = totals["budget"], totals["spent"], totals["forecast"]
    seen = [source.version, report.version, today.isoformat(), [(a.id, a.status.value) for a in alerts]]
    return ProjectSummary(
        revision=hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:16],
        facts=facts,
        as_of=today,
        period=SummaryPeriod(
            phase=where.phase,
            month=where.month,
            months=where.months,
            elapsed=where.elapsed.quantize(SHARE_PLACES),
            describe=where.describe(),
            days_past_end=where.days_past_end,
            last_spend=where.last_spend,
            no_spend_for_three_months=where.quiet,
        ),
        projection_version=report.version,
        projection=projection,
        catching_up=report.version < source.version and projection["status"] != "failed",
        lines=tuple(lines),
        totals={name: round_penny_half_up(amount) for name, amount in totals.items()},
        spend=SpendSummary(
            budget=round_penny_half_up(budget),
            spent=round_penny_half_up(spent),
            spent_share=None if budget <= 0 else (spent / budget).quantize(SHARE_PLACES),
            forecast=round_penny_half_up(forecast_total),
            forecast_excess=round_penny_half_up(max(ZERO, forecast_total - budget)),
            forecast_over_budget=forecast_total > budget,
            includes_derived=any(line.derived for line in lines),
            series=tuple(series),
        ),
        open_alerts=tuple(alerts),
        decisions=tuple(decision_shown(item) for item in decisions),
        grant_paid=round_penny_half_up(source.grant_paid),
        parental_leave=round_penny_half_up(source.parental_leave),
    )
