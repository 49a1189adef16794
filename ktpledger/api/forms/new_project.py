"""The administrator's new-project form: a `GrantOffered` built from a costing, by the same domain
functions as `ktpledger costing --offer` (`parse_request`, `cost_project`, `draft_from_costing`,
`offer_event`), so the dashboard and the command line make the same event from the same inputs.

It is not under a project (the project is what it makes), so it is not in `FORMS`: its routes are
`/dashboard/record/new-project...` (`api/dashboard_new_project.py`).
"""

from __future__ import annotations

from ktpledger.api.forms.base import Choice, Field, FormDefinition, Values, text
from ktpledger.domain.costing import COSTING_PARAMETERS, cost_project, parse_request
from ktpledger.domain.events import parse_date
from ktpledger.domain.offer import OfferTerms, draft_from_costing, offer_event
from ktpledger.domain.rules import BusinessType, Methodology

SLUG = "new-project"
YES_NO = (Choice("no", "No"), Choice("yes", "Yes"))
BUSINESS_TYPES = {
    "sme": "SME",
    "large": "Large",
    "not_for_profit": "Not for profit",
    "public_sector": "Public sector",
}

# Where a costing's refusal names no field (or a field by its words), the field it is about.
FIELD_OF_RULE = {
    "R-01": "methodology",
    "R-02": "months",
    "R-03": "business_type",
    "R-10": "salary",
    "R-11": "virtual",
    "R-16": "supervisor_cost",
    "R-17": "estates",
    "R-31": "project",
}

OPTIONAL = ("supervisor_cost", "support_costs", "grant_rate")


def _methodologies(_state: object) -> list[Choice]:
    return [
        Choice(m.value, "fEC (full economic cost)" if m is Methodology.FEC else "Non-fEC")
        for m in Methodology
    ]


def _business_types(_state: object) -> list[Choice]:
    return [Choice(kind.value, BUSINESS_TYPES.get(kind.value, kind.value)) for kind in BusinessType]


def _yes_no(_state: object) -> list[Choice]:
    return list(YES_NO)


def build(reference: str, values: Values) -> list[dict[str, object]]:
    """The project's `GrantOffered`, as `ktpledger costing --offer` prints it; a costing the rules
    refuse raises its `RuleViolation` (shown by its field)."""
    typed: dict[str, str | bool | None] = {}
    for parameter in COSTING_PARAMETERS:
        if parameter.flag:
            typed[parameter.name] = text(values, parameter.name) == "yes"
            continue
        value = text(values, parameter.name).strip()
        if value:
            typed[parameter.name] = value
        else:  # left empty: the command line's default (None for an optional figure)
            typed[parameter.name] = None if parameter.name in OPTIONAL else parameter.default
    for name in ("methodology", "business_type", "months", "salary"):
        typed[name] = typed[name] or ""
    request = parse_request(typed)
    start = parse_date(text(values, "start").strip(), name="start", rule="R-01")
    on = text(values, "date").strip()
    terms = OfferTerms(
        project=reference,
        start=start,
        title=text(values, "title"),
        knowledge_base=text(values, "knowledge_base"),
        business=text(values, "business"),
        key="offer",  # replaced by the form's own key
        event_date=parse_date(on, name="date", rule="R-30") if on else None,
    )
    event = offer_event(draft_from_costing(cost_project(request, on=terms.on), terms))
    event.pop("key", None)
    return [event]


FORM = FormDefinition(
    slug=SLUG,
    title="New project from a costing",
    event_type="GrantOffered",
    description=(
        "Record a project's grant offer (R-31) from its costing, as the command ktpledger costing --offer builds it: "
        "each budget line is the costing's eligible figure (R-20, R-21)."
    ),
    fields=(
        Field(
            "project",
            "Reference",
            "text",
            hint="Letters, digits and ._/- such as KTP-0200; a new one (R-31).",
        ),
        Field("title", "Title", "text"),
        Field("knowledge_base", "Knowledge base", "text", hint="The university or college."),
        Field("business", "Business", "text", hint="The business partner."),
        Field("methodology", "Methodology", "select", choices=_methodologies, hint="R-01."),
        Field(
            "business_type",
            "Business type",
            "select",
            choices=_business_types,
            aliases=("business type",),
            hint="It sets the grant rate (R-03).",
        ),
        Field(
            "virtual",
            "Virtual business",
            "select",
            choices=_yes_no,
            hint="R-11, R-14; never with London weighting.",
        ),
        Field("london", "London weighting", "select", choices=_yes_no, hint="R-10."),
        Field("start", "Start", "date", hint="The project's first day."),
        Field("date", "Date of the offer", "date", required=False, hint="Left empty: the start."),
        Field("months", "Months", "text", hint="Whole months, 1 to 60 (R-02)."),
        Field("salary", "Associate's annual employment cost (£)", "money", hint="R-10."),
        Field(
            "supervisor_cost",
            "Supervisor's annual salary and overheads (£)",
            "money",
            required=False,
            aliases=("supervisor cost",),
            hint="fEC only (R-16).",
        ),
        Field(
            "supervisor_fte",
            "Supervisor FTE",
            "text",
            aliases=("supervisor FTE",),
            hint="fEC; standard 0.1 (R-16).",
        ),
        Field(
            "support_costs",
            "Annual additional associate support (£)",
            "money",
            required=False,
            aliases=("support costs",),
            hint="fEC only.",
        ),
        Field(
            "support_rate",
            "Support charge rate",
            "text",
            aliases=("support rate",),
            hint="fEC; standard 0.5.",
        ),
        Field("estates", "Associate estates (£)", "money", hint="fEC; at most 10,000 (R-17)."),
        Field(
            "grant_rate",
            "Grant rate",
            "text",
            required=False,
            aliases=("grant rate",),
            hint="Only when the offer letter's is not R-03's.",
        ),
    ),
    build=build,
    defaults=lambda _state: {
        "methodology": "fec",
        "business_type": "sme",
        "virtual": "no",
        "london": "no",
        "supervisor_fte": "0.1",
        "support_rate": "0.5",
        "estates": "0",
    },
)
