"""The HTTP API of CONTRACT.md: the same JSON shapes as the command line, from the same functions.

Database work never runs on the event loop: every endpoint that touches the database is a plain
`def` (FastAPI runs it in its threadpool), and `POST /events`, which must read its raw body to
parse money as decimals, hands the append to the threadpool with `run_in_threadpool`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from ktpledger.api.errors import ApiError, error_body, forbidden
from ktpledger.api.limits import BodyBudget, Busy, budget_share, busy
from ktpledger.api.security import application, check_read, is_reference, principal
from ktpledger.api.summary import project_list, project_summary
from ktpledger.bootstrap import App
from ktpledger.domain.costing import cost_project, parse_request
from ktpledger.domain.errors import RuleViolation, unknown_project
from ktpledger.domain.events import parse_day
from ktpledger.serve_settings import ServeLimits
from ktpledger.service.access import EVERY_TYPE, Principal
from ktpledger.service.alert_reader import read_alerts
from ktpledger.service.json_input import decode_input, parse_json
from ktpledger.service.ledger import shown_stream
from ktpledger.service.statements import claim_pack, reconciliation
from ktpledger.views import costing_json

MAX_EVENTS = 10_000  # events in one POST /events

FORMATS = ("json", "csv", "xlsx", "html", "pdf")
DEFAULT_MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"rule": {"type": "string"}, "message": {"type": "string"}},
            "required": ["rule", "message"],
        }
    },
    "required": ["error"],
}


TODAY_HELP = (
    "judge time-based figures (month N of M, forecasts, ended-not-closed) as of this date, "
    "YYYY-MM-DD; default today"
)


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error responses of a route."""
    meaning = {
        400: "the body is not JSON",
        401: "no token, or an unknown or revoked one",
        403: "the token may not read this project, or record this event type",
        404: "unknown project (R-31)",
        408: "the body did not arrive in time (KTPLEDGER_BODY_TIMEOUT)",
        409: "a recorded event of the project cannot be read: the error names the row (R-30)",
        413: "the body is too large (KTPLEDGER_MAX_BODY_BYTES), or holds too many events",
        422: "bad input: the error names the rule (R-nn)",
        503: "the database cannot be used just now, or the server is reading as many bodies as it "
        "may (KTPLEDGER_BODY_BUDGET_BYTES): try again after Retry-After seconds",
    }
    return {
        status: {
            "description": meaning[status],
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for status in statuses
    }


READ_ERRORS = refusals(401, 403, 404, 409, 422)

EVENT_REF = {"$ref": "#/components/schemas/Event"}  # api/openapi.py: one schema per event type
RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "line": {"type": "integer", "description": "the event's place in the request, from 1"},
        "key": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["recorded", "duplicate", "rejected"]},
        "project": {"type": "string"},
        "version": {"type": "integer"},
        "error": {
            "type": "object",
            "properties": {"rule": {"type": "string"}, "message": {"type": "string"}},
        },
    },
    "required": ["key", "status"],
}

router = APIRouter()


# --- health ----------------------------------------------------------------------------------------


@router.get("/health", tags=["service"], summary="Liveness and database check (no token)")
def health(app: App = Depends(application)) -> dict[str, str]:
    with app.database.read() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok"}


# --- recording -------------------------------------------------------------------------------------


