"""The HTTP API's costing: the guidance's tables for a project's shape (`ktpledger costing`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from ktpledger.api.routes import refusals
from ktpledger.api.security import principal
from ktpledger.api.statement_schemas import CostingOut
from ktpledger.domain.costing import cost_project, parse_request
from ktpledger.service.access import Principal
from ktpledger.views import costing_json

router = APIRouter()


@router.get(
    "/costing",
    tags=["costing"],
    summary="Eligible costs and each party's share, as the guidance tables (R-20, R-21)",
    description="The parameters of `ktpledger costing`, as query parameters.",
    response_model=CostingOut,
    responses=refusals(401, 422),
)
def costing(
    methodology: str = Query(..., description="fec or non_fec (R-01)"),
    business_type: str = Query(..., description="sme, large, not_for_profit or public_sector (R-03)"),
    months: str = Query(..., description="duration in whole months, 1..60 (R-02)"),
    salary: str = Query(..., description="the associate's annual employment cost in pounds (R-10)"),
    london: bool = Query(False, description="London weighting (R-10)"),
    virtual: bool = Query(False, description="a virtual business (R-11, R-14)"),
    supervisor_cost: str | None = Query(None, description="fec: supervisor's annual salary plus overheads"),
    supervisor_fte: str = Query("0.1", description="fec: supervisor FTE (standard 0.1, R-16)"),
    support_costs: str | None = Query(None, description="fec: annual additional associate support costs"),
    support_rate: str = Query("0.5", description="fec: charge rate for additional support"),
    estates: str = Query("0", description="fec: associate estates for the project (max 10,000, R-17)"),
    grant_rate: str | None = Query(None, description="grant rate of the offer letter, if not R-03's"),
    _who: Principal = Depends(principal),
) -> JSONResponse:
    request = parse_request(
        methodology=methodology,
        business_type=business_type,
        months=months,
        salary=salary,
        london=london,
        virtual=virtual,
        supervisor_cost=supervisor_cost,
        supervisor_fte=supervisor_fte,
        support_costs=support_costs,
        support_rate=support_rate,
        estates=estates,
        grant_rate=grant_rate,
    )
    return JSONResponse(costing_json(cost_project(request)))
