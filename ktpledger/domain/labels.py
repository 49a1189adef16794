"""Names for people: the guidance's names of the cost lines and the alerts' kinds, and money as
people write it. The JSON keeps the contract's codes; every reader that shows text uses these."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ktpledger.domain.money import PENNY, POUND

CATEGORY_LABELS = {
    "associate_employment": "Associate employment",
    "academic_secretarial_support": "Academic & secretarial support",
    "associate_development": "Associate development",
    "travel_subsistence": "Travel & subsistence",
    "consumables": "Equipment & consumables",
    "knowledge_base_supervisor": "KB supervisor",
    "associate_estates": "Associate estates",
    "additional_associate_support": "Additional associate support",
    "knowledge_base_overheads": "KB overheads (derived)",
}

KIND_LABELS = {
    "threshold": "Threshold",
    "over_budget": "Over budget",
    "over_cap": "Over maximum",
    "sub_limit": "Sub-limit",
    "ineligible_claim": "Ineligible claim",
    "forecast_overspend": "Forecast overspend",
    # issue 15: against the budget and the spend profile
    "forecast_underspend": "Forecast underspend",
    "behind_profile": "Behind the spend profile",
    "ahead_of_profile": "Ahead of the spend profile",
    "ended_not_closed": "Ended, not closed",
    # the receivables' deadlines (R-44)
    "invoice_due": "Invoice due",
    "invoice_overdue": "Invoice overdue",
    "claim_due": "Claim due",
    "claim_overdue": "Claim overdue",
}


def category_label(category: str) -> str:
    """A category's name for people: "travel_subsistence" -> "Travel & subsistence"."""
    if not category:
        return "Project"
    return CATEGORY_LABELS.get(category, category.replace("_", " ").capitalize())


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def gbp(amount: Decimal | str | int, *, pence: bool = True) -> str:
    """£1,234.50 (or £1,235 without `pence`); negative as -£12.00."""
    value = Decimal(amount)
    sign = "-" if value < 0 else ""
    if pence:
        return f"{sign}£{abs(value).quantize(PENNY, rounding=ROUND_HALF_UP):,.2f}"
    return f"{sign}£{abs(value).quantize(POUND, rounding=ROUND_HALF_UP):,.0f}"
