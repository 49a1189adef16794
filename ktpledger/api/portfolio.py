"""`GET /portfolio`: every project the token may read with its health as of today (R-47), the same
document as `ktpledger portfolio --format json` (`service/portfolio.portfolio`), or the same rows
as CSV or XLSX by `?format=`."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from ktpledger.api.routes import READ_ERRORS
from ktpledger.api.schemas import Figures, Money, Share, Shown
from ktpledger.api.security import application, principal
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_day
from ktpledger.service.access import Principal
from ktpledger.service.portfolio import parse_filter, portfolio

MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class HealthReasonOut(Shown):
    kind: str
    severity: Literal["red", "amber"]
    category: str | None
    subject: str | None
    message: str
    rule: str
    figures: Figures


class DeadlineOut(Shown):
    due: date
    kind: Literal["claim", "invoice"]
    subject: str


class PortfolioRowOut(Shown):
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
    status: Literal["red", "amber", "green"]
    top_reason: str | None
    reasons: list[HealthReasonOut]
    budget: Money
    spent: Money
    forecast: Money
    grant_claimed: Money
    grant_paid: Money
    spent_share: Share | None
    elapsed: Share
    next_deadline: DeadlineOut | None


class PortfolioTotalsOut(Shown):
    projects: int
    red: int
    amber: int
    green: int
    budget: Money
    spent: Money
    forecast: Money
    grant_claimed: Money
    grant_paid: Money


class PortfolioOut(Shown):
    """`ktpledger portfolio --format json`."""

    as_of: date
    projects: list[PortfolioRowOut]
    totals: PortfolioTotalsOut


router = APIRouter()

PORTFOLIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    200: {
        "description": "the portfolio: JSON, or CSV or XLSX by `format`",
        "content": {"application/json": {}, MEDIA["csv"]: {}, MEDIA["xlsx"]: {}},
    },
}


@router.get(
    "/portfolio",
    tags=["projects"],
    summary="Every readable project's health as of today (`ktpledger portfolio`)",
    description="Per project: red, amber or green with its reasons (R-47), budget, spent, the share "
    "spent against the share of the period elapsed, forecast at the end date, grant claimed and paid, "
    "and the next deadline; most pressing first, then the totals. Filters: `status` (repeatable or "
    "comma-separated), `knowledge_base`, `business_type`, `methodology`, `ending_within` (months).",
    response_model=PortfolioOut,
    responses=PORTFOLIO_RESPONSES,
)
def portfolio_read(
    today: str | None = Query(None, description="judge as of this date, YYYY-MM-DD"),
    status: list[str] = Query([], description="red, amber or green (repeatable)"),
    knowledge_base: str | None = Query(None, description="only this university or college"),
    business_type: str | None = Query(None, description="sme, large, not_for_profit or public_sector"),
    methodology: str | None = Query(None, description="fec or non_fec"),
    ending_within: str | None = Query(None, description="only open projects ending within N months"),
    fmt: str | None = Query(None, alias="format", description="json (default), csv or xlsx"),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> Response:
    wanted = (fmt or "json").strip().lower()
    if wanted not in ("json", *MEDIA):
        raise RuleViolation("R-47", f"format must be json, csv or xlsx, got {fmt!r}", field="format")
    only = parse_filter(status, knowledge_base, business_type, methodology, ending_within)
    on = app.settings.reading_day(parse_day(today, field="today"))
    made = portfolio(app, who, today=on, only=only)
    if wanted == "json":  # the rows read back are written as stored, not decoded to be encoded again
        return Response(made.json_text().encode("utf-8"), media_type="application/json")
    from ktpledger.reports.portfolio_report import portfolio_csv, portfolio_xlsx  # only when asked for

    body = portfolio_csv(made) if wanted == "csv" else portfolio_xlsx(made)
    name = f"ktp-portfolio-{on.isoformat()}.{wanted}"
    return Response(
        body, media_type=MEDIA[wanted], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
