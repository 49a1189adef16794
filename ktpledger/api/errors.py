"""Every refusal of the HTTP API as `{"error": {"rule", "message"}}` with a 4xx status, never a 500.

A `RuleViolation` is 422, or 404 for an unknown project (R-31 on the `project` field), whose
suggestions are only projects the caller's token may read and which never names the database
(`for_caller`), or 409 for a recorded event that cannot be read (R-30, naming the row). Access errors (401, 403) name the rule `access`: they are about the token, not the
KTP rules.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ktpledger.adapters.errors import BackendDataError, DatabaseUnavailable
from ktpledger.domain.errors import RuleViolation, UnknownProject, UnreadableEvent, unknown_project
from ktpledger.service.access import Principal

log = logging.getLogger(__name__)

ACCESS = "access"

# The rule a malformed query parameter breaks, by its name (the same rules the CLI names).
PARAMETER_RULES = {
    "methodology": "R-01",
    "business_type": "R-03",
    "months": "R-02",
    "salary": "R-10",
    "london": "R-10",
    "virtual": "R-11",
    "supervisor_cost": "R-16",
    "supervisor_fte": "R-16",
    "support_costs": "R-01",
    "support_rate": "R-01",
    "estates": "R-17",
    "grant_rate": "R-03",
    "as_of": "R-40",
    "quarter": "R-42",
    "all": "R-41",
    "project": "R-31",
    "format": "R-42",
    "status": "R-41",
    "limit": "R-41",
}


class ApiError(Exception):
    """A refusal that is not a broken KTP rule: access (401/403), a body too large, a bad format."""

    def __init__(
        self, status: int, rule: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.rule = rule
        self.message = message
        self.headers = headers


def error_body(rule: str, message: str) -> dict[str, Any]:
    return {"error": {"rule": rule, "message": message}}


def unauthorised(message: str) -> ApiError:
    return ApiError(401, ACCESS, message, headers={"WWW-Authenticate": 'Bearer realm="ktpledger"'})


def forbidden(message: str) -> ApiError:
    return ApiError(403, ACCESS, message)


def for_caller(error: RuleViolation, who: Principal | None) -> RuleViolation:
    """A refusal as the HTTP API says it to `who`: an unknown project suggests only projects the
    token may read (none without a token), and where the ledger lives is never shown."""
    if not isinstance(error, UnknownProject):
        return error
    return unknown_project(error.project, [] if who is None else who.visible(error.known), None)


def status_of(error: RuleViolation) -> int:
    """404 for an unknown project; 409 for a recorded event that cannot be read (the request is
    fine, the ledger holds a row ktpledger cannot read: README, "Quarantine"); else 422."""
    if isinstance(error, UnreadableEvent):
        return 409
    return 404 if error.rule == "R-31" and error.field == "project" else 422


def refusal_body(error: RuleViolation) -> dict[str, Any]:
    """The error document of a refusal: `{"error": {"rule", "message"}}`, with the row (`event`)
    when it is a recorded event that cannot be read."""
    return (
        {"error": error.as_dict()}
        if isinstance(error, UnreadableEvent)
        else error_body(error.rule, error.message)
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every refusal into the one error shape."""

    @app.exception_handler(RuleViolation)
    async def rule_violation(request: Request, error: RuleViolation) -> JSONResponse:
        error = for_caller(error, getattr(request.state, "principal", None))
        return JSONResponse(refusal_body(error), status_code=status_of(error))

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(error.rule, error.message), status_code=error.status, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        first = problems[0] if problems else {}
        location = [str(part) for part in first.get("loc", ())]
        name = location[-1] if location else ""
        rule = "R-30" if location[:1] == ["body"] else PARAMETER_RULES.get(name, "R-30")
        where = ".".join(location[1:]) or "request"
        message = f"{where}: {first.get('msg', 'invalid input')}"
        return JSONResponse(error_body(rule, message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        rule = getattr(error, "rule", None) or ("R-31" if error.status_code == 404 else "http")
        detail: object = error.detail  # str to Starlette; FastAPI's HTTPException takes any detail
        message = detail if isinstance(detail, str) else str(detail)
        if error.status_code == 404 and message == "Not Found":
            message = "no such resource: see /docs for the routes"
        return JSONResponse(
            error_body(rule, message),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(BackendDataError)
    async def data_error(_request: Request, error: BackendDataError) -> JSONResponse:
        # Text the database cannot store (PostgreSQL refuses NUL characters): nothing was recorded.
        log.warning("refused by the database: %s", error.driver_message)
        return JSONResponse(
            error_body("R-30", f"the database cannot store this input: {error.driver_message}"),
            status_code=422,
        )

    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(_request: Request, error: DatabaseUnavailable) -> JSONResponse:
        log.error("database unavailable: %s", error.driver_message)
        return JSONResponse(
            error_body("database", "the ledger's database cannot be used just now; try again"),
            status_code=503,
            headers={"Retry-After": "5"},
        )
