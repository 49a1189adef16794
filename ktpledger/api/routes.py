"""The HTTP API (docs/http-api.md): the same JSON shapes as the command line, from the same functions.

This module holds what every route module shares (the error responses of the OpenAPI document)
and the routes that are not reads: `GET /health` and `POST /events`. Reads are in `api/reads.py`,
statements in `api/statements.py`, the costing tables in `api/costing.py`; `api/app.py` includes
their routers in that order (the order of the OpenAPI document's paths).

Database work never runs on the event loop: every endpoint that touches the database is a plain
`def` (FastAPI runs it in its threadpool), and `POST /events`, which must read its raw body to
parse money as decimals, hands the append to the threadpool with `run_in_threadpool`.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, get_args

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ktpledger.api.errors import ApiError, error_body, forbidden
from ktpledger.api.limits import body_share
from ktpledger.api.schemas import Health
from ktpledger.api.security import application, recording_principal
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.service.access import EVERY_TYPE, Principal
from ktpledger.service.json_input import decode_input, parse_json
from ktpledger.service.ledger import AppendStatus

MAX_EVENTS = 10_000  # events in one POST /events

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
        "status": {"type": "string", "enum": list(get_args(AppendStatus))},
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


@router.get(
    "/health", tags=["service"], summary="Liveness and database check (no token)", response_model=Health
)
def health(app: App = Depends(application)) -> JSONResponse:
    app.database.ping()
    return JSONResponse({"status": "ok"})


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
        "`GrantOffered`, `OfferAmended`, `ProjectClosed` and `ProjectReopened`; **finance** `SpendClaimed`, `ClaimReversed`, "
        "`ParentalLeaveCost`, `GrantPayment`, `AlertAcknowledged`, `BusinessInvoiced`, `BusinessPaymentReceived`, `ClaimSubmitted`, `ClaimApproved`; **lmc** `LMCDecision`, `AlertAcknowledged`, `SpendProfileSet`; "
        "**viewer** nothing. A token "
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
async def record(request: Request, who: Principal = Depends(recording_principal)) -> JSONResponse:
    # `application(request)` is called here, not declared a dependency: FastAPI would run a plain
    # `def` dependency in the threadpool, a hop of its own for a look-up in the app's state.
    app = application(request)
    # The body is read, parsed and appended within its share of the budget: parsing costs
    # several times a body's size, so the budget bounds what bodies take of memory at once.
    async with body_share(request.scope, request.app.state):
        body = await read_body(request)
        # Parsing, the access check and the append all run in the threadpool: none blocks the loop.
        # At most `appending_at_once` of them at a time (`append_slots`).
        run = partial(append, app, who, body)
        return await anyio.to_thread.run_sync(run, limiter=append_slots(request, app))


def appending_at_once(app: App) -> int | None:
    """How many appends a process runs at once, None for as many as the threadpool allows.

    On PostgreSQL, as many as the ledger can append single events at once in one round trip
    (`Ledger.direct_appends`): an append that finds them all busy takes the general path instead, a
    transaction of several round trips holding the ledger's guard, that every other append of the
    process waits for and the table's lock, that every other process waits for. With 32 clients on
    2 processes, about half the appends took it; waiting for a connection instead is cheaper."""
    return app.ledger.direct_appends or None


def append_slots(request: Request, app: App) -> CapacityLimiter | None:
    """The limiter of appends at once of the event loop running (so of the process serving: made
    on first use there, after a fork), None for anyio's default (the threadpool's size)."""
    at_once = appending_at_once(app)
    if at_once is None:
        return None
    state = request.app.state
    loop = asyncio.get_running_loop()
    kept: tuple[asyncio.AbstractEventLoop, CapacityLimiter] | None = getattr(state, "append_slots", None)
    if kept is None or kept[0] is not loop:
        kept = state.append_slots = (loop, CapacityLimiter(at_once))
    return kept[1]


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
    results = app.ledger.append(submissions, recorded_by=who.recorder("api"))
    documents = [result.to_json(line=number) for number, result in enumerate(results, start=1)]
    rejected = any(result.status == "rejected" for result in results)
    return JSONResponse(documents, status_code=422 if rejected else 200)
