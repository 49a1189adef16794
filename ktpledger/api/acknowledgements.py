"""`POST /alerts/{alert_id}/acknowledgement` (R-39): an alert acknowledged with a note, by a token of
role lmc, finance or admin granted the alert's project; `service/acknowledgements.py` does the work,
as for `ktpledger acknowledge`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ktpledger.api.admin import MAX_ID
from ktpledger.api.errors import ApiError, error_body, forbidden
from ktpledger.api.openapi import TEXT
from ktpledger.api.routes import refusals
from ktpledger.api.schemas import AcknowledgementOut
from ktpledger.api.security import application, principal
from ktpledger.bootstrap import App
from ktpledger.domain.events import AlertAcknowledged
from ktpledger.service.access import Principal
from ktpledger.service.acknowledgements import UnknownAlert, acknowledge, find_alert

router = APIRouter(tags=["alerts"])


def _note_as_text(schema: dict[str, Any]) -> None:
    """The note's schema is the server's rule for free text (`openapi.TEXT`)."""
    schema["properties"]["note"] = {**TEXT, "description": "what is being done about the alert"}


class AcknowledgementIn(BaseModel):
    """The body: the note (free text, as any event's text: R-39)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_note_as_text)

    note: str = Field(description="what is being done about the alert")


@router.post(
    "/alerts/{alert_id}/acknowledgement",
    summary="Acknowledge an alert with a note (R-39): lmc, finance or admin",
    description="Records an `AlertAcknowledged` event (docs/events.md) naming the alert of that id "
    "(the `id` of `GET /alerts`) by its project, category, kind, subject and raise, dated today, "
    "recorded by the token. A resolved alert may be acknowledged; an alert is acknowledged once (a "
    "second time: 422, R-39). An unknown id, or an alert of a project the token was not granted: "
    "404 (R-39). A viewer token: 403.",
    response_model=AcknowledgementOut,
    responses=refusals(401, 403, 404, 422, 503),
)
def acknowledgement(
    alert_id: int = Path(ge=1, le=MAX_ID, description="the alert's id, as `GET /alerts` gives it"),
    request: AcknowledgementIn = Body(...),
    who: Principal = Depends(principal),
    app: App = Depends(application),
) -> JSONResponse:
    if not who.can_record(AlertAcknowledged.TYPE):
        raise forbidden(f"a {who.role.value} token may not acknowledge alerts: lmc, finance or admin")
    try:
        alert = find_alert(app.ledger, alert_id)
        if not who.can_read(alert.project):
            raise forbidden(f"this token was not granted project {alert.project!r}")
        done = acknowledge(
            app.ledger,
            alert_id,
            request.note,
            who.recorder("api"),
            on=app.settings.reading_day(None),
        )
    except UnknownAlert as error:
        raise ApiError(404, error.rule, error.message) from None
    if done.result.version is None:  # pragma: no cover - `acknowledge` raises when not recorded
        return JSONResponse(error_body("R-39", "nothing was recorded"), status_code=422)
    return JSONResponse(
        {
            "status": "recorded",
            "project": alert.project,
            "version": done.result.version,
            "alert": done.alert.to_json(),
        }
    )
