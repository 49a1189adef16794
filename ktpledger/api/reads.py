"""The HTTP API's reads of projects and alerts: the JSON of `ktpledger events`, `allowances`,
`alerts` and the dashboard's summaries, from the same functions as the command line."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from ktpledger.api.routes import READ_ERRORS, refusals
from ktpledger.api.schemas import (
    AlertGroupsOut,
    AlertOut,
    AllowanceReportOut,
    ProjectRowOut,
    ProjectSummaryOut,
    RecordedEventOut,
)
from ktpledger.api.security import application, check_read, is_reference, principal
from ktpledger.api.summary import projects_json, summary_json
from ktpledger.bootstrap import App
from ktpledger.domain.alert_views import ShownAlert
from ktpledger.domain.errors import unknown_project
from ktpledger.domain.events import parse_day
from ktpledger.service.access import Principal
from ktpledger.service.alert_reader import grouped_json, of_kinds, parse_kinds, shown_alerts
from ktpledger.service.ledger import shown_stream

TODAY_HELP = (
    "judge time-based figures (month N of M, forecasts, ended-not-closed) as of this date, "
    "YYYY-MM-DD; default today"
)
# Each route answers with its read model's JSON as it is (`to_json()`): `response_model` gives the
# OpenAPI document its schema (api/schemas.py) and leaves the body alone.

router = APIRouter()


@router.get(
    "/projects",
    tags=["projects"],
    summary="The projects this token may read",
    description="Each project's reference, title, parties, status (`open`/`closed`), period, where it "
    "stands as of today (`period`, `ended_not_closed`) and open alert count.",
    response_model=list[ProjectRowOut],
    responses=refusals(401),
)
def projects(
    today: str | None = Query(None, description=TODAY_HELP),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> Response:
    # The JSON as `JSONResponse` writes it, made once per change of the list (`projects_json`).
    day = app.settings.reading_day(parse_day(today, field="today"))
    return Response(projects_json(app, who, today=day), media_type="application/json")


@router.get(
    "/projects/{project:path}/events",
    tags=["projects"],
    summary="The project's stream, oldest first (`ktpledger events --format json`)",
    description="A recorded event that cannot be read is listed as stored, with `unreadable`: the "
    "refusal (R-30) naming the row and why.",
    response_model=list[RecordedEventOut],
    responses=READ_ERRORS,
)
def events(
    project: str, who: Principal = Depends(principal), app: App = Depends(application)
) -> JSONResponse:
    check_read(who, project)
    stream = app.ledger.stream(project)
    if not stream:
        raise unknown_project(project, who.visible(app.ledger.projects()), None)
    return JSONResponse(shown_stream(stream))


@router.get(
    "/projects/{project:path}/allowances",
    tags=["projects"],
    summary="Each category's budget, limit, spent, remaining, eligible, ineligible (R-40)",
    response_model=AllowanceReportOut,
    responses=READ_ERRORS,
)
def allowances(
    project: str,
    as_of: str | None = Query(None, description="answer for a past date (YYYY-MM-DD), by the events' date"),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> JSONResponse:
    check_read(who, project)
    day = parse_day(as_of, field="as_of")
    return JSONResponse(app.projector.allowances(project, as_of=day).to_json())


@router.get(
    "/projects/{project:path}/summary",
    tags=["projects"],
    summary="The dashboard's figures for one project",
    description="Allowance lines (as `/allowances`) with a forecast to the end date, totals, "
    "cumulative spend per month against the budget of the claimed lines, open alerts, and the "
    "LMC decisions with the offer amendments and reopenings.",
    response_model=ProjectSummaryOut,
    responses=READ_ERRORS,
)
def summary(
    project: str,
    today: str | None = Query(None, description=TODAY_HELP),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> JSONResponse:
    check_read(who, project)
    day = app.settings.reading_day(parse_day(today, field="today"))
    return JSONResponse(summary_json(app, project, today=day))


@router.get(
    "/alerts",
    tags=["alerts"],
    summary="Open alerts (R-41); with all=true, resolved ones too",
    response_model=list[AlertOut],
    responses=refusals(401, 403, 422),
)
def alerts(
    project: str | None = Query(None, description="only this project's alerts"),
    include_resolved: bool = Query(False, alias="all", description="resolved alerts too"),
    today: str | None = Query(None, description=TODAY_HELP),
    kind: list[str] = Query([], description="only alerts of this kind (repeatable or comma-separated)"),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> JSONResponse:
    """Each alert with `current` (its figures now; `detail` keeps the figures at the raise) and a
    `message`; then what the calendar finds as of `today` (`ended_not_closed`, with no id)."""
    day = app.settings.reading_day(parse_day(today, field="today"))
    found = readable_alerts(app, who, project, include_resolved, day, parse_kinds(kind))
    return JSONResponse([alert.to_json() for alert in found])


@router.get(
    "/alerts/groups",
    tags=["alerts"],
    summary="Open alerts across projects, one group per kind (`ktpledger alerts --group`)",
    description="The alerts `GET /alerts` lists (same query), grouped by kind, most pressing first "
    "(red, amber, then thresholds: R-47): per group its count, projects and lines with their counts, "
    "how many are acknowledged, the oldest raise, a sentence, and the alerts themselves.",
    response_model=AlertGroupsOut,
    responses=refusals(401, 403, 422),
)
def alert_groups(
    project: str | None = Query(None, description="only this project's alerts"),
    include_resolved: bool = Query(False, alias="all", description="resolved alerts too"),
    today: str | None = Query(None, description=TODAY_HELP),
    kind: list[str] = Query([], description="only alerts of this kind (repeatable or comma-separated)"),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> JSONResponse:
    day = app.settings.reading_day(parse_day(today, field="today"))
    found = readable_alerts(app, who, project, include_resolved, day, parse_kinds(kind))
    return JSONResponse(grouped_json(found, day))


def readable_alerts(
    app: App, who: Principal, project: str | None, include_resolved: bool, day: date, kinds: frozenset[str]
) -> list[ShownAlert]:
    """The alerts `who` may read (one project's, or all they may read), of `kinds` (all when empty)."""
    if project is not None:
        if not who.can_read(project):
            check_read(who, project)
        if not is_reference(project):
            return []  # as for any project without events
    visible = who.visible(app.ledger.projects()) if who.projects is not None else None
    found = shown_alerts(
        app.database, project, include_resolved=include_resolved, today=day, projects=visible
    )
    return of_kinds(found, kinds)
