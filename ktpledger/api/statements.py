"""The HTTP API's statements: the reconciliation and a quarter's claim pack, as JSON or rendered
by `ktpledger.reports` (CSV, XLSX, HTML, PDF) by `?format=` or the `Accept` header."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from ktpledger.api.routes import READ_ERRORS, refusals
from ktpledger.api.security import application, check_read, principal
from ktpledger.api.statement_schemas import ClaimHistoryOut, ClaimPackOut, InvoicesOut, ReconciliationOut
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.reports import FORMATS, MEDIA_TYPES, filename, render
from ktpledger.service.access import Principal
from ktpledger.service.claim_history import claim_history
from ktpledger.service.invoices import invoices_json
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.report_appendix import AuditAppendix, audit_appendix
from ktpledger.service.statement_models import ReconciliationStatement
from ktpledger.service.statements import quarter_pack, reconciliation_statement

router = APIRouter()


def negotiate(fmt: str | None, accept: str | None) -> str:
    """`?format=` if given (else R-42), otherwise the best of `Accept` that we make, else JSON."""
    if fmt is not None:
        wanted = fmt.strip().lower()
        if wanted not in FORMATS:
            raise RuleViolation(
                "R-42", f"format must be one of {', '.join(FORMATS)}, got {fmt!r}", field="format"
            )
        return wanted
    if not accept:
        return "json"
    by_type = {media.split(";")[0]: name for name, media in MEDIA_TYPES.items()}
    by_type.update({"application/xhtml+xml": "html", "application/csv": "csv"})
    offers: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept.split(",")):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        offered = by_type.get(media.lower())
        if offered is not None and quality > 0:
            offers.append((-quality, order, offered))
    return min(offers)[2] if offers else "json"


def statement(
    made: ReconciliationStatement | ClaimPack, fmt: str, appendix: AuditAppendix | None = None
) -> Response:
    """The statement's JSON document, or the statement rendered by `ktpledger.reports` as CSV, XLSX,
    HTML or PDF (with `appendix`: who prepared it and when, what an auditor asks for)."""
    if fmt == "json":
        return JSONResponse(made.to_json())
    body = render(made, fmt, appendix)
    headers = {}
    if fmt != "html":
        headers["Content-Disposition"] = f'attachment; filename="{filename(made, fmt)}"'
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


STATEMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the statement: JSON, or CSV, XLSX, HTML or PDF by `format` or `Accept`",
        "content": {media: {} for media in MEDIA_TYPES.values()},
    },
    **refusals(401, 403, 404, 409, 422),
}


@router.get(
    "/projects/{project:path}/reconciliation",
    tags=["statements"],
    summary="The end-of-grant statement (R-42), as `ktpledger reconcile`",
    response_model=ReconciliationOut,
    responses=STATEMENT_RESPONSES,
)
def reconcile(
    request: Request,
    project: str,
    fmt: str | None = Query(None, alias="format", description="json, csv, xlsx, html or pdf (else Accept)"),
    prepared_on: date | None = Query(
        None,
        description="the day the report says it was prepared on, YYYY-MM-DD (default: the latest event's date)",
    ),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> Response:
    check_read(who, project)
    chosen = negotiate(fmt, request.headers.get("accept"))
    made = reconciliation_statement(app.database, project, checkpoints=app.checkpoints)
    return statement(made, chosen, appendix_for(app, who, project, chosen, prepared_on))


def appendix_for(
    app: App,
    who: Principal,
    project: str,
    chosen: str,
    prepared_on: date | None,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    through_version: int | None = None,
) -> AuditAppendix | None:
    """The auditor's appendix of a report for people (None for JSON, which is the statement's
    alone): prepared by the token's label, on `prepared_on` (else the latest event's date)."""
    if chosen == "json":
        return None
    return audit_appendix(
        app.database,
        project,
        prepared_by=who.recorder("api").name,
        prepared_on=prepared_on,
        independent_report_threshold=app.settings.independent_report_threshold,
        date_from=date_from,
        date_to=date_to,
        through_version=through_version,
    )


@router.get(
    "/projects/{project:path}/claim-pack",
    tags=["statements"],
    summary="A quarter's claim pack: spend in the quarter, cumulative against budget, forecast",
    response_model=ClaimPackOut,
    responses=STATEMENT_RESPONSES,
)
def quarter_claim(
    request: Request,
    project: str,
    quarter: str | None = Query(None, description="the quarter, e.g. 2025Q2"),
    fmt: str | None = Query(None, alias="format", description="json, csv, xlsx, html or pdf (else Accept)"),
    prepared_on: date | None = Query(
        None,
        description="the day the report says it was prepared on, YYYY-MM-DD (default: the latest event's date)",
    ),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> Response:
    check_read(who, project)
    if quarter is None:
        raise RuleViolation("R-42", "give the quarter, e.g. ?quarter=2025Q2", field="quarter")
    chosen = negotiate(fmt, request.headers.get("accept"))
    made = quarter_pack(app.database, project, quarter, checkpoints=app.checkpoints)
    appendix = appendix_for(
        app,
        who,
        project,
        chosen,
        prepared_on,
        date_from=made.start,
        date_to=made.end,
        through_version=made.ledger.version,
    )
    return statement(made, chosen, appendix)


# --- the business's invoices (R-44) --------------------------------------------------------------


@router.get(
    "/projects/{project:path}/invoices",
    tags=["statements"],
    summary="The business's invoices (R-44) with what is paid and outstanding on each",
    response_model=InvoicesOut,
    responses=READ_ERRORS,
)
def invoices(
    project: str, who: Principal = Depends(principal), app: App = Depends(application)
) -> JSONResponse:
    check_read(who, project)
    return JSONResponse(invoices_json(app.database, project))


# --- claim approvals: the claim history ------------------------------------------------------


@router.get(
    "/projects/{project:path}/claims",
    tags=["statements"],
    summary="The grant claims (R-45, R-46): claimed, approved, paid and outstanding, the final adjustment",
    response_model=ClaimHistoryOut,
    responses=READ_ERRORS,
)
def claims(
    project: str, who: Principal = Depends(principal), app: App = Depends(application)
) -> JSONResponse:
    check_read(who, project)
    return JSONResponse(claim_history(app.database, project).to_json())
