"""Cell values shared by every format: money as the JSON writes it, text guarded against formula
injection, and the short texts that summarise a line's LMC changes, its ineligible reasons and an
alert's detail. They read the typed read models: no figure or date is parsed back from text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from ktpledger.domain.alert_views import long_date
from ktpledger.domain.labels import category_label, gbp
from ktpledger.domain.money import format_money, round_penny_half_up
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.statement_models import LineChange, ReconciliationStatement, rate_shown

# What the reports render: the typed read models the services return.
Statement = ReconciliationStatement | ClaimPack

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


def money(amount: Decimal) -> Decimal:
    """A money figure as the JSON writes it (`format_money`): to the penny, half up."""
    return round_penny_half_up(amount)


def money_text(amount: Decimal) -> str:
    """A money figure as text, exactly as the JSON writes it ("1027.98")."""
    return format_money(amount)


def rate(grant_rate: Decimal) -> Decimal:
    """The grant rate as the JSON writes it ("0.67"): to two places."""
    return rate_shown(grant_rate)


def rate_text(grant_rate: Decimal) -> str:
    return f"{grant_rate:.2f}"  # as `to_json` writes it


def number_text(value: Decimal) -> str:
    """A figure as plain text, as the JSON writes it ("1027.98"): no exponent, no separators."""
    return f"{value:f}"


def signed(amount: Decimal) -> str:
    """A change's amount with its sign: "+500.00" or "-500.00"."""
    text = money_text(amount)
    return text if text.startswith("-") else "+" + text


def change_text(change: LineChange) -> str:
    """One LMC change in a few words: "v5 2025-02-05 virement +500.00 (virement from consumables: LMC1)"."""
    parts = [f"v{change.version}"]
    if change.date is not None:
        parts.append(change.date.isoformat())
    parts.append(change.kind)
    parts.append(signed(change.amount))
    text = " ".join(parts)
    return f"{text} ({change.note})" if change.note else text


def changes_text(changes: Iterable[LineChange]) -> str:
    return "; ".join(change_text(change) for change in changes)


def reasons_text(reasons: Mapping[str, Decimal]) -> str:
    """A line's ineligible amounts by reason: "over_budget 120.00; computer 899.00"."""
    return "; ".join(f"{name} {money_text(amount)}" for name, amount in reasons.items())


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


# What people read (HTML, PDF and the workbook's labels): the guidance's names, money as
# "£100,000.00", rates as "67%", dates as "31 March 2026". The CSV and JSON keep the codes.

METHODOLOGY_LABELS = {"fec": "Full economic costing (FEC)", "non_fec": "Non-FEC (salary-based)"}
BUSINESS_TYPE_LABELS = {
    "sme": "SME",
    "large": "Large business",
    "not_for_profit": "Not-for-profit organisation",
    "public_sector": "Public sector organisation",
}
LIMIT_LABELS = {
    "maximum": "Maximum",
    "standard": "Standard (may be exceeded with approval)",
    "budget": "Budget",
    "derived": "Derived",
}
LIMIT_SHORT = {"maximum": "Maximum", "standard": "Standard", "budget": "Budget", "derived": "Derived"}
CHANGE_LABELS = {
    "virement": "Virement",
    "approve_exceedance": "Exceedance approved by the LMC",
    "budget_revision": "Budget revision by the LMC",
    "offer_amended": "Offer amendment",
    "extension": "Extension",
    "project_reopened": "Project reopened",
}
REASON_LABELS = {
    "over_budget": "over budget",
    "over_cap": "over the maximum",
    "sub_limit": "over a sub-limit",
    "computer": "computer equipment",
    "conference": "conferences over the guide",
    "higher_degree_fee": "higher degree fees over the cap",
    "associate_travel": "associate travel on a virtual business",
    "ineligible": "ineligible",
}


def pounds(amount: Decimal) -> str:
    """Money for people: "£100,000.00", "-£500.00" (to the penny, as the JSON rounds it)."""
    return gbp(money(amount))


def signed_pounds(amount: Decimal) -> str:
    """A change for people: "+£500.00" or "-£500.00"."""
    text = pounds(amount)
    return text if text.startswith("-") else "+" + text


def percent(grant_rate: Decimal) -> str:
    """A rate for people: 0.67 -> "67%", 0.675 -> "67.5%"."""
    shown = (grant_rate * 100).normalize()
    return f"{shown:f}%"


def long_day(day: date | None) -> str:
    """A date for people: "31 March 2026" (empty when there is none)."""
    return "" if day is None else long_date(day)


def label(table: Mapping[str, str], code: str) -> str:
    """`code`'s name in `table`, else the code in words ("prior_period" -> "Prior period")."""
    return table.get(code, code.replace("_", " ").capitalize())


def reasons_words(reasons: Mapping[str, Decimal]) -> str:
    """A line's ineligible amounts by reason for people: "over budget £120.00; computer equipment £899.00"."""
    return "; ".join(f"{label(REASON_LABELS, name)} {pounds(amount)}" for name, amount in reasons.items())


def change_words(change: LineChange) -> str:
    """One LMC change for people: "Virement +£500.00 on 5 February 2025 (v5): virement from ..."."""
    text = f"{label(CHANGE_LABELS, change.kind)} {signed_pounds(change.amount)}"
    if change.date is not None:
        text += f" on {long_date(change.date)}"
    text += f" (v{change.version})"
    return f"{text}: {change.note}" if change.note else text


def detail_words(detail: object) -> str:
    """An alert's detail for people: "Budget £1,000.00; spent £1,200.00", money and dates written out."""
    if isinstance(detail, Mapping):
        return "; ".join(
            f"{label({}, str(key))} {_word(str(key), value)}"
            for key, value in detail.items()
            if value is not None
        )
    return _plain(detail)


RATIO_KEYS = frozenset({"share", "tolerance", "threshold", "rate", "grant_rate"})  # fractions, not money


def _word(key: str, value: object) -> str:
    if isinstance(value, str) and NUMBER.fullmatch(value) and key in RATIO_KEYS:
        return percent(Decimal(value))
    if isinstance(value, str) and NUMBER.fullmatch(value) and "." in value:
        return pounds(Decimal(value))  # the alerts' stored figures are money written as the JSON writes it
    if isinstance(value, str) and DAY.fullmatch(value):
        return long_date(date.fromisoformat(value))
    if key == "category" and isinstance(value, str):
        return category_label(value)
    return _plain(value)


DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
