"""The drill-down (issue 14): `GET /projects/{project}/transactions` (JSON, or CSV by `?format=csv`
or `Accept: text/csv`) and its dashboard page `/dashboard/projects/{project}/transactions`, both
from `service/transactions.line_transactions`, as `ktpledger transactions` is.

The router is included before the dashboard's, whose `/dashboard/projects/{project:path}` would
otherwise take ".../transactions" as part of a project's name.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from ktpledger.api.dashboard import render, to_login, viewer
from ktpledger.api.errors import ApiError, for_caller, status_of
from ktpledger.api.routes import READ_ERRORS
from ktpledger.api.schemas import Money, RecordedByOut, Shown
from ktpledger.api.security import application, check_read, principal
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_day
from ktpledger.reports.transactions_csv import transactions_csv, transactions_filename
from ktpledger.service.access import Principal
from ktpledger.service.transactions import ProjectTransactions, line_transactions, parse_category

CSV_MEDIA = "text/csv; charset=utf-8"
FORMATS = ("json", "csv")


class ReasonOut(Shown):
    reason: str
    rule: str
    amount: Money
    text: str


class TransactionOut(Shown):
    version: int
    date: date
    key: str
    kind: Literal["claim", "reversal"]
    category: str
    description: str
    amount: Money
    tags: list[str]
    reverses: str | None
    eligibility: Literal["eligible", "partly eligible", "ineligible", "reversed"] | None
    eligible: Money | None
    ineligible: Money | None
    reasons: list[ReasonOut]
    recorded_by: RecordedByOut | None


class BudgetMoveOut(Shown):
    version: int
    date: date | None
    kind: str
    amount: Money
    note: str


class ListedTotalsOut(Shown):
    claimed: Money
    reversed: Money
    net: Money
    eligible: Money
    ineligible: Money


class TransactionLineOut(Shown):
    category: str
    limit_kind: str
    budget: Money
    spent: Money
    eligible: Money
    ineligible: Money
    remaining: Money
    budget_moves: list[BudgetMoveOut]
    transactions: list[TransactionOut]
    totals: ListedTotalsOut


class TransactionsOut(Shown):
    """`ktpledger transactions PROJECT --format json`."""

    project: str
    version: int
    category: str | None
    categories: list[str]
    from_: date | None = Field(alias="from")
    to: date | None
    lines: list[TransactionLineOut]


def drill(
    app: App, who: Principal, project: str, category: str | None, since: str | None, until: str | None
) -> ProjectTransactions:
    """The drill-down as `who` may read it: 403, 404 (R-31), 422 naming the rule."""
    check_read(who, project)
    chosen = parse_category(category)
    date_from = parse_day(since, field="from")
    date_to = parse_day(until, field="to")
    try:
        return line_transactions(
            app.ledger.stream(project), project, chosen, date_from, date_to, known=app.ledger.projects()
        )
    except RuleViolation as error:
        raise for_caller(error, who) from None


def wants_csv(fmt: str | None, accept: str | None) -> bool:
    if fmt is not None:
        wanted = fmt.strip().lower()
        if wanted not in FORMATS:
            raise RuleViolation("R-40", f"format must be json or csv, got {fmt!r}", field="format")
        return wanted == "csv"
    media = [part.split(";")[0].strip().lower() for part in (accept or "").split(",")]
    return "text/csv" in media and "application/json" not in media


def csv_response(made: ProjectTransactions) -> Response:
    return Response(
        transactions_csv(made),
        media_type=CSV_MEDIA,
        headers={"Content-Disposition": f'attachment; filename="{transactions_filename(made)}"'},
    )


router = APIRouter()

TRANSACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    200: {
        "description": "the drill-down: JSON, or CSV (UTF-8 with a byte order mark) by `format` or `Accept`",
        "content": {"application/json": {}, "text/csv": {}},
    },
}


@router.get(
    "/projects/{project:path}/transactions",
    tags=["projects"],
    summary="The events behind each allowance line's figures (`ktpledger transactions`)",
    description="Per line: its budget, spent, eligible, ineligible and remaining as `/allowances` gives "
    "them; the decisions that set or moved its budget; its claims and reversals, each claim eligible, "
    "partly eligible or ineligible with the reasons and rules (R-12..R-15, R-40). `from` and `to` choose "
    "the rows listed by date; the figures stay those of the ledger's head.",
    response_model=TransactionsOut,
    responses=TRANSACTION_RESPONSES,
)
def transactions(
    request: Request,
    project: str,
    category: str | None = Query(None, description="one line only, e.g. travel_subsistence"),
    since: str | None = Query(None, alias="from", description="rows dated on or after, YYYY-MM-DD"),
    until: str | None = Query(None, alias="to", description="rows dated on or before, YYYY-MM-DD"),
    fmt: str | None = Query(None, alias="format", description="json or csv (else Accept)"),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> Response:
    as_csv = wants_csv(fmt, request.headers.get("accept"))
    made = drill(app, who, project, category, since, until)
    return csv_response(made) if as_csv else JSONResponse(made.to_json())


@router.get("/dashboard/projects/{project:path}/transactions", include_in_schema=False)
def transactions_page(
    request: Request,
    project: str,
    category: str | None = None,
    since: str | None = Query(None, alias="from"),
    until: str | None = Query(None, alias="to"),
    who: Principal | None = Depends(viewer),
    app: App = Depends(application),
) -> Response:
    if who is None:
        return to_login(request)
    # An empty field of the filter form means "no filter".
    category, since, until = (value or None for value in (category, since, until))
    try:
        made = drill(app, who, project, category, since, until)
    except ApiError as error:
        return render(request, "problem.html", {"who": who, "message": error.message}, error.status)
    except RuleViolation as error:
        status = status_of(error)
        return render(
            request, "problem.html", {"who": who, "message": f"{error.rule}: {error.message}"}, status
        )
    query = {"category": category, "from": since, "to": until}
    kept = {name: value for name, value in query.items() if value}
    context = {
        "who": who,
        "drill": made,
        "chosen": {"category": category or "", "from": since or "", "to": until or ""},
        "csv_query": urlencode({**kept, "format": "csv"}),
    }
    return render(request, "transactions.html", context)
