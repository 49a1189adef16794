"""`POST /imports`: a finance system's export and its profile, uploaded, previewed or recorded.

The HTTP twin of `ktpledger import` (docs/cli.md#ktpledger-import): the same planning function
(`service/imports.py`), the same JSON document as `ktpledger import --format json`, the same
fates per row. A multipart form, because the export is a file (a CSV or an XLSX) and the profile
is another (TOML); `dry_run` previews and records nothing.

Who may import: the rows of an export become `SpendClaimed`, `ClaimReversed`, `ParentalLeaveCost`
and `GrantPayment` events, so a token that may record all four (admin, finance) for the project.
The form is read inside the body budget (api/limits.py), as `POST /events` bodies are: an export
is parsed in memory, several times its size at the worst.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, UploadFile

from ktpledger.api.errors import ApiError, forbidden
from ktpledger.api.limits import body_share
from ktpledger.api.routes import ERROR_SCHEMA, refusals
from ktpledger.api.security import application, check_read, principal
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.service.access import Principal
from ktpledger.service.imports import IMPORTED_TYPES, plan_import, run_import

router = APIRouter()

FIELDS = ("project", "file", "profile", "dry_run", "skip_rejected", "sheet")
TRUE, FALSE = frozenset({"true", "1", "yes", "on"}), frozenset({"false", "0", "no", "off", ""})
MAX_TEXT_FIELD = 1024  # project, sheet and the flags are short; the profile may be a file instead

ROW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "row": {
            "type": "integer",
            "description": "the row's number as the user sees it (CSV line, sheet row)",
        },
        "status": {
            "type": "string",
            "enum": ["would record", "recorded", "duplicate", "rejected", "skipped"],
        },
        "key": {"type": ["string", "null"]},
        "event": {
            "type": ["object", "null"],
            "description": "the event the row becomes, as `record` takes it",
        },
        "error": {
            "type": "object",
            "properties": {
                "rule": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        },
        "reason": {"type": "string", "description": "why a row was skipped"},
        "source": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["row", "status", "key", "event", "source"],
}
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "project": {"type": "string"},
        "file": {"type": "string"},
        "profile": {"type": "string"},
        "dry_run": {"type": "boolean"},
        "recorded_anything": {"type": "boolean"},
        "rows": {"type": "array", "items": ROW_SCHEMA},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "categories": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "category": {"type": "string"},
                    "claimed": {"type": "string"},
                    "reversed": {"type": "string"},
                    "net": {"type": "string"},
                },
            },
        },
        "parental_leave": {"type": "string"},
        "grant_payments": {"type": "string"},
    },
    "required": ["project", "file", "profile", "dry_run", "rows", "counts", "categories"],
}
FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "project": {"type": "string", "description": "the project the rows are for", "example": "KTP-0042"},
        "file": {"type": "string", "format": "binary", "description": "the export: CSV or XLSX"},
        "profile": {
            "type": "string",
            "format": "binary",
            "description": "the import profile (TOML, docs/cli.md#ktpledger-import): a file or its text",
        },
        "dry_run": {
            "type": "string",
            "enum": ["true", "false"],
            "default": "false",
            "description": "true: the preview only, nothing recorded",
        },
        "skip_rejected": {
            "type": "string",
            "enum": ["true", "false"],
            "default": "false",
            "description": "true: record the other rows when some are rejected (else nothing is recorded)",
        },
        "sheet": {
            "type": "string",
            "description": "XLSX: the sheet to read (default: the profile's, or the first)",
        },
    },
    "required": ["project", "file", "profile"],
    "additionalProperties": False,
}


@router.post(
    "/imports",
    tags=["ledger"],
    summary="Import a finance system's export (CSV or XLSX) with its profile; dry_run previews",
    description=(
        "`ktpledger import` over HTTP: a multipart form with `project`, `file` (the export), "
        "`profile` (its TOML profile, a file or text), and optionally `dry_run`, `skip_rejected` "
        "and `sheet`. The response is the import's document, as `ktpledger import --format json`: "
        "every row with its fate (`would record` or `recorded`, `duplicate`, `rejected` with the "
        "rule, `skipped` with the reason), the counts, and the totals per category it adds. "
        "Status 200 when no row was rejected; 422 when some was (then nothing is recorded unless "
        "`skip_rejected` is true). An export or profile refused as a whole (a bad profile, an "
        "unreadable file, a column the header lacks) is a 422 error naming the rule and field; an "
        "unknown project a 404. Recording needs a token that may record the four types an import "
        "makes (admin or finance) for the project. The body is bounded by KTPLEDGER_MAX_BODY_BYTES."
    ),
    openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": FORM_SCHEMA}}}
    },
    responses={
        200: {
            "description": "no row rejected",
            "content": {"application/json": {"schema": PLAN_SCHEMA}},
        },
        **refusals(401, 403, 404, 408, 413, 503),
        422: {
            "description": "some row was rejected (each names its rule), or the export or profile was "
            "refused as a whole (an error body naming the rule and field)",
            "content": {"application/json": {"schema": {"oneOf": [PLAN_SCHEMA, ERROR_SCHEMA]}}},
        },
    },
)
async def import_export(
    request: Request, who: Principal = Depends(principal), app: App = Depends(application)
) -> JSONResponse:
    async with body_share(request.scope, request.app.state):
        try:
            form = await request.form(max_files=2, max_fields=len(FIELDS))
        except ApiError:
            raise
        except Exception as error:  # noqa: BLE001 - python-multipart's errors have no common base
            raise RuleViolation("R-30", f"the body is not a multipart form: {error}") from None
        try:
            upload = await read_form(form)
        finally:
            await form.close()
        return await run_in_threadpool(import_upload, app, who, upload)


async def read_form(form: FormData) -> dict[str, Any]:
    """The form's fields, each checked: unknown fields, a missing file or profile, a bad flag."""
    unknown = sorted(set(form.keys()) - set(FIELDS))
    if unknown:
        raise RuleViolation(
            "R-30", f"unknown form field {unknown[0]!r}; the fields are {', '.join(FIELDS)}", field=unknown[0]
        )
    upload: dict[str, Any] = {}
    for name in ("file", "profile"):
        value = form.get(name)
        if value is None:
            raise RuleViolation(
                "R-30",
                f"the form has no {name!r}: send the export as 'file' and its profile as 'profile'",
                field=name,
            )
        if isinstance(value, UploadFile):
            upload[name] = await value.read()
            upload[f"{name}_name"] = value.filename or name
        else:
            upload[name] = value.encode("utf-8")
            upload[f"{name}_name"] = name
    for name in ("project", "sheet"):
        value = form.get(name)
        if isinstance(value, UploadFile):
            raise RuleViolation("R-30", f"{name!r} is a text field, not a file", field=name)
        if value is not None and len(value) > MAX_TEXT_FIELD:
            raise RuleViolation("R-30", f"{name!r} is at most {MAX_TEXT_FIELD} characters", field=name)
        upload[name] = value or None  # an empty sheet field is none given
    if upload["project"] is None:
        raise RuleViolation(
            "R-30", "the form has no 'project': name the project the rows are for", field="project"
        )
    for name in ("dry_run", "skip_rejected"):
        upload[name] = flag(form.get(name), name)
    return upload


