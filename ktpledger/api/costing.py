"""The HTTP API's costing: the guidance's tables for a project's shape (`ktpledger costing`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from ktpledger.api.routes import refusals
from ktpledger.api.security import principal
from ktpledger.api.statement_schemas import CostingOut
from ktpledger.domain.costing import COSTING_PARAMETERS, cost_project, parse_request
from ktpledger.service.access import Principal
from ktpledger.views import costing_json

router = APIRouter()


def costing_query(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint` with the costing's parameters (`COSTING_PARAMETERS`, the domain's one list of
    them, shared with `ktpledger costing`) as its first query parameters. FastAPI reads an
    endpoint's parameters from its signature, so the signature is written from the list."""
    query = [
        inspect.Parameter(
            parameter.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=parameter.annotation,
            default=Query(... if parameter.required else parameter.default, description=parameter.help),
        )
        for parameter in COSTING_PARAMETERS
    ]
    signature = inspect.signature(endpoint)
    own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    endpoint.__signature__ = signature.replace(parameters=[*query, *own])  # type: ignore[attr-defined]
    return endpoint


@router.get(
    "/costing",
    tags=["costing"],
    summary="Eligible costs and each party's share, as the guidance tables (R-20, R-21)",
    description="The parameters of `ktpledger costing`, as query parameters.",
    response_model=CostingOut,
    responses=refusals(401, 422),
)
@costing_query
def costing(*, _who: Principal = Depends(principal), **typed: Any) -> JSONResponse:
    return JSONResponse(costing_json(cost_project(parse_request(typed))))
