"""The finance form of a parental-leave cost (`ParentalLeaveCost`, R-35): date, amount and
description. It touches no budget line: its preview shows the project's parental-leave total."""

from __future__ import annotations

from ktpledger.api.forms.base import Field, FormDefinition, Values, text


def build(project: str, values: Values) -> list[dict[str, object]]:
    data = {"amount": text(values, "amount").strip(), "description": text(values, "description")}
    return [
        {"type": "ParentalLeaveCost", "project": project, "date": text(values, "date").strip(), "data": data}
    ]


FORM = FormDefinition(
    slug="parental-leave",
    title="Parental-leave cost",
    event_type="ParentalLeaveCost",
    description=(
        "Record additional parental-leave costs met by the knowledge base (R-35), reimbursed at the "
        "grant rate at the end. They are not spend on a budget line."
    ),
    fields=(
        Field("date", "Date of the cost", "date", hint="Within the project's period."),
        Field("amount", "Amount (£)", "money", hint="Pounds and pence, such as 2400.00."),
        Field(
            "description",
            "Description",
            "text",
            hint="What it was, such as occupational pay above statutory.",
        ),
    ),
    build=build,
)
