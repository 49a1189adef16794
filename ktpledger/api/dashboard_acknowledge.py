"""The dashboard's form to acknowledge an alert with a note (R-39), in the same three steps and with
the same safe writes as the forms of a project (`api/dashboard_forms.py`), but of an alert of the
alerts read model (not of the project's state, which `FormDefinition` reads):

- `GET  /dashboard/projects/{project}/alerts/{alert_id}/acknowledge`: the alert (its sentence and
  dates) and a note field;
- `POST .../acknowledge/preview`: checked as `acknowledge()` would (an empty or too long note, an
  alert acknowledged already: R-39, inline with the note kept); nothing recorded;
- `POST .../acknowledge/confirm`: recorded by `service.acknowledgements.acknowledge` (the one use
  case of `ktpledger acknowledge` and `POST /alerts/{id}/acknowledgement`) with the key
  `dashboard:NONCE`, by the token's label and role on channel `dashboard`; 303 to
- `GET  .../acknowledge/done/{nonce}`, which reads what was recorded from the ledger.

A second confirm records nothing: its key is found recorded ("already recorded"), or R-39 refuses
a second acknowledgement. Every POST checks the session, the role (lmc, finance, admin), the
project grant, the form's CSRF token (bound to the project and the alert) and its age, and the
preview's signed note; a refusal is a 403 page and a warning on the security log.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ktpledger.api import form_signing as signing
from ktpledger.api.dashboard import prefix, render, to_login, viewer
from ktpledger.api.dashboard_forms import forbidden_page, key_of, page_session, session_of
from ktpledger.api.forms.base import Values, text
from ktpledger.api.security import application, is_reference
from ktpledger.bootstrap import App
from ktpledger.domain.alert_views import ShownAlert
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import AlertAcknowledged
from ktpledger.service.access import Principal
from ktpledger.service.acknowledgements import UnknownAlert, acknowledge, checked, find_alert
from ktpledger.service.alert_reader import presented
from ktpledger.service.projection_views import alert_json

router = APIRouter(include_in_schema=False)
PATH = "/dashboard/projects/{project:path}/alerts/{alert_id}/acknowledge"
SLUG = "acknowledge"
MAX_ALERT_ID = 2**63 - 1


def scope(project: str, alert_id: int) -> str:
    """What the form's MACs are bound to: the project and the alert."""
    return f"{project}#alert-{alert_id}"


def action_of(request: Request, project: str, alert_id: int) -> str:
    return f"{prefix(request)}/dashboard/projects/{project}/alerts/{alert_id}/acknowledge"


def refusal(who: Principal, project: str) -> str | None:
    """Why `who` may not acknowledge alerts of `project` (the role, then the grant), or None."""
    if not who.can_record(AlertAcknowledged.TYPE):
        return f"a {who.role.value} token may not acknowledge alerts: lmc, finance or admin"
    if not who.can_read(project) or not is_reference(project):
        return f"this token was not granted project {project!r}"
    return None


def shown_alert(app: App, project: str, alert_id: int) -> ShownAlert | None:
    """The alert of `alert_id` as readers show it, when it is one of `project`'s."""
    if not 1 <= alert_id <= MAX_ALERT_ID:
        return None
    try:
        record = find_alert(app.ledger, alert_id)
    except UnknownAlert:
        return None
    if record.project != project:
        return None
    [alert] = presented(app.database, [alert_json(record)], today=app.settings.reading_day(None))
    return alert


def not_found(request: Request, who: Principal, project: str, alert_id: str) -> HTMLResponse:
    message = (
        f"Project {project} has no alert {alert_id}. Nothing was recorded. "
        "Its open and acknowledged alerts are listed on the project's page."
    )
    context = {"who": who, "heading": "No such alert", "message": message}
    return render(request, "problem.html", context, status_code=404)


def _context(
    request: Request,
    app: App,
    who: Principal,
    project: str,
    alert: ShownAlert,
    stamp: signing.Stamp,
    values: Values,
    error: RuleViolation | None = None,
) -> dict[str, Any]:
    on: date = app.settings.reading_day(None)
    recorder = who.recorder("dashboard")
    return {
        "who": who,
        "project": project,
        "alert": alert,
        "stamp": stamp,
        "note": text(values, "note"),
        "error": error,
        "error_field": "note" if error is not None and error.field in ("note", None, "") else None,
        "action": action_of(request, project, alert.id or 0),
        "by": recorder,
        "on": on,
    }


def _alert_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) <= 19 else None


@router.get(PATH)
def form_page(
    request: Request,
    project: str,
    alert_id: str,
    who: Principal | None = Depends(viewer),
    app: App = Depends(application),
) -> Response:
    if who is None:
        return to_login(request)
    session = page_session(request, who, project, refusal(who, project))
    if isinstance(session, HTMLResponse):
        return session
    number = _alert_id(alert_id)
    alert = shown_alert(app, project, number) if number is not None else None
    if alert is None or number is None:
        return not_found(request, who, project, alert_id)
    stamp = signing.issue(session, SLUG, scope(project, number))
    context = {**_context(request, app, who, project, alert, stamp, {}), "step": "form"}
    return render(request, "record_acknowledge.html", context)


