"""Cell values shared by every format: exact money, text guarded against formula injection, and
the short texts that summarise a line's LMC changes, its ineligible reasons and an alert's detail."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

# What a cell may hold. `Decimal` is a figure (money or the grant rate), `str` is text, `date` a date.
Value = str | Decimal | int | bool | date | None

# A plain number as the documents write them ("1027.98", "-500.00", "0.67", "33").
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")

# A spreadsheet reads a cell that starts with one of these as a formula (or the start of one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard_text(text: str) -> str:
    """`text` safe to put in a spreadsheet cell: non-numeric text that a spreadsheet could take for
    a formula gets a leading apostrophe. A plain number ("-500.00") is left alone: it is a number."""
    if NUMBER.fullmatch(text):
        return text
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def money(document: Mapping[str, Any], field: str) -> Decimal:
    """The figure `document[field]`, exactly as the document writes it (a string with 2 decimals)."""
    return figure(document.get(field), field)


def figure(raw: object, field: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise ValueError(f"{field}: expected a decimal string, got {raw!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation as error:
        raise ValueError(f"{field}: {raw!r} is not a decimal number") from error
    if not value.is_finite():
        raise ValueError(f"{field}: {raw!r} is not a finite number")
    return value


def number_text(value: Decimal) -> str:
    """A figure as plain text, as the JSON writes it ("1027.98"): no exponent, no separators."""
    return f"{value:f}"


def day(raw: object) -> date | None:
    """An ISO date from the document, or None when the document has none."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValueError(f"expected an ISO date, got {raw!r}")
    return date.fromisoformat(raw)


def signed(amount: str) -> str:
    """A change's amount with its sign: "+500.00" or "-500.00"."""
    return amount if amount.startswith("-") else "+" + amount


def change_text(change: Mapping[str, Any]) -> str:
    """One LMC change in a few words: "v5 2025-02-05 virement +500.00 (virement from consumables: LMC1)"."""
    parts = [f"v{change.get('version')}"]
    if change.get("date"):
        parts.append(str(change["date"]))
    parts.append(str(change.get("kind", "")))
    parts.append(signed(str(change.get("amount", ""))))
    text = " ".join(parts)
    note = change.get("note")
    return f"{text} ({note})" if note else text


def changes_text(changes: list[Mapping[str, Any]]) -> str:
    return "; ".join(change_text(change) for change in changes)


def reasons_text(reasons: Mapping[str, Any]) -> str:
    """A line's ineligible amounts by reason: "over_budget 120.00; computer 899.00"."""
    return "; ".join(f"{name} {amount}" for name, amount in reasons.items())


def detail_text(detail: object) -> str:
    """An alert's detail as "key=value" pairs in the document's order."""
    if isinstance(detail, Mapping):
        return "; ".join(f"{key}={_plain(value)}" for key, value in detail.items())
    return _plain(detail)


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(item) for item in value)
    if isinstance(value, Mapping):
        return "{" + detail_text(value) + "}"
    return str(value)
