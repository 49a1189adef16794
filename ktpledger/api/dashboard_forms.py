"""The dashboard's forms: record events from the browser, through the same ledger as the API.

Every form (`api/forms/`) runs the same three steps:

1. `GET  /dashboard/projects/{project}/record/{form}`: the form, with a new nonce and its
   session-bound CSRF token (`api/form_signing.py`).
2. `POST .../record/{form}/preview`: the values are turned into events and checked on a copy of
   the project's state (`service/effects.py`); a refusal is shown by its field with its rule
   (R-nn) and the typed values kept; else the effect (the lines before and after) and a confirm
   button carrying the values, signed. Nothing is recorded.
3. `POST .../record/{form}/confirm`: the signature is checked, the events are appended
   (`app.ledger.append`, recorded by the token's label and role on channel `dashboard`), with keys
   from the nonce, so a second confirm records nothing; then 303 to the result page,
   `GET .../record/{form}/done/{nonce}`, which reads what was recorded from the ledger. The same
   POST with `action=change` returns the form with the values kept.

Writes take the session from the `ktpledger_token` cookie (never a bearer header), and each is
refused, with a 403 page that says why and a warning logged, when it is not from this site, lacks
this session's form token, is over 12 hours old, carries a changed payload, or comes from a role or
token that may not record the form's event for the project.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ktpledger.api import form_signing as signing
from ktpledger.api.dashboard import prefix, render, to_login, viewer
from ktpledger.api.forms import REGISTRY, FormDefinition
from ktpledger.api.forms.base import Values
from ktpledger.api.security import COOKIE, application, is_reference
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.project import ProjectState
from ktpledger.service.access import Principal, authenticate
from ktpledger.service.effects import effect_of

router = APIRouter(include_in_schema=False)


def key_of(nonce: str, number: int, count: int) -> str:
    """The idempotency key of a form's `number`th event (from 1) of `count`."""
    return f"dashboard:{nonce}" if count == 1 else f"dashboard:{nonce}:{number}"


def submissions_of(
    form: FormDefinition, state: ProjectState, project: str, nonce: str, values: Values
) -> list[dict[str, object]]:
    built = form.events(state, project, values)
    return [
        {**event, "key": key_of(nonce, number, len(built))} for number, event in enumerate(built, start=1)
    ]


def forbidden_page(request: Request, who: Principal | None, project: str, reason: str) -> HTMLResponse:
    """The 403 page of a refused write: it says why; the refusal is logged."""
    signing.log_refusal(request, who, project, reason)
    message = f"This form was refused because {reason}. Nothing was recorded."
    context = {"who": who, "heading": "Form refused", "message": message}
    return render(request, "problem.html", context, status_code=403)


def access_refusal(who: Principal, project: str, form: FormDefinition | None) -> str | None:
    """Why `who` may not use `form` on `project` (the role, then the project grant), or None."""
    if form is None:
        return "there is no such form"
    if not who.can_record(form.event_type):
        return f"a {who.role.value} token may not record {form.event_type}"
    if not who.can_read(project) or not is_reference(project):
        return f"this token was not granted project {project!r}"
    return None


def page_session(request: Request, who: Principal, project: str, reason: str | None) -> str | HTMLResponse:
    """The dashboard session a form's page is made for (its tokens are bound to it), or the 403
    page refusing it: `reason` (the role's or the grant's refusal) first, else a page asked for
    without the session cookie (a bearer token alone)."""
    session = request.cookies.get(COOKIE)
    if reason is None and not session:
        reason = "forms are used from a signed-in dashboard session"
    if reason is not None or not session:
        return forbidden_page(request, who, project, reason or "there is no session")
    return session


def session_of(request: Request, app: App) -> tuple[str, Principal] | None:
    """The dashboard session of a write: the cookie's token and its principal (never a bearer)."""
    token = request.cookies.get(COOKIE)
    found = authenticate(app.database, token) if token else None
    return None if found is None or token is None else (token, found)


