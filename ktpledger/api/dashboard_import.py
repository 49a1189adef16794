"""The dashboard's export upload (docs/http-api.md, "Finance forms"): `ktpledger import` from the
browser, in the forms' three steps and with their safe writes (`api/dashboard_forms.py`).

1. `GET  .../record/export-upload`: the form (export file; profile uploaded, or picked from the
   folder KTPLEDGER_IMPORT_PROFILES names; sheet; skip rejected rows).
2. `POST .../record/export-upload/preview` (multipart): planned by `service/imports.plan_import`,
   as `ktpledger import --dry-run` plans it: each row's fate, the totals per line, and the lines'
   before and after (`service/effects.py`) of what would be recorded. The export and the profile's
   text are held in the database (`service/held_uploads.py`); the confirm button carries their digest, signed.
   Nothing is recorded. A refused export or profile shows the form again (422); over 32 MB, 413.
3. `POST .../record/export-upload/confirm`: the stored upload, checked against the signed digest,
   is imported by `service/imports.run_import` (channel `import`, by the token's label and role);
   303 to `GET .../record/export-upload/done/{nonce}`. The row keys are the import's, so a second
   confirmation records nothing new.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from ktpledger.api import form_signing as signing
from ktpledger.api.dashboard import prefix, render, to_login, viewer
from ktpledger.api.dashboard_forms import access_refusal, forbidden_page, page_session, session_of
from ktpledger.api.forms import REGISTRY
from ktpledger.api.forms.export_upload import SLUG
from ktpledger.api.security import application
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.labels import category_label
from ktpledger.service import held_uploads
from ktpledger.service.access import Principal
from ktpledger.service.effects import Effect, effect_of
from ktpledger.service.imports import IMPORTED_TYPES, MAX_EXPORT_BYTES, ImportPlan, plan_import, run_import

router = APIRouter(include_in_schema=False)

FORM = REGISTRY[SLUG]
FIELDS = ("nonce", "issued", "form_csrf", "file", "profile", "profile_name", "sheet", "skip_rejected")
MAX_TEXT_FIELD = 1024
MAX_PROFILE_BYTES = 1_048_576  # a profile is a page of TOML


def path_of(project: str, tail: str = "") -> str:
    return f"/dashboard/projects/{project}/record/{SLUG}{tail}"


def refusal(who: Principal, project: str) -> str | None:
    reason = access_refusal(who, project, FORM)
    if reason is not None:
        return reason
    refused = [event_type for event_type in IMPORTED_TYPES if not who.can_record(event_type)]
    if refused:
        return f"a {who.role.value} token may not record {', '.join(refused)}, which an import makes"
    return None


def server_profiles(app: App) -> dict[str, Path]:
    """The profiles of the folder KTPLEDGER_IMPORT_PROFILES names, by file name (none unset)."""
    where = app.settings.import_profiles
    if not where or not Path(where).is_dir():
        return {}
    return {path.name: path for path in sorted(Path(where).glob("*.toml")) if path.is_file()}


def form_context(
    request: Request,
    app: App,
    who: Principal,
    project: str,
    stamp: signing.Stamp,
    values: dict[str, str],
    error: RuleViolation | None = None,
) -> dict[str, Any]:
    return {
        "who": who,
        "form": FORM,
        "project": project,
        "stamp": stamp,
        "values": values,
        "profiles": list(server_profiles(app)),
        "error": error,
        "error_field": field_of(error),
        "max_mb": MAX_EXPORT_BYTES // 1_048_576,
        "action": prefix(request) + path_of(project),
    }


def field_of(error: RuleViolation | None) -> str | None:
    """The input a refusal belongs to: the export's (`file`, `sheet`), the server profile's pick, or
    else the profile's (a refused profile names its own field, such as `columns.cost_code`)."""
    if error is None or error.field in (None, "project"):
        return None
    return error.field if error.field in ("file", "sheet", "profile_name") else "profile"


@router.get("/dashboard/projects/{project:path}/record/export-upload")
def upload_page(
    request: Request, project: str, who: Principal | None = Depends(viewer), app: App = Depends(application)
) -> Response:
    if who is None:
        return to_login(request)
    session = page_session(request, who, project, refusal(who, project))
    if isinstance(session, HTMLResponse):
        return session
    if not app.ledger.state(project).exists:
        return forbidden_page(request, who, project, f"there is no project {project!r}")
    stamp = signing.issue(session, SLUG, project)
    return render(request, "record_upload.html", form_context(request, app, who, project, stamp, {}))


