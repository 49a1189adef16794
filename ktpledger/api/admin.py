"""The HTTP API's administrator routes: notification deliveries, resending them, system alerts.

Admin tokens for every project only (any other role, or an admin token limited to some projects:
403), since deliveries and system alerts span every project. The same functions as `ktpledger notifications [resend]`
and `ktpledger system-alerts`, and the same JSON shapes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ktpledger.api.errors import forbidden
from ktpledger.api.routes import refusals
from ktpledger.api.security import application, principal
from ktpledger.api.statement_schemas import DeliveryOut, ResendOut, SystemAlertOut
from ktpledger.bootstrap import App
from ktpledger.notify_settings import CHANNELS
from ktpledger.service.access import Principal, Role
from ktpledger.service.deliveries import LIST_LIMIT, STATUSES, list_deliveries, resend
from ktpledger.service.system_alerts import read_system_alerts

# The largest id taken: within what both databases store (2**63 - 1) and what a JSON Schema number
# (a double) holds exactly, so the schema and the server agree on the bound.
MAX_ID = 2**53 - 1
MAX_NAMED = 1000  # alerts named in one resend

router = APIRouter(tags=["admin"])


def is_administrator(who: Principal) -> bool:
    """An admin token for every project: notifications and system alerts span all projects."""
    return who.role is Role.ADMIN and who.projects is None


def administrator(who: Principal = Depends(principal)) -> Principal:
    """The caller, if an admin token for every project; else 403."""
    if who.role is not Role.ADMIN:
        raise forbidden(
            f"a {who.role.value} token cannot see or resend notifications or system alerts: admin tokens only"
        )
    if not is_administrator(who):
        raise forbidden(
            "an admin token limited to some projects cannot see or resend notifications or system "
            "alerts: they span every project"
        )
    return who


AlertId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _names_something(schema: dict[str, Any]) -> None:
    """The body's schema says what the server requires beside each field's form (so that a client
    or a property test generating from the schema never sends a body refused for its form): a
    known channel, and something named, alert ids or every failed notification."""
    schema["properties"]["channel"] = {
        "anyOf": [{"type": "string", "enum": list(CHANNELS)}, {"type": "null"}],
        "default": None,
        "description": "only this channel's notifications: " + ", ".join(CHANNELS),
    }
    schema["anyOf"] = [
        {"required": ["alerts"], "properties": {"alerts": {"minItems": 1}}},
        {"required": ["system_alerts"], "properties": {"system_alerts": {"minItems": 1}}},
        {"required": ["all_failed"], "properties": {"all_failed": {"const": True}}},
    ]


class ResendRequest(BaseModel):
    """What to resend: named alerts' notifications and/or every failed one, maybe on one channel."""

    model_config = ConfigDict(json_schema_extra=_names_something)

    alerts: list[AlertId] = Field(default_factory=list, max_length=MAX_NAMED, description="KTP alert ids")
    system_alerts: list[AlertId] = Field(
        default_factory=list, max_length=MAX_NAMED, description="system alert ids"
    )
    channel: str | None = Field(None, description="only this channel's notifications: log, webhook or email")
    all_failed: bool = Field(False, description="every failed notification")
    again: bool = Field(False, description="also send once more those already delivered or suppressed")


@router.get(
    "/notifications",
    summary="Notification deliveries per alert and channel (admin)",
    description="One row per alert and channel, of KTP alerts (`outbox: alert`) and system alerts "
    "(`outbox: system`): attempts, first and last attempt, next attempt, last error, status, the "
    "message's `delivery_id` and `long_pending` (pending for longer than "
    "KTPLEDGER_CHANNEL_DOWN_MINUTES). `status`: " + ", ".join(STATUSES) + " or all; default failed "
    "and pending.",
    response_model=list[DeliveryOut],
    responses=refusals(401, 403, 422),
)
def notifications(
    status: str | None = Query(
        None,
        description="failed, pending, suppressed, delivered or all",
        json_schema_extra={"enum": [*STATUSES, "all"]},
    ),
    limit: int = Query(LIST_LIMIT, ge=1, le=100_000, description="at most this many rows"),
    _who: Principal = Depends(administrator),
    app: App = Depends(application),
) -> JSONResponse:
    rows = list_deliveries(
        app.database,
        status=status,
        now=datetime.now(UTC),
        long_after=app.settings.channel_down_after,
        limit=limit,
    )
    return JSONResponse(rows)


@router.post(
    "/notifications/resend",
    summary="Resend failed notifications (admin)",
    description="Failed notifications of the named alerts (or, with `all_failed`, every failed one; "
    "with `channel`, only that channel's) go back to pending, due now, their retry period restarted. "
    "Delivered and suppressed ones are skipped unless `again`; pending ones are being retried "
    "already. The answer says how many were resent (`resent`), which (`rows`) and what was skipped "
    "and why (`skipped`). A named alert with no notification is refused (422, R-41) and nothing "
    "is resent.",
    response_model=ResendOut,
    responses=refusals(401, 403, 422),
)
def resend_notifications(
    request: ResendRequest = Body(...),
    _who: Principal = Depends(administrator),
    app: App = Depends(application),
) -> JSONResponse:
    report = resend(
        app.database,
        alert_ids=request.alerts,
        system_alert_ids=request.system_alerts,
        channel=request.channel,
        all_failed=request.all_failed,
        again=request.again,
        now=datetime.now(UTC),
    )
    if app.delivery is not None:
        app.delivery.request()  # the embedded default: send them now, off the request's thread
    return JSONResponse(report.to_json())


@router.get(
    "/system-alerts",
    summary="The service's own troubles (admin): projection_failed, channel_down",
    description="Open system alerts, oldest first; with all=true, resolved ones too.",
    response_model=list[SystemAlertOut],
    responses=refusals(401, 403, 422),
)
def system_alerts(
    include_resolved: bool = Query(False, alias="all", description="resolved ones too"),
    _who: Principal = Depends(administrator),
    app: App = Depends(application),
) -> JSONResponse:
    return JSONResponse(read_system_alerts(app.database, include_resolved=include_resolved))