def form_values(form: FormDefinition, state: ProjectState, data: Any) -> dict[str, str | tuple[str, ...]]:
    """The form's fields from the posted form data (each field as its kind reads it)."""
    values: dict[str, str | tuple[str, ...]] = {}
    for field in form.fields_of(state):
        if field.multiple:
            values[field.name] = tuple(str(item) for item in data.getlist(field.name))
        else:
            values[field.name] = str(data.get(field.name, ""))
    return values


def form_context(
    request: Request,
    who: Principal,
    form: FormDefinition,
    project: str,
    state: ProjectState,
    stamp: signing.Stamp,
    values: Values,
    error: RuleViolation | None = None,
) -> dict[str, Any]:
    field = form.field_named(error.field, state) if error is not None else None
    fields = form.fields_of(state)
    return {
        "who": who,
        "form": form,
        "project": project,
        "stamp": stamp,
        "values": values,
        "fields": fields,
        "choices": {f.name: f.choices(state) for f in fields if f.choices is not None},
        "error": error,
        "error_field": field.name if field is not None else None,
        "action": f"{prefix(request)}/dashboard/projects/{project}/record/{form.slug}",
    }


@router.get("/dashboard/projects/{project:path}/record/{slug}/done/{nonce}")
def done_page(
    request: Request,
    project: str,
    slug: str,
    nonce: str,
    who: Principal | None = Depends(viewer),
    app: App = Depends(application),
) -> Response:
    """What a confirmed form recorded, read back from the ledger by the nonce's keys."""
    if who is None:
        return to_login(request)
    form = REGISTRY.get(slug)
    reason = access_refusal(who, project, form)
    if reason is not None or form is None:
        return forbidden_page(request, who, project, reason or "there is no such form")
    state = app.ledger.state(project)
    recorded = [
        (key, event)
        for key, (event, _version) in state.keys.items()
        if key == f"dashboard:{nonce}" or key.startswith(f"dashboard:{nonce}:")
    ]
    context = {
        "who": who,
        "form": form,
        "project": project,
        "recorded": [(key, event.type, event.date) for key, event in recorded],
        "already": request.query_params.get("already") == "1",
    }
    return render(request, "record_done.html", context)


@router.get("/dashboard/projects/{project:path}/record/{slug}")
def form_page(
    request: Request,
    project: str,
    slug: str,
    who: Principal | None = Depends(viewer),
    app: App = Depends(application),
) -> Response:
    if who is None:
        return to_login(request)
    form = REGISTRY.get(slug)
    session = page_session(request, who, project, access_refusal(who, project, form))
    if isinstance(session, HTMLResponse):
        return session
    assert form is not None  # access_refusal refused an unknown form
    state = app.ledger.state(project)
    if not state.exists:
        return forbidden_page(request, who, project, f"there is no project {project!r}")
    stamp = signing.issue(session, form.slug, project)
    context = form_context(request, who, form, project, state, stamp, form.defaults(state))
    return render(request, "record_form.html", context)


def _checked_write(
    request: Request, app: App, project: str, slug: str, data: Any
) -> tuple[HTMLResponse, None] | tuple[None, tuple[str, Principal, FormDefinition, signing.Stamp]]:
    """The session, form and stamp of a write, or the 403 page that refuses it."""
    session = session_of(request, app)
    if session is None:
        return forbidden_page(request, None, project, "no dashboard session signed it (sign in again)"), None
    token, who = session
    form = REGISTRY.get(slug)
    reason = access_refusal(who, project, form)
    if reason is not None or form is None:
        return forbidden_page(request, who, project, reason or "there is no such form"), None
    reason, stamp = signing.refusal_of_stamp(
        request,
        token,
        form.slug,
        project,
        str(data.get("nonce", "")),
        str(data.get("issued", "")),
        str(data.get("form_csrf", "")),
    )
    if reason is not None or stamp is None:
        return forbidden_page(request, who, project, reason or "the form is not valid"), None
    return None, (token, who, form, stamp)


