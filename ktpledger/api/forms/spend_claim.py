"""The finance form of a spend claim (`SpendClaimed`, R-33): date, budget line, amount,
description and the tags the sub-limits read."""

from __future__ import annotations

from ktpledger.api.forms.base import Choice, Field, FormDefinition, Values, chosen, text
from ktpledger.domain.labels import category_label
from ktpledger.domain.project import TAG_CATEGORIES, ProjectState
from ktpledger.domain.rules import LimitKind, Tag


def claimable_lines(state: ProjectState) -> list[Choice]:
    """The project's budget lines a claim may name, by their human names (not the derived one)."""
    return [
        Choice(category.value, category_label(category.value))
        for category in state.categories()
        if state.limit_kind(category) is not LimitKind.DERIVED
    ]


def tags(_state: ProjectState) -> list[Choice]:
    """Every tag, named with the one budget line it belongs to (R-33)."""
    return [
        Choice(
            tag.value,
            f"{tag.value.replace('_', ' ').capitalize()} ({category_label(TAG_CATEGORIES[tag].value)})",
        )
        for tag in Tag
    ]


def build(project: str, values: Values) -> list[dict[str, object]]:
    data: dict[str, object] = {
        "category": text(values, "category"),
        "amount": text(values, "amount").strip(),
        "description": text(values, "description"),
    }
    if chosen(values, "tags"):
        data["tags"] = chosen(values, "tags")
    return [{"type": "SpendClaimed", "project": project, "date": text(values, "date").strip(), "data": data}]


FORM = FormDefinition(
    slug="spend-claim",
    title="Spend claim",
    event_type="SpendClaimed",
    description="Record spend against one budget line (R-33). Over budget is recorded; the excess is ineligible.",
    fields=(
        Field("date", "Date of the spend", "date", hint="Within the project's period."),
        Field("category", "Budget line", "select", choices=claimable_lines),
        Field("amount", "Amount (£)", "money", hint="Pounds and pence, such as 184.20."),
        Field("description", "Description", "text", hint="What was bought, and for whom."),
        Field(
            "tags",
            "Tags",
            "checkboxes",
            required=False,
            choices=tags,
            aliases=("tag",),
            hint="Only where a sub-limit applies; each tag belongs to one budget line.",
        ),
    ),
    build=build,
)
