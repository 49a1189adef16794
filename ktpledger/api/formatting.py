"""How the dashboard writes categories and money for people (the JSON keeps the contract's form);
the names themselves live in the rule core (`domain/labels.py`), shared with every other reader."""

from __future__ import annotations

from decimal import Decimal

from ktpledger.domain.labels import CATEGORY_LABELS as LABELS
from ktpledger.domain.labels import category_label, gbp

__all__ = ["LABELS", "label", "percent", "pounds"]


def label(category: str) -> str:
    """A category's name for people: "travel_subsistence" -> "Travel & subsistence"."""
    return category_label(category)


def pounds(amount: Decimal | str | int, *, pence: bool = False) -> str:
    """£1,234 (or £1,234.50 with `pence`); negative as -£12.00."""
    return gbp(amount, pence=pence)


def percent(share: Decimal | None) -> str:
    """A share as people read it: Decimal("0.1022") -> "10.2%"; None (no budget to take a share
    of) -> "no budget"."""
    if share is None:
        return "no budget"
    return f"{(share * 100).quantize(Decimal('0.1'))}%"
