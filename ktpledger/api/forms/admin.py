"""The administrator's forms on a project (role admin only): its closure (`ProjectClosed`, R-36) and
an amendment of its offer (`OfferAmended`, R-37), pre-filled with the offer as it stands, recording
only the fields that were changed.

The new-project form (`GrantOffered` from a costing) is not under a project: see
`api/forms/new_project.py`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ktpledger.api.forms.base import Choice, Field, FormDefinition, Values, text
from ktpledger.api.forms.lmc import PREFIX, whole
from ktpledger.domain.events import GrantOffered
from ktpledger.domain.labels import category_label
from ktpledger.domain.money import format_pounds
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import BusinessType, Methodology

# ---------------------------------------------------------------- closure


def build_closure(project: str, values: Values) -> list[dict[str, object]]:
    return [{"type": "ProjectClosed", "project": project, "date": text(values, "date").strip(), "data": {}}]


CLOSURE = FormDefinition(
    slug="closure",
    title="Close the project",
    event_type="ProjectClosed",
    description=(
        "The end of the grant (R-36): the reconciliation becomes final and nothing but grant payments may "
        "follow, unless the project is reopened (R-38)."
    ),
    fields=(Field("date", "Date of closure", "date", hint="Not before the offer."),),
    build=build_closure,
)


# ---------------------------------------------------------------- amendment

YES_NO = (Choice("no", "No"), Choice("yes", "Yes"))
TEXTS = ("title", "knowledge_base", "business")


def _offer(state: ProjectState) -> GrantOffered:
    assert state.offer is not None  # the routes show a form on an existing project only
    return state.offer


def business_types(_state: ProjectState) -> list[Choice]:
    names = {BusinessType.SME: "SME", BusinessType.LARGE: "Large"}
    return [
        Choice(kind.value, names.get(kind, kind.value.replace("_", " ").capitalize()))
        for kind in BusinessType
    ]


def yes_no(_state: ProjectState) -> list[Choice]:
    return list(YES_NO)


def offered_lines(state: ProjectState) -> tuple[Field, ...]:
    """One input per line: the offer's figure for it (the LMC's changes stay on top, R-37)."""
    offer = _offer(state)
    fields = []
    budget = dict(offer.budget)
    for category in state.claimable():
        offered = budget.get(category, Decimal(0))
        fields.append(
            Field(
                PREFIX + category.value,
                f"{category_label(category.value)}: offered (£)",
                "money",
                hint=f"Offered £{format_pounds(offered)}, whole pounds.",
            )
        )
    if offer.methodology is Methodology.FEC:
        fields.append(
            Field(
                "supervisor_cost", "Supervisor's cost (£)", "money", required=False, hint="fec only (R-16)."
            )
        )
    return tuple(fields)


def amendment_defaults(state: ProjectState) -> dict[str, str]:
    """The offer as it stands (as first recorded, with the amendments since)."""
    offer = _offer(state)
    values = {
        "title": offer.title,
        "knowledge_base": offer.knowledge_base,
        "business": offer.business,
        "business_type": offer.business_type.value,
        "virtual": "yes" if offer.virtual else "no",
        "london": "yes" if offer.london else "no",
        "start": offer.start.isoformat(),
        "months": str(offer.months),
        "grant_rate": "" if offer.grant_rate is None else str(offer.grant_rate),
        "supervisor_cost": "" if offer.supervisor_cost is None else str(offer.supervisor_cost),
    }
    budget = dict(offer.budget)
    for category in state.claimable():
        values[PREFIX + category.value] = whole(budget.get(category, Decimal(0)))
    return values


def _same_money(typed: str, current: Decimal | None) -> bool:
    if not typed:
        return True  # left empty: kept
    try:
        return current is not None and Decimal(typed) == current
    except InvalidOperation:
        return False


def build_amendment_on(state: ProjectState, project: str, values: Values) -> list[dict[str, object]]:
    """The reason and only the fields that differ from the offer as it stands."""
    offer = _offer(state)
    data: dict[str, object] = {"reason": text(values, "reason")}
    for name in TEXTS:
        if text(values, name) != getattr(offer, name):
            data[name] = text(values, name)
    if text(values, "business_type") != offer.business_type.value:
        data["business_type"] = text(values, "business_type")
    for name in ("virtual", "london"):
        if (text(values, name) == "yes") != getattr(offer, name):
            data[name] = text(values, name) == "yes"
    if text(values, "start").strip() != offer.start.isoformat():
        data["start"] = text(values, "start").strip()
    months = text(values, "months").strip()
    if months != str(offer.months):
        data["months"] = int(months) if months.isdigit() else months
    rate = text(values, "grant_rate").strip()
    if rate and not _same_money(rate, offer.grant_rate):
        data["grant_rate"] = rate
    cost = text(values, "supervisor_cost").strip()
    if cost and not _same_money(cost, offer.supervisor_cost):
        data["supervisor_cost"] = cost
    offered = dict(offer.budget)
    budget = {
        category.value: typed
        for category in state.claimable()
        if not _same_money(
            typed := text(values, PREFIX + category.value).strip(), offered.get(category, Decimal(0))
        )
    }
    if budget:
        data["budget"] = budget
    return [{"type": "OfferAmended", "project": project, "date": text(values, "date").strip(), "data": data}]


AMENDMENT = FormDefinition(
    slug="amendment",
    title="Amend the offer",
    event_type="OfferAmended",
    description=(
        "Correct the grant offer (R-37): a typo in a line, the wrong start, a misspelt party. The form starts "
        "with the offer as it stands; only the fields you change are recorded. The business's contribution "
        "may not go down (R-32). The LMC's changes to a line stay on top of its offered figure."
    ),
    fields=(
        Field(
            "date",
            "Date of the amendment",
            "date",
            hint="From this day on, every reader sees the amended offer.",
        ),
        Field(
            "reason",
            "Reason",
            "textarea",
            hint="Why the offer is corrected, such as the offer letter's figure.",
        ),
        Field("title", "Title", "text"),
        Field("knowledge_base", "Knowledge base", "text"),
        Field("business", "Business", "text"),
        Field(
            "business_type",
            "Business type",
            "select",
            choices=business_types,
            hint="It sets the grant rate (R-03).",
        ),
        Field(
            "virtual",
            "Virtual business",
            "select",
            choices=yes_no,
            hint="Never with London weighting (R-11).",
        ),
        Field("london", "London weighting", "select", choices=yes_no),
        Field("start", "Start", "date", hint="The first day of the period."),
        Field("months", "Months offered", "text", hint="Whole months; extensions stay on top (R-02)."),
        Field(
            "grant_rate",
            "Grant rate",
            "text",
            required=False,
            hint="Only when not the standard rate of R-03, such as 0.67.",
        ),
    ),
    build=lambda _project, _values: [],
    build_on=build_amendment_on,
    defaults=amendment_defaults,
    more_fields=offered_lines,
)

FORMS: tuple[FormDefinition, ...] = (CLOSURE, AMENDMENT)