def _checked(
    request: Request, app: App, project: str, alert_id: str, data: Any
) -> tuple[Response, None] | tuple[None, tuple[str, Principal, signing.Stamp, ShownAlert]]:
    """The session, stamp and alert of a write, or the page that refuses it (403, or 404 for an
    alert the project does not have)."""
    session = session_of(request, app)
    if session is None:
        return forbidden_page(request, None, project, "no dashboard session signed it (sign in again)"), None
    token, who = session
    reason = refusal(who, project)
    if reason is not None:
        return forbidden_page(request, who, project, reason), None
    number = _alert_id(alert_id)
    alert = shown_alert(app, project, number) if number is not None else None
    if alert is None or number is None:
        return not_found(request, who, project, alert_id), None
    reason, stamp = signing.refusal_of_stamp(
        request,
        token,
        SLUG,
        scope(project, number),
        str(data.get("nonce", "")),
        str(data.get("issued", "")),
        str(data.get("form_csrf", "")),
    )
    if reason is not None or stamp is None:
        return forbidden_page(request, who, project, reason or "the form is not valid"), None
    return None, (token, who, stamp, alert)


def _refused(
    request: Request,
    app: App,
    who: Principal,
    project: str,
    alert: ShownAlert,
    stamp: signing.Stamp,
    values: Values,
    error: RuleViolation,
) -> Response:
    context = {**_context(request, app, who, project, alert, stamp, values, error), "step": "form"}
    return render(request, "record_acknowledge.html", context, status_code=422)


def _preview(request: Request, app: App, project: str, alert_id: str, data: Any) -> Response:
    refused, found = _checked(request, app, project, alert_id, data)
    if refused is not None or found is None:
        return refused or Response(status_code=403)
    token, who, stamp, alert = found
    values: Values = {"note": str(data.get("note", ""))}
    number = alert.id or 0
    try:
        checked(app.ledger, number, text(values, "note"), on=app.settings.reading_day(None), project=project)
    except RuleViolation as error:
        return _refused(request, app, who, project, alert, stamp, values, error)
    payload = signing.encode_values(values)
    context = {
        **_context(request, app, who, project, alert, stamp, values),
        "step": "preview",
        "payload": payload,
        "signature": signing.sign_payload(token, stamp, SLUG, scope(project, number), payload),
    }
    return render(request, "record_acknowledge.html", context)


def _confirm(request: Request, app: App, project: str, alert_id: str, data: Any) -> Response:
    refused, found = _checked(request, app, project, alert_id, data)
    if refused is not None or found is None:
        return refused or Response(status_code=403)
    token, who, stamp, alert = found
    number = alert.id or 0
    payload, signature = str(data.get("payload", "")), str(data.get("signature", ""))
    reason = signing.payload_refusal(token, stamp, SLUG, scope(project, number), payload, signature)
    values = signing.decode_values(payload) if reason is None else None
    if values is None:
        return forbidden_page(request, who, project, reason or "the confirmation's values cannot be read")
    if data.get("action") == "change":
        context = {**_context(request, app, who, project, alert, stamp, values), "step": "form"}
        return render(request, "record_acknowledge.html", context)
    key = key_of(stamp.nonce, 1, 1)
    target = f"{action_of(request, project, number)}/done/{stamp.nonce}"
    if key in app.ledger.state(project).keys:
        return RedirectResponse(target + "?already=1", status_code=303)  # a double confirm
    try:
        done = acknowledge(
            app.ledger,
            number,
            text(values, "note"),
            who.recorder("dashboard"),
            on=app.settings.reading_day(None),
            project=project,
            key=key,
        )
    except RuleViolation as error:
        if key in app.ledger.state(project).keys:  # the other confirm of a double click won the race
            return RedirectResponse(target + "?already=1", status_code=303)
        return _refused(request, app, who, project, alert, stamp, values, error)
    already = done.result.status == "duplicate"
    return RedirectResponse(target + ("?already=1" if already else ""), status_code=303)


@router.get(PATH + "/done/{nonce}")
def done_page(
    request: Request,
    project: str,
    alert_id: str,
    nonce: str,
    who: Principal | None = Depends(viewer),
    app: App = Depends(application),
) -> Response:
    """What a confirmed acknowledgement recorded, read back from the ledger by the nonce's key."""
    if who is None:
        return to_login(request)
    reason = refusal(who, project)
    if reason is not None:
        return forbidden_page(request, who, project, reason)
    number = _alert_id(alert_id)
    alert = shown_alert(app, project, number) if number is not None else None
    if alert is None:
        return not_found(request, who, project, alert_id)
    key = key_of(nonce, 1, 1)
    found = app.ledger.state(project).keys.get(key)
    recorded = [] if found is None else [(key, found[0].type, found[0].date)]
    context = {
        "who": who,
        "project": project,
        "alert": alert,
        "step": "done",
        "recorded": recorded,
        "already": request.query_params.get("already") == "1",
    }
    return render(request, "record_acknowledge.html", context)


@router.post(PATH + "/preview")
async def preview(request: Request, project: str, alert_id: str, app: App = Depends(application)) -> Response:
    data = await request.form()
    return await run_in_threadpool(_preview, request, app, project, alert_id, data)


@router.post(PATH + "/confirm")
async def confirm(request: Request, project: str, alert_id: str, app: App = Depends(application)) -> Response:
    data = await request.form()
    return await run_in_threadpool(_confirm, request, app, project, alert_id, data)
