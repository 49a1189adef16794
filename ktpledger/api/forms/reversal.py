"""The finance form of a reversal (`ClaimReversed`, R-34): the claim picked from the project's
claims that still have something outstanding (newest first), the date, the amount (blank: all that
is left) and the reason."""

from __future__ import annotations

from ktpledger.api.forms.base import Choice, Field, FormDefinition, Values, text
from ktpledger.domain.events import SpendClaimed
from ktpledger.domain.labels import category_label
from ktpledger.domain.money import format_pounds
from ktpledger.domain.project import ProjectState


def outstanding_claims(state: ProjectState) -> list[Choice]:
    """The claims a reversal may name: those with something outstanding, newest first, each as
    "12 Mar 2025 · Consumables · kit · £350.00 outstanding"."""
    open_claims = sorted(
        (claim for claim in state.claims.values() if claim.outstanding > 0),
        key=lambda claim: (claim.date, claim.version),
        reverse=True,
    )
    choices = []
    for claim in open_claims:
        recorded = state.keys.get(claim.key)
        payload = recorded[0].payload if recorded is not None else None
        description = payload.description if isinstance(payload, SpendClaimed) else claim.key
        label = (
            f"{claim.date.strftime('%-d %b %Y')} · {category_label(claim.category.value)} · "
            f"{description} · £{format_pounds(claim.outstanding, pence=True)} outstanding"
        )
        choices.append(Choice(claim.key, label))
    return choices


def build(project: str, values: Values) -> list[dict[str, object]]:
    data: dict[str, object] = {"claim": text(values, "claim"), "reason": text(values, "reason")}
    amount = text(values, "amount").strip()
    if amount:
        data["amount"] = amount
    return [{"type": "ClaimReversed", "project": project, "date": text(values, "date").strip(), "data": data}]


FORM = FormDefinition(
    slug="reversal",
    title="Reversal",
    event_type="ClaimReversed",
    description="Take back all or part of an earlier spend claim (R-34): the claim stays, the reversal nets it off.",
    fields=(
        Field(
            "claim",
            "Claim to reverse",
            "select",
            choices=outstanding_claims,
            hint="The project's claims with something left to reverse, newest first.",
        ),
        Field("date", "Date of the reversal", "date", hint="Not before the claim's date."),
        Field(
            "amount",
            "Amount (£)",
            "money",
            required=False,
            hint="Leave blank to reverse all that is left of the claim.",
            blank="all that is left of the claim",
        ),
        Field("reason", "Reason", "text", hint="Why, such as a refund or a claim recorded by mistake."),
    ),
    build=build,
)
