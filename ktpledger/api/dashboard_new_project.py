"""The dashboard's new-project form (`api/forms/new_project.py`): a project's `GrantOffered` from
its costing, in the same three steps and with the same safe writes as the forms of a project
(`api/dashboard_forms.py`), but not under a project, as the project is what it makes:

- `GET  /dashboard/record/new-project`: the form;
- `POST /dashboard/record/new-project/preview`: the offer built and checked (a reference in use is
  refused by its field, R-31), and its lines shown; nothing recorded;
- `POST /dashboard/record/new-project/confirm`: recorded with the key `dashboard:NONCE`; 303 to
- `GET  /dashboard/record/new-project/done/{nonce}?project=REF`.

Only an admin token of every project may use it (a token limited to some projects cannot make
another). The form's MACs are bound to the form and to no project (the reference is in the
signed values).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ktpledger.api import form_signing as signing
from ktpledger.api.dashboard import prefix, render, to_login, viewer
from ktpledger.api.dashboard_forms import (
    forbidden_page,
    form_context,
    form_values,
    key_of,
    page_session,
    session_of,
    shown_values,
)
from ktpledger.api.forms.base import Values, text
from ktpledger.api.forms.new_project import FIELD_OF_RULE, FORM
from ktpledger.api.security import application, is_reference
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.project import ProjectState
from ktpledger.service.access import Principal
from ktpledger.service.effects import effect_of

router = APIRouter(include_in_schema=False)
PATH = "/dashboard/record/new-project"
SCOPE = ""  # the project the form's MACs are bound to: none


def refusal(who: Principal) -> str | None:
    if not who.can_record(FORM.event_type):
        return f"a {who.role.value} token may not record {FORM.event_type}"
    if who.projects is not None:
        return "a token limited to some projects may not make another"
    return None


def _context(
    request: Request, who: Principal, stamp: signing.Stamp, values: Values, error: RuleViolation | None = None
) -> dict[str, Any]:
    if error is not None and FORM.field_named(error.field) is None:
        error = RuleViolation(error.rule, error.message, field=FIELD_OF_RULE.get(error.rule, error.field))
    context = form_context(request, who, FORM, "", ProjectState(project=""), stamp, values, error)
    return {**context, "action": f"{prefix(request)}{PATH}", "new_project": True}


def _events(app: App, nonce: str, values: Values) -> list[dict[str, object]]:
    """The offer with its key; a reference in use or not a reference is refused by its field."""
    reference = text(values, "project").strip()
    if not is_reference(reference):
        raise RuleViolation(
            "R-31",
            f"{reference!r} is not a project reference: 1-64 letters, digits and ._/-",
            field="project",
        )
    if app.ledger.state(reference).exists:
        raise RuleViolation(
            "R-31",
            f"project {reference} already has a grant offer: choose a new reference, or amend its offer (R-37)",
            field="project",
        )
    return [{**event, "key": key_of(nonce, 1, 1)} for event in FORM.build(reference, values)]


@router.get(PATH)
def form_page(request: Request, who: Principal | None = Depends(viewer)) -> Response:
    if who is None:
        return to_login(request)
    session = page_session(request, who, "", refusal(who))
    if isinstance(session, HTMLResponse):
        return session
    stamp = signing.issue(session, FORM.slug, SCOPE)
    return render(
        request, "record_form.html", _context(request, who, stamp, FORM.defaults(ProjectState(project="")))
    )


def _checked(
    request: Request, app: App, data: Any
) -> tuple[HTMLResponse, None] | tuple[None, tuple[str, Principal, signing.Stamp]]:
    session = session_of(request, app)
    if session is None:
        return forbidden_page(request, None, "", "no dashboard session signed it (sign in again)"), None
    token, who = session
    reason = refusal(who)
    if reason is None:
        reason, stamp = signing.refusal_of_stamp(
            request,
            token,
            FORM.slug,
            SCOPE,
            str(data.get("nonce", "")),
            str(data.get("issued", "")),
            str(data.get("form_csrf", "")),
        )
        if reason is None and stamp is not None:
            return None, (token, who, stamp)
    return forbidden_page(request, who, "", reason or "the form is not valid"), None


def _preview(request: Request, app: App, data: Any) -> Response:
    refused, checked = _checked(request, app, data)
    if refused is not None or checked is None:
        return refused or Response(status_code=403)
    token, who, stamp = checked
    values = form_values(FORM, ProjectState(project=""), data)
    try:
        submissions = _events(app, stamp.nonce, values)
        effect = effect_of(app.ledger, text(values, "project").strip(), submissions)
    except RuleViolation as error:
        return render(
            request, "record_form.html", _context(request, who, stamp, values, error), status_code=422
        )
    payload = signing.encode_values(values)
    context = {
        **_context(request, who, stamp, values),
        "project": text(values, "project").strip(),
        "effect": effect,
        "payload": payload,
        "signature": signing.sign_payload(token, stamp, FORM.slug, SCOPE, payload),
        "shown": shown_values(FORM, values, ProjectState(project="")),
    }
    return render(request, "record_preview.html", context)


def _confirm(request: Request, app: App, data: Any) -> Response:
    refused, checked = _checked(request, app, data)
    if refused is not None or checked is None:
        return refused or Response(status_code=403)
    token, who, stamp = checked
    payload, signature = str(data.get("payload", "")), str(data.get("signature", ""))
    reason = signing.payload_refusal(token, stamp, FORM.slug, SCOPE, payload, signature)
    values = signing.decode_values(payload) if reason is None else None
    if values is None:
        return forbidden_page(request, who, "", reason or "the confirmation's values cannot be read")
    if data.get("action") == "change":
        return render(request, "record_form.html", _context(request, who, stamp, values))
    reference = text(values, "project").strip()
    target = f"{prefix(request)}{PATH}/done/{stamp.nonce}?project={reference}"
    if key_of(stamp.nonce, 1, 1) in app.ledger.state(reference).keys:
        return RedirectResponse(target + "&already=1", status_code=303)  # a double confirm
    try:
        submissions = _events(app, stamp.nonce, values)
    except RuleViolation as error:
        return render(
            request, "record_form.html", _context(request, who, stamp, values, error), status_code=422
        )
    results = app.ledger.append(submissions, recorded_by=who.recorder("dashboard"))
    rejected = next((result.error for result in results if result.error is not None), None)
    if rejected is not None:
        return render(
            request, "record_form.html", _context(request, who, stamp, values, rejected), status_code=422
        )
    already = all(result.status == "duplicate" for result in results)
    return RedirectResponse(target + ("&already=1" if already else ""), status_code=303)


@router.get(PATH + "/done/{nonce}")
def done_page(
    request: Request, nonce: str, who: Principal | None = Depends(viewer), app: App = Depends(application)
) -> Response:
    if who is None:
        return to_login(request)
    reference = request.query_params.get("project", "")
    reason = refusal(who) or (None if is_reference(reference) else "there is no such project")
    if reason is not None:
        return forbidden_page(request, who, reference, reason)
    state = app.ledger.state(reference)
    key = key_of(nonce, 1, 1)
    recorded = [(key, event.type, event.date) for found, (event, _v) in state.keys.items() if found == key]
    context = {
        "who": who,
        "form": FORM,
        "project": reference,
        "recorded": recorded,
        "already": request.query_params.get("already") == "1",
    }
    return render(request, "record_done.html", context)


@router.post(PATH + "/preview")
async def preview(request: Request, app: App = Depends(application)) -> Response:
    data = await request.form()
    return await run_in_threadpool(_preview, request, app, data)


@router.post(PATH + "/confirm")
async def confirm(request: Request, app: App = Depends(application)) -> Response:
    data = await request.form()
    return await run_in_threadpool(_confirm, request, app, data)
