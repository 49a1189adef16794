"""Quarantined projections over HTTP, for administrators: which projects are quarantined and why,
and a retry (README, "Quarantine"), as `ktpledger projection status` and `projection retry`."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ktpledger.api.errors import forbidden
from ktpledger.api.routes import refusals
from ktpledger.api.schemas import QuarantinedOut, RetryOut
from ktpledger.api.security import application, check_read, principal
from ktpledger.bootstrap import App
from ktpledger.domain.errors import unknown_project
from ktpledger.service.access import Principal, Role

router = APIRouter()


def check_admin(who: Principal) -> None:
    if who.role is not Role.ADMIN:
        raise forbidden(
            f"only an admin token may see or retry quarantined projections, not a {who.role.value} one"
        )


@router.get(
    "/projections/failed",
    tags=["admin"],
    summary="Quarantined projections (admin): each with the row that stopped it and why",
    description="Each project whose recorded events cannot be folded: `version` and `position` its "
    "projection has folded to (the last append that folded whole), `failed_version` and "
    "`failed_position` the row, `error` the refusal naming it (R-30), `since` when it was quarantined. "
    "A token limited to some projects sees only those.",
    response_model=list[QuarantinedOut],
    responses=refusals(401, 403),
)
def failed_projections(who: Principal = Depends(principal), app: App = Depends(application)) -> JSONResponse:
    check_admin(who)
    return JSONResponse([item for item in app.projector.quarantined() if who.can_read(item["project"])])


@router.post(
    "/projects/{project:path}/projection/retry",
    tags=["admin"],
    summary="Refold a project's projection from its whole stream (admin)",
    description="As `ktpledger projection retry PROJECT`: `status` `ok` if the project folds now (its "
    "`projection_failed` system alert is resolved), else `failed` with the `error` naming the row "
    "(it stays quarantined). `was` says whether it was quarantined before.",
    response_model=RetryOut,
    responses=refusals(401, 403, 404),
)
def retry_projection(
    project: str, who: Principal = Depends(principal), app: App = Depends(application)
) -> JSONResponse:
    check_admin(who)
    check_read(who, project)
    if project not in app.ledger.projects():
        raise unknown_project(project, who.visible(app.ledger.projects()), None)
    [result] = app.projector.retry([project])
    return JSONResponse(result.to_json())
