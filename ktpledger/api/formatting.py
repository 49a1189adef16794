"""How the dashboard writes categories and money for people (the JSON keeps the contract's form)."""

from __future__ import annotations

from decimal import Decimal

LABELS = {
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


def label(category: str) -> str:
    """A category's name for people: "travel_subsistence" -> "Travel & subsistence"."""
    return LABELS.get(category, category.replace("_", " ").capitalize())


def pounds(amount: Decimal | str | int, *, pence: bool = False) -> str:
    """£1,234 (or £1,234.50 with `pence`); negative as -£12.00."""
    value = Decimal(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}£{abs(value):,.2f}" if pence else f"{sign}£{abs(value):,.0f}"