def _checked(
    request: Request, app: App, project: str, data: Any
) -> tuple[HTMLResponse, None] | tuple[None, tuple[str, Principal, signing.Stamp]]:
    session = session_of(request, app)
    if session is None:
        return forbidden_page(request, None, project, "no dashboard session signed it (sign in again)"), None
    token, who = session
    reason = refusal(who, project)
    if reason is not None:
        return forbidden_page(request, who, project, reason), None
    reason, stamp = signing.refusal_of_stamp(
        request,
        token,
        SLUG,
        project,
        str(data.get("nonce", "")),
        str(data.get("issued", "")),
        str(data.get("form_csrf", "")),
    )
    if reason is not None or stamp is None:
        return forbidden_page(request, who, project, reason or "the form is not valid"), None
    return None, (token, who, stamp)


def too_large(request: Request, who: Principal | None) -> HTMLResponse:
    message = (
        f"The export is over the import's limit of {MAX_EXPORT_BYTES // 1_048_576} MB (as POST /imports). "
        "Nothing was recorded: split it by period and upload each part."
    )
    context = {"who": who, "heading": "Export too large", "message": message}
    return render(request, "problem.html", context, status_code=413)


@router.post("/dashboard/projects/{project:path}/record/export-upload/preview")
async def upload_preview(request: Request, project: str, app: App = Depends(application)) -> Response:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_EXPORT_BYTES + MAX_PROFILE_BYTES + 65536:
        found = session_of(request, app)
        return too_large(request, found[1] if found else None)
    try:
        data = await request.form(max_files=2, max_fields=len(FIELDS))
    except Exception:  # noqa: BLE001 - python-multipart's errors have no common base
        return forbidden_page(request, None, project, "the upload is not a form this page sent")
    try:
        upload: dict[str, Any] = {}
        for name in ("file", "profile"):
            value = data.get(name)
            if isinstance(value, UploadFile) and value.filename:
                limit = MAX_EXPORT_BYTES if name == "file" else MAX_PROFILE_BYTES
                content = await value.read(limit + 1)
                upload[name] = (value.filename, content)
        return await run_in_threadpool(_preview, request, app, project, data, upload)
    finally:
        await data.close()


def text_of(data: Any, name: str) -> str:
    value = data.get(name)
    return value[:MAX_TEXT_FIELD] if isinstance(value, str) else ""


def _preview(request: Request, app: App, project: str, data: Any, upload: dict[str, Any]) -> Response:
    refused, checked = _checked(request, app, project, data)
    if refused is not None or checked is None:
        return refused or Response(status_code=403)
    token, who, stamp = checked
    values = {
        "profile_name": text_of(data, "profile_name"),
        "sheet": text_of(data, "sheet").strip(),
        "skip_rejected": "on" if text_of(data, "skip_rejected") else "",
    }

    def again(error: RuleViolation) -> Response:
        context = form_context(request, app, who, project, stamp, values, error)
        return render(request, "record_upload.html", context, status_code=422)

    if "file" not in upload:
        return again(
            RuleViolation("R-30", "choose the export to upload (a CSV or an XLSX file)", field="file")
        )
    filename, export = upload["file"]
    if len(export) > MAX_EXPORT_BYTES:
        return too_large(request, who)
    try:
        profile_name, profile_text = profile_of(app, upload, values["profile_name"])
    except RuleViolation as error:
        return again(error)
    try:
        plan = plan_import(app.ledger, project, export, filename, profile_text, sheet=values["sheet"] or None)
    except RuleViolation as error:
        return again(error)
    skip = values["skip_rejected"] == "on"
    digest = held_uploads.digest_of(export, profile_text)
    planned = [row.key for row in plan.rows if row.status == "would record"]
    meta = {
        "file": filename,
        "profile": profile_text,
        "profile_name": profile_name,
        "sheet": values["sheet"] or None,
        "digest": digest,
        "planned": planned,
    }
    held_uploads.put(app.database, token, stamp.nonce, export, meta)
    confirmable = bool(planned) and (skip or not plan.rejected)
    payload = signing.encode_values({**values, "digest": digest})
    context = {
        **form_context(request, app, who, project, stamp, values),
        "plan": plan,
        "rows": [row_view(row) for row in plan.rows],
        "totals": [(category_label(total.category.value), total) for total in plan.categories()],
        "effect": effect_or_none(app, project, plan) if confirmable else None,
        "confirmable": confirmable,
        "skip": skip,
        "profile_name": profile_name,
        "payload": payload,
        "signature": signing.sign_payload(token, stamp, SLUG, project, payload),
    }
    return render(request, "record_upload_preview.html", context)


