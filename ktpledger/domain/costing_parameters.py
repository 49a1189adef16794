"""The parameters of a costing as typed (`ktpledger costing --NAME`, `GET /costing?NAME=`): data
alone, so an entry point can write its signature from them without loading the costing itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CostingParameter:
    """One parameter of a costing as typed, `ktpledger costing --NAME` or `GET /costing?NAME=`:
    text, or a flag when its default is a bool; `default` None means "not given"."""

    name: str
    help: str
    default: str | bool | None = None
    required: bool = False

    @property
    def flag(self) -> bool:
        return isinstance(self.default, bool)

    @property
    def annotation(self) -> object:
        """The type of its value, for an entry point's signature: bool, str, or str | None."""
        if self.flag:
            return bool
        return str if self.required or self.default is not None else str | None


# The one list of a costing's parameters, in the order the command line and the API show them.
COSTING_PARAMETERS = (
    CostingParameter("methodology", "fec or non_fec (R-01)", required=True),
    CostingParameter("business_type", "sme, large, not_for_profit or public_sector (R-03)", required=True),
    CostingParameter("months", "duration in whole months, 1..60 (R-02)", required=True),
    CostingParameter("salary", "the associate's annual employment cost in pounds (R-10)", required=True),
    CostingParameter("london", "London weighting (R-10)", False),
    CostingParameter("virtual", "a virtual business (R-11, R-14)", False),
    CostingParameter("supervisor_cost", "fec: supervisor's annual salary plus overheads"),
    CostingParameter("supervisor_fte", "fec: supervisor FTE (standard 0.1, R-16)", "0.1"),
    CostingParameter("support_costs", "fec: annual additional associate support costs"),
    CostingParameter("support_rate", "fec: charge rate for additional support", "0.5"),
    CostingParameter("estates", "fec: associate estates for the project (max 10,000, R-17)", "0"),
    CostingParameter("grant_rate", "grant rate of the offer letter, if not R-03's"),
)