def _preview(request: Request, app: App, project: str, slug: str, data: Any) -> Response:
    refused, checked = _checked_write(request, app, project, slug, data)
    if refused is not None or checked is None:
        return refused or Response(status_code=403)
    token, who, form, stamp = checked
    values = form_values(form, app.ledger.state(project), data)
    return preview_response(request, app, token, who, form, project, stamp, values)


def preview_response(
    request: Request,
    app: App,
    token: str,
    who: Principal,
    form: FormDefinition,
    project: str,
    stamp: signing.Stamp,
    values: Values,
) -> Response:
    state = app.ledger.state(project)
    try:
        effect = effect_of(app.ledger, project, submissions_of(form, state, project, stamp.nonce, values))
    except RuleViolation as error:
        context = form_context(request, who, form, project, state, stamp, values, error)
        return render(request, "record_form.html", context, status_code=422)
    payload = signing.encode_values(values)
    context = {
        **form_context(request, who, form, project, state, stamp, values),
        "effect": effect,
        "payload": payload,
        "signature": signing.sign_payload(token, stamp, form.slug, project, payload),
        "shown": shown_values(form, values, state),
    }
    return render(request, "record_preview.html", context)


def shown_values(form: FormDefinition, values: Values, state: ProjectState) -> list[tuple[str, str]]:
    """Each field's label and what was typed or chosen, as people read it."""
    rows = []
    for field in form.fields_of(state):
        value = values.get(field.name, "")
        picked = [value] if isinstance(value, str) else list(value)
        if field.choices is not None:
            names = {choice.value: choice.label for choice in field.choices(state)}
            picked = [names.get(item, item) for item in picked]
        rows.append((field.label, ", ".join(item for item in picked if item) or field.blank))
    return rows


def _confirm(request: Request, app: App, project: str, slug: str, data: Any) -> Response:
    refused, checked = _checked_write(request, app, project, slug, data)
    if refused is not None or checked is None:
        return refused or Response(status_code=403)
    token, who, form, stamp = checked
    payload, signature = str(data.get("payload", "")), str(data.get("signature", ""))
    reason = signing.payload_refusal(token, stamp, form.slug, project, payload, signature)
    values = signing.decode_values(payload) if reason is None else None
    if values is None:
        return forbidden_page(request, who, project, reason or "the confirmation's values cannot be read")
    state = app.ledger.state(project)
    if data.get("action") == "change":
        context = form_context(request, who, form, project, state, stamp, values)
        return render(request, "record_form.html", context)
    target = f"{prefix(request)}/dashboard/projects/{project}/record/{form.slug}/done/{stamp.nonce}"
    if key_of(stamp.nonce, 1, 1) in state.keys or key_of(stamp.nonce, 1, 2) in state.keys:
        # Confirmed before (a double click): nothing new, whatever the form would build now from
        # the state its own events changed (a budget revision names the lines that differ).
        return RedirectResponse(target + "?already=1", status_code=303)
    submissions = submissions_of(form, state, project, stamp.nonce, values)
    if any(event.get("type") != form.event_type or event.get("project") != project for event in submissions):
        return forbidden_page(request, who, project, f"the form built events other than {form.event_type}")
    results = app.ledger.append(submissions, recorded_by=who.recorder("dashboard"))
    rejected = next((result.error for result in results if result.error is not None), None)
    if rejected is not None:
        state = app.ledger.state(project)
        context = form_context(request, who, form, project, state, stamp, values, rejected)
        return render(request, "record_form.html", context, status_code=422)
    already = all(result.status == "duplicate" for result in results)
    return RedirectResponse(target + ("?already=1" if already else ""), status_code=303)


@router.post("/dashboard/projects/{project:path}/record/{slug}/preview")
async def preview(request: Request, project: str, slug: str, app: App = Depends(application)) -> Response:
    data = await request.form()
    return await run_in_threadpool(_preview, request, app, project, slug, data)


@router.post("/dashboard/projects/{project:path}/record/{slug}/confirm")
async def confirm(request: Request, project: str, slug: str, app: App = Depends(application)) -> Response:
    data = await request.form()
    return await run_in_threadpool(_confirm, request, app, project, slug, data)