async def read_body(request: Request) -> bytes:
    """The request body. `limits.RequestLimits` refuses it (413) past KTPLEDGER_MAX_BODY_BYTES,
    by its Content-Length before a byte is read or as it arrives, and (408) when it is slow."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    return bytes(body)


def check_record(who: Principal, submissions: list[object]) -> None:
    """403 for the whole request if any event is of a type the role may not record, or for a
    project the token was not granted: checked before anything is appended."""
    if not who.records_anything:
        raise forbidden(f"a {who.role.value} token records no events")
    for number, raw in enumerate(submissions, start=1):
        if not isinstance(raw, dict):
            continue  # not an event: the ledger rejects it (R-30)
        event_type, project = raw.get("type"), raw.get("project")
        if isinstance(event_type, str) and event_type in EVERY_TYPE and not who.can_record(event_type):
            raise forbidden(
                f"event {number}: a {who.role.value} token may not record {event_type}; nothing was recorded"
            )
        if isinstance(project, str) and not who.can_read(project):
            raise forbidden(
                f"event {number}: this token was not granted project {project!r}; nothing was recorded"
            )


@router.post(
    "/events",
    tags=["ledger"],
    summary="Append events (one event object, or a list)",
    description=(
        "Appends each event on its own, as `ktpledger record`: the response is the list of "
        "per-event results (`recorded`, `duplicate` or `rejected` with the rule). Status 200 when "
        "every event was recorded or a duplicate, 422 when any was rejected (the others are still "
        "recorded).\n\nWho may record what: **admin** every type, and only admin records "
        "`GrantOffered` and `ProjectClosed`; **finance** `SpendClaimed`, `ClaimReversed`, "
        "`ParentalLeaveCost`, `GrantPayment`; **lmc** `LMCDecision`; **viewer** nothing. A token "
        "limited to some projects records only for them. If any event of the request is forbidden, "
        "the whole request is refused with 403 and nothing is recorded."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [EVENT_REF, {"type": "array", "items": EVENT_REF, "maxItems": MAX_EVENTS}]
                    }
                }
            },
        }
    },
    responses={
        200: {
            "description": "every event recorded or a duplicate",
            "content": {"application/json": {"schema": {"type": "array", "items": RESULT_SCHEMA}}},
        },
        **refusals(400, 401, 403, 408, 413, 503),
        422: {
            "description": "some event was rejected (each result names its rule)",
            "content": {"application/json": {"schema": {"type": "array", "items": RESULT_SCHEMA}}},
        },
    },
)
async def record(
    request: Request, who: Principal = Depends(principal), app: App = Depends(application)
) -> JSONResponse:
    limits: ServeLimits = request.app.state.limits
    bodies: BodyBudget = request.app.state.bodies
    try:
        # The body is read, parsed and appended within its share of the budget: parsing costs
        # several times a body's size, so the budget bounds what bodies take of memory at once.
        async with bodies.share(budget_share(request.scope, limits)):
            body = await read_body(request)
            # Parsing, the access check and the append all run in the threadpool: none blocks the loop.
            return await run_in_threadpool(append, app, who, body)
    except Busy:
        raise busy(limits) from None


def append(app: App, who: Principal, body: bytes) -> JSONResponse:
    """`POST /events` once the body is read: parse (money as decimals), check, append."""
    # Bytes that are not UTF-8 refuse only the event whose text holds them (service/json_input.py).
    parsed = parse_json(decode_input(body))
    if isinstance(parsed, RuleViolation):
        return JSONResponse(error_body(parsed.rule, parsed.message), status_code=400)
    submissions = parsed if isinstance(parsed, list) else [parsed]
    if len(submissions) > MAX_EVENTS:
        raise ApiError(413, "R-30", f"at most {MAX_EVENTS} events a request; send the rest in another")
    check_record(who, submissions)
    results = app.ledger.append(submissions)
    documents = [result.to_json(line=number) for number, result in enumerate(results, start=1)]
    rejected = any(result.status == "rejected" for result in results)
    return JSONResponse(documents, status_code=422 if rejected else 200)


# --- reading ---------------------------------------------------------------------------------------


@router.get(
    "/projects",
    tags=["projects"],
    summary="The projects this token may read",
    description="Each project's reference, title, parties, status (`open`/`closed`), period, where it "
    "stands as of today (`period`, `ended_not_closed`) and open alert count.",
    responses=refusals(401),
)
def projects(
    today: str | None = Query(None, description=TODAY_HELP),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> list[dict[str, Any]]:
    return project_list(app, who, today=app.settings.reading_day(parse_day(today, field="today")))


@router.get(
    "/projects/{project:path}/events",
    tags=["projects"],
    summary="The project's stream, oldest first (`ktpledger events --format json`)",
    description="A recorded event that cannot be read is listed as stored, with `unreadable`: the "
    "refusal (R-30) naming the row and why.",
    responses=READ_ERRORS,
)
def events(
    project: str, who: Principal = Depends(principal), app: App = Depends(application)
) -> list[dict[str, Any]]:
    check_read(who, project)
    stream = app.ledger.stream(project)
    if not stream:
        raise unknown_project(project, who.visible(app.ledger.projects()), None)
    return shown_stream(stream)


@router.get(
    "/projects/{project:path}/allowances",
    tags=["projects"],
    summary="Each category's budget, limit, spent, remaining, eligible, ineligible (R-40)",
    responses=READ_ERRORS,
)
def allowances(
    project: str,
    as_of: str | None = Query(None, description="answer for a past date (YYYY-MM-DD), by the events' date"),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> dict[str, Any]:
    check_read(who, project)
    day = parse_day(as_of, field="as_of")
    return app.projector.allowances(project, as_of=day).to_json()


@router.get(
    "/projects/{project:path}/summary",
    tags=["projects"],
    summary="The dashboard's figures for one project",
    description="Allowance lines (as `/allowances`) with a forecast to the end date, totals, "
    "cumulative spend per month against the budget of the claimed lines, open alerts and the "
    "LMC decisions.",
    responses=READ_ERRORS,
)
def summary(
    project: str,
    today: str | None = Query(None, description=TODAY_HELP),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> dict[str, Any]:
    check_read(who, project)
    return project_summary(app, project, today=app.settings.reading_day(parse_day(today, field="today")))


@router.get(
    "/alerts",
    tags=["alerts"],
    summary="Open alerts (R-41); with all=true, resolved ones too",
    responses=refusals(401, 403, 422),
)
def alerts(
    project: str | None = Query(None, description="only this project's alerts"),
    include_resolved: bool = Query(False, alias="all", description="resolved alerts too"),
    today: str | None = Query(None, description=TODAY_HELP),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> list[dict[str, Any]]:
    """Each alert with `current` (its figures now; `detail` keeps the figures at the raise) and a
    `message`; then what the calendar finds as of `today` (`ended_not_closed`, with no id)."""
    if project is not None:
        if not who.can_read(project):
            check_read(who, project)
        if not is_reference(project):
            return []  # as for any project without events
    day = app.settings.reading_day(parse_day(today, field="today"))
    visible = who.visible(app.ledger.projects()) if who.projects is not None else None
    return read_alerts(app.database, project, include_resolved=include_resolved, today=day, projects=visible)


# --- statements ------------------------------------------------------------------------------------


def media_types() -> dict[str, str]:
    try:
        from ktpledger.reports import MEDIA_TYPES
    except ImportError:
        return DEFAULT_MEDIA_TYPES
    return {**DEFAULT_MEDIA_TYPES, **MEDIA_TYPES}


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
    by_type = {media.split(";")[0]: name for name, media in media_types().items()}
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


def statement(document: dict[str, Any], kind: str, fmt: str) -> Response:
    """The document as JSON, or rendered by `ktpledger.reports` as CSV, XLSX, HTML or PDF."""
    if fmt == "json":
        return JSONResponse(document)
    try:
        from ktpledger.reports import filename, render
    except ImportError:
        raise ApiError(406, "R-42", f"{fmt} statements are not available in this installation") from None
    body = render(document, kind, fmt)
    headers = {}
    if fmt != "html":
        headers["Content-Disposition"] = f'attachment; filename="{filename(document, kind, fmt)}"'
    return Response(body, media_type=media_types()[fmt], headers=headers)


STATEMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the statement: JSON, or CSV, XLSX, HTML or PDF by `format` or `Accept`",
        "content": {media: {} for media in DEFAULT_MEDIA_TYPES.values()},
    },
    **refusals(401, 403, 404, 409, 422),
}


@router.get(
    "/projects/{project:path}/reconciliation",
    tags=["statements"],
    summary="The end-of-grant statement (R-42), as `ktpledger reconcile`",
    responses=STATEMENT_RESPONSES,
)
def reconcile(
    request: Request,
    project: str,
    fmt: str | None = Query(None, alias="format", description="json, csv, xlsx, html or pdf (else Accept)"),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> Response:
    check_read(who, project)
    chosen = negotiate(fmt, request.headers.get("accept"))
    document = reconciliation(app.database, project, checkpoints=app.checkpoints)
    return statement(document, "reconciliation", chosen)


@router.get(
    "/projects/{project:path}/claim-pack",
    tags=["statements"],
    summary="A quarter's claim pack: spend in the quarter, cumulative against budget, forecast",
    responses=STATEMENT_RESPONSES,
)
def quarter_claim(
    request: Request,
    project: str,
    quarter: str | None = Query(None, description="the quarter, e.g. 2025Q2"),
    fmt: str | None = Query(None, alias="format", description="json, csv, xlsx, html or pdf (else Accept)"),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> Response:
    check_read(who, project)
    if quarter is None:
        raise RuleViolation("R-33", "give the quarter, e.g. ?quarter=2025Q2", field="quarter")
    chosen = negotiate(fmt, request.headers.get("accept"))
    document = claim_pack(app.database, project, quarter, checkpoints=app.checkpoints)
    return statement(document, "claim_pack", chosen)


# --- costing ---------------------------------------------------------------------------------------


@router.get(
    "/costing",
    tags=["costing"],
    summary="Eligible costs and each party's share, as the guidance tables (R-20, R-21)",
    description="The parameters of `ktpledger costing`, as query parameters.",
    responses=refusals(401, 422),
)
def costing(
    methodology: str = Query(..., description="fec or non_fec (R-01)"),
    business_type: str = Query(..., description="sme, large, not_for_profit or public_sector (R-03)"),
    months: str = Query(..., description="duration in whole months, 1..60 (R-02)"),
    salary: str = Query(..., description="the associate's annual employment cost in pounds (R-10)"),
    london: bool = Query(False, description="London weighting (R-10)"),
    virtual: bool = Query(False, description="a virtual business (R-11, R-14)"),
    supervisor_cost: str | None = Query(None, description="fec: supervisor's annual salary plus overheads"),
    supervisor_fte: str = Query("0.1", description="fec: supervisor FTE (standard 0.1, R-16)"),
    support_costs: str | None = Query(None, description="fec: annual additional associate support costs"),
    support_rate: str = Query("0.5", description="fec: charge rate for additional support"),
    estates: str = Query("0", description="fec: associate estates for the project (max 10,000, R-17)"),
    grant_rate: str | None = Query(None, description="grant rate of the offer letter, if not R-03's"),
    _who: Principal = Depends(principal),
) -> dict[str, Any]:
    request = parse_request(
        methodology=methodology,
        business_type=business_type,
        months=months,
        salary=salary,
        london=london,
        virtual=virtual,
        supervisor_cost=supervisor_cost,
        supervisor_fte=supervisor_fte,
        support_costs=support_costs,
        support_rate=support_rate,
        estates=estates,
        grant_rate=grant_rate,
    )
    return costing_json(cost_project(request))