def profile_of(app: App, upload: dict[str, Any], chosen: str) -> tuple[str, str]:
    """The profile's name and text: the uploaded file, else the one picked from the folder."""
    if "profile" in upload:
        name, content = upload["profile"]
        if len(content) > MAX_PROFILE_BYTES:
            raise RuleViolation("R-30", "the profile is over 1 MB: is it the export?", field="profile")
    elif chosen:
        found = server_profiles(app).get(chosen)
        if found is None:
            raise RuleViolation("R-30", f"there is no profile {chosen!r} on the server", field="profile_name")
        name, content = found.name, found.read_bytes()
    else:
        either = ", or pick one of the server's" if server_profiles(app) else ""
        raise RuleViolation("R-30", f"upload the export's profile (a TOML file){either}", field="profile")
    try:
        return name, content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RuleViolation(
            "R-30", f"the profile is not UTF-8 text (byte {error.start}): save it as UTF-8", field="profile"
        ) from None


def effect_or_none(app: App, project: str, plan: ImportPlan) -> Effect | None:
    events = [row.event for row in plan.rows if row.status == "would record" and row.event is not None]
    try:
        return effect_of(app.ledger, project, events)
    except RuleViolation:
        return None  # the plan judged them already; the table of rows says what each does


def row_view(row: Any) -> dict[str, Any]:
    event = row.event or {}
    data = event.get("data", {}) if isinstance(event, dict) else {}
    amount = data.get("amount")
    return {
        "row": row.row,
        "status": row.status,
        "key": row.key,
        "type": event.get("type") if event else None,
        "date": event.get("date") if event else None,
        "line": category_label(row.category.value) if row.category is not None else "",
        "amount": Decimal(amount) if isinstance(amount, str) else None,
        "description": data.get("description") or data.get("reason") or "",
        "rule": row.error.rule if row.error is not None else None,
        "message": row.error.message if row.error is not None else row.reason,
    }


@router.post("/dashboard/projects/{project:path}/record/export-upload/confirm")
async def upload_confirm(request: Request, project: str, app: App = Depends(application)) -> Response:
    try:
        data = await request.form(max_files=0, max_fields=len(FIELDS) + 3)
    except Exception:  # noqa: BLE001 - python-multipart's errors have no common base
        return forbidden_page(request, None, project, "the confirmation is not a form this page sent")
    return await run_in_threadpool(_confirm, request, app, project, data)


def _confirm(request: Request, app: App, project: str, data: Any) -> Response:
    refused, checked = _checked(request, app, project, data)
    if refused is not None or checked is None:
        return refused or Response(status_code=403)
    token, who, stamp = checked
    payload, signature = str(data.get("payload", "")), str(data.get("signature", ""))
    reason = signing.payload_refusal(token, stamp, SLUG, project, payload, signature)
    values = signing.decode_values(payload) if reason is None else None
    if values is None:
        return forbidden_page(request, who, project, reason or "the confirmation's values cannot be read")
    if data.get("action") == "change":
        kept = {name: str(values.get(name, "")) for name in ("profile_name", "sheet", "skip_rejected")}
        context = form_context(request, app, who, project, stamp, kept)
        return render(request, "record_upload.html", context)
    stored = held_uploads.get(app.database, token, stamp.nonce)
    if stored is None:
        return forbidden_page(request, who, project, "the upload has expired or was removed: upload it again")
    meta = stored.meta
    if held_uploads.digest_of(stored.export, meta["profile"]) != values.get("digest"):
        return forbidden_page(request, who, project, "the stored upload is not the one previewed")
    plan = run_import(
        app.ledger,
        project,
        stored.export,
        meta["file"],
        meta["profile"],
        sheet=meta["sheet"],
        skip_rejected=values.get("skip_rejected") == "on",
        recorded_by=who.recorder("import"),
    )
    recorded = [row.key for row in plan.rows if row.status == "recorded"]
    result = {
        "counts": plan.counts(),
        "recorded": recorded,
        "changed": [
            {"row": row.row, "status": row.status, "rule": row.error.rule if row.error else None}
            for row in plan.rows
            if row.key in meta["planned"] and row.status not in ("recorded", "duplicate")
        ],
    }
    first = "result" not in meta
    held_uploads.update(app.database, token, stamp.nonce, {**meta, "result": meta.get("result", result)})
    target = prefix(request) + path_of(project, f"/done/{stamp.nonce}")
    return RedirectResponse(target + ("" if first and recorded else "?already=1"), status_code=303)


@router.get("/dashboard/projects/{project:path}/record/export-upload/done/{nonce}")
def upload_done(
    request: Request,
    project: str,
    nonce: str,
    who: Principal | None = Depends(viewer),
    app: App = Depends(application),
) -> Response:
    if who is None:
        return to_login(request)
    session = page_session(request, who, project, refusal(who, project))
    if isinstance(session, HTMLResponse):
        return session
    stored = held_uploads.get(app.database, session, nonce)
    result = stored.meta.get("result") if stored is not None else None
    context = {
        "who": who,
        "form": FORM,
        "project": project,
        "file": stored.meta["file"] if stored is not None else None,
        "result": result,
        "already": request.query_params.get("already") == "1",
    }
    return render(request, "record_upload_done.html", context)
