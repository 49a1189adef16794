"""The local management committee's forms (`LMCDecision`, R-32; roles lmc and admin): a virement,
an approval to exceed a standard, an extension and a budget revision, each dated, each with its
minute where the event has one (a virement and a budget revision; docs/events.md).

They only turn what was typed into the decision's fields: the domain judges them (a virtual
business's travel may not be vired away, R-32; a limit below the budget, R-40; past 60 months, R-02
...) and the preview shows its refusal beside the field it names.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ktpledger.api.forms.base import Choice, Field, FormDefinition, Values, text
from ktpledger.domain.labels import category_label
from ktpledger.domain.money import ZERO, format_pounds
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import LimitKind

PREFIX = "budget."
"""A budget revision's input of a line is named `budget.<category>`, as the domain's refusals name
it (`RuleViolation.field`)."""


def lines(state: ProjectState) -> list[Choice]:
    """The lines a decision may name, by their human names (not the derived overheads line)."""
    return [Choice(category.value, category_label(category.value)) for category in state.claimable()]


def standard_lines(state: ProjectState) -> list[Choice]:
    """The lines whose limit is a standard: the only ones an LMC can approve to exceed it."""
    return [
        Choice(category.value, category_label(category.value))
        for category in state.claimable()
        if state.limit_kind(category) is LimitKind.STANDARD
    ]


def whole(value: Decimal) -> str:
    """A budget figure as whole pounds, as the revision form shows it (`2000`)."""
    return str(value.quantize(Decimal(1))) if value == value.to_integral_value() else str(value)


def _decision(project: str, values: Values, data: dict[str, object]) -> list[dict[str, object]]:
    return [{"type": "LMCDecision", "project": project, "date": text(values, "date").strip(), "data": data}]


def _months(raw: str) -> object:
    """Plain digits become a number; anything else is passed on for the domain to refuse."""
    return int(raw) if raw.isdigit() else raw


DATE = Field("date", "Date of the decision", "date", hint="The LMC meeting's date; not before the offer.")
MINUTE = Field("minute", "Minute", "text", hint="The LMC minute that records it, such as “LMC 4, item 3”.")


# ---------------------------------------------------------------- virement


def build_virement(project: str, values: Values) -> list[dict[str, object]]:
    data: dict[str, object] = {
        "kind": "virement",
        "from": text(values, "from"),
        "to": text(values, "to"),
        "amount": text(values, "amount").strip(),
        "minute": text(values, "minute"),
    }
    return _decision(project, values, data)


VIREMENT = FormDefinition(
    slug="virement",
    title="Virement",
    event_type="LMCDecision",
    description="Move budget from one line to another (R-32), in whole pounds.",
    fields=(
        DATE,
        Field("from", "From line", "select", choices=lines, hint="The line that gives."),
        Field("to", "To line", "select", choices=lines, hint="The line that receives."),
        Field("amount", "Amount (£)", "money", hint="Whole pounds, such as 500."),
        MINUTE,
    ),
    build=build_virement,
)


# ---------------------------------------------------------------- approval to exceed


def build_exceedance(project: str, values: Values) -> list[dict[str, object]]:
    data: dict[str, object] = {
        "kind": "approve_exceedance",
        "category": text(values, "category"),
        "limit": text(values, "limit").strip(),
        "justification": text(values, "justification"),
        "approved_by": text(values, "approved_by"),
    }
    return _decision(project, values, data)


EXCEEDANCE = FormDefinition(
    slug="approve-exceedance",
    title="Approval to exceed",
    event_type="LMCDecision",
    description="Raise a standard line's limit above its standard (R-32, R-40); no money moves.",
    fields=(
        DATE,
        Field(
            "category",
            "Budget line",
            "select",
            choices=standard_lines,
            hint="A line whose limit is a standard.",
        ),
        Field("limit", "New limit (£)", "money", hint="Whole pounds; not below the line's budget."),
        Field(
            "justification", "Justification", "textarea", hint="Why the line needs more than its standard."
        ),
        Field("approved_by", "Approved by", "text", hint="Who approved it (the KTP programme manager)."),
    ),
    build=build_exceedance,
)


# ---------------------------------------------------------------- extension

COSTED = (
    Choice("no", "No-cost: the budget and the limits stay as they are"),
    Choice("yes", "Costed: the limits grow with the months"),
)


def build_extension(project: str, values: Values) -> list[dict[str, object]]:
    data: dict[str, object] = {
        "kind": "extension",
        "months": _months(text(values, "months").strip()),
        "costed": text(values, "costed") == "yes",
    }
    return _decision(project, values, data)


EXTENSION = FormDefinition(
    slug="extension",
    title="Extension",
    event_type="LMCDecision",
    description="Add whole months to the project's period (R-32); 60 months in all at most (R-02).",
    fields=(
        DATE,
        Field("months", "Months added", "text", hint="A whole number, such as 3."),
        Field("costed", "Costed or not", "select", choices=lambda _state: list(COSTED)),
    ),
    build=build_extension,
    defaults=lambda _state: {"costed": "no"},
)


# ---------------------------------------------------------------- budget revision


def line_fields(state: ProjectState) -> tuple[Field, ...]:
    """One whole-pounds input per line, named as the domain names it (`budget.consumables`)."""
    return tuple(
        Field(
            PREFIX + choice.value,
            f"{choice.label} (£)",
            "money",
            hint=f"Now £{format_pounds(state.budget.get(category, ZERO))}; whole pounds.",
        )
        for category, choice in zip(state.claimable(), lines(state), strict=True)
    )


def revision_defaults(state: ProjectState) -> dict[str, str]:
    """Each line's input starts at its current budget."""
    return {
        PREFIX + category.value: whole(state.budget.get(category, ZERO)) for category in state.claimable()
    }


def _unchanged(typed: str, current: Decimal) -> bool:
    """Whether a line's input leaves it as it is (its figure, or left empty)."""
    if not typed:
        return True
    try:
        return Decimal(typed) == current
    except InvalidOperation:
        return False


def build_revision_on(state: ProjectState, project: str, values: Values) -> list[dict[str, object]]:
    """Only the lines whose figure was changed go into the decision (the others keep theirs)."""
    budget = {
        category.value: typed
        for category in state.claimable()
        if not _unchanged(
            typed := text(values, PREFIX + category.value).strip(), state.budget.get(category, ZERO)
        )
    }
    return _decision(
        project, values, {"kind": "budget_revision", "budget": budget, "minute": text(values, "minute")}
    )


REVISION = FormDefinition(
    slug="budget-revision",
    title="Budget revision",
    event_type="LMCDecision",
    description=(
        "Set several lines' budgets at once (R-32), in whole pounds; only the lines you change are recorded. "
        "The business's contribution may not go down."
    ),
    fields=(DATE, MINUTE),
    build=lambda _project, _values: [],
    build_on=build_revision_on,
    defaults=revision_defaults,
    more_fields=line_fields,
)

FORMS: tuple[FormDefinition, ...] = (VIREMENT, EXCEEDANCE, EXTENSION, REVISION)
