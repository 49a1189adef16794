"""`GET /projects/{project}/profile`: a project's spend profile against its spend (R-43), from
`service/spend_profile.project_profile` as `ktpledger profile --format json` is."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from ktpledger.api.errors import for_caller
from ktpledger.api.routes import READ_ERRORS
from ktpledger.api.schemas import Money, Shown
from ktpledger.api.security import application, check_read, principal
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_day
from ktpledger.service.access import Principal
from ktpledger.service.spend_profile import project_profile


class QuarterPlanOut(Shown):
    quarter: str
    planned: Money
    spent: Money
    cumulative_planned: Money
    cumulative_spent: Money
    status: Literal["behind", "ahead", "on_profile", "not_judged", "in_progress", "to_come"]


class LinePlanOut(Shown):
    category: str
    budget: Money
    rule: Literal["even", "in_quarters", "amounts"]
    profiled_on: date | None
    spent: Money
    planned_to_date: Money
    forecast: Money
    quarters: list[QuarterPlanOut]


class ProjectProfileOut(Shown):
    """`ktpledger profile --format json`."""

    project: str
    as_of: date
    start: date
    end: date
    lines: list[LinePlanOut]


router = APIRouter()


@router.get(
    "/projects/{project:path}/profile",
    tags=["projects"],
    summary="The spend profile against the spend, per line and quarter (`ktpledger profile`)",
    description="Per budget line: its profile's rule (R-43; `even` by month when none is recorded), "
    "the spend to date against the plan to date and the forecast at the end date (R-41); per calendar "
    "quarter of the period: planned, spent (claims less reversals dated in it), both cumulated, and "
    "at each quarter end passed whether the spend is `behind` or `ahead` of the plan (more than 10%; "
    "`not_judged` while neither figure reaches 100.00). Judged as of `today` from the events dated "
    "on or before it.",
    response_model=ProjectProfileOut,
    responses=READ_ERRORS,
)
def profile(
    project: str,
    today: str | None = Query(None, description="judge as of this date, YYYY-MM-DD; default today"),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> JSONResponse:
    check_read(who, project)
    day = app.settings.reading_day(parse_day(today, field="today"))
    try:
        made = project_profile(
            app.ledger.stream(project), project, today=day, known=who.visible(app.ledger.projects())
        )
    except RuleViolation as error:
        raise for_caller(error, who) from None
    return JSONResponse(made.to_json())
