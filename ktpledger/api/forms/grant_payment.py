"""The finance form of a grant payment (`GrantPayment`, R-42): the date it was received and the
amount. It touches no budget line: its preview shows the grant received before and after."""

from __future__ import annotations

from ktpledger.api.forms.base import Field, FormDefinition, Values, text


def build(project: str, values: Values) -> list[dict[str, object]]:
    data = {"amount": text(values, "amount").strip()}
    return [{"type": "GrantPayment", "project": project, "date": text(values, "date").strip(), "data": data}]


FORM = FormDefinition(
    slug="grant-payment",
    title="Grant payment",
    event_type="GrantPayment",
    description=(
        "Record grant received by the knowledge base from Innovate UK (R-42). It counts towards the "
        "grant paid in the reconciliation, and may be recorded after the project is closed."
    ),
    fields=(
        Field("date", "Date received", "date", hint="Not before the offer."),
        Field("amount", "Amount (£)", "money", hint="Pounds and pence, such as 9100.00."),
    ),
    build=build,
)