def flag(value: str | UploadFile | None, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, UploadFile) or value.strip().lower() not in TRUE | FALSE:
        raise RuleViolation("R-30", f"{name} is true or false", field=name)
    return value.strip().lower() in TRUE


def import_upload(app: App, who: Principal, upload: dict[str, Any]) -> JSONResponse:
    """Plan (and unless `dry_run`, record) the upload, after the access checks."""
    project: str = upload["project"]
    check_read(who, project)
    refused = [event_type for event_type in IMPORTED_TYPES if not who.can_record(event_type)]
    if refused:
        raise forbidden(
            f"a {who.role.value} token may not record {', '.join(refused)}, which an import makes; "
            "nothing was recorded"
        )
    try:
        profile_text = upload["profile"].decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RuleViolation(
            "R-30", f"the profile is not UTF-8 text (byte {error.start}): save it as UTF-8", field="profile"
        ) from None
    arguments = (app.ledger, project, upload["file"], upload["file_name"], profile_text)
    if upload["dry_run"]:
        plan = plan_import(*arguments, sheet=upload["sheet"])
    else:
        plan = run_import(
            *arguments,
            sheet=upload["sheet"],
            skip_rejected=upload["skip_rejected"],
            recorded_by=who.recorder("import"),
        )
    return JSONResponse(plan.to_json(), status_code=422 if plan.rejected else 200)
