"""A grant offer letter read into an `OfferDraft` (`ktpledger offer FILE`, issue 13).

Two written forms, one meaning. An XLSX sheet as offices keep the letter's budget table (the
adapter `adapters/offer_files.py` hands over its cells as text with their coordinates): a column
of labels naming the cost lines in the letter's wording, the amounts in the next column holding
numbers, perhaps a total row; the project's parameters as label/value pairs anywhere on the sheet.
Or a TOML file with `[project]`, `[budget]` and `[justifications]` tables.

Labels are matched case- and punctuation-insensitively through small synonym tables
(`LINE_NAMES`, `TERM_NAMES`). Every refusal names the cell (or the TOML key) to fix. The letter's
knowledge base overheads (non_fec) are read but never budgeted: the ledger derives them (R-19).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, TypeVar

from ktpledger.domain.errors import RuleViolation, shown
from ktpledger.domain.money import ZERO, format_pounds, parse_money
from ktpledger.domain.offer import OfferDraft
from ktpledger.domain.rules import BusinessType, Category, Methodology, rule_set_for
from ktpledger.domain.shares import overheads_budget

E = TypeVar("E", bound=StrEnum)
CellKind = Literal["text", "number", "date", "bool", "formula"]


@dataclass(frozen=True)
class Cell:
    """One cell that holds something: `ref` as "C12", its value as text (a number in plain digits,
    a date as YYYY-MM-DD); kind "formula" is a formula with no saved value (its text is empty)."""

    ref: str
    row: int
    column: int
    text: str
    kind: CellKind = "text"


@dataclass(frozen=True)
class Written:
    """A value as written, and where: "cell B4", "[project] months", "--months"."""

    text: str
    where: str


@dataclass(frozen=True)
class LetterLine:
    """One cost line of the letter: its category, its label as written, the amount and where."""

    category: Category
    label: str
    amount: Decimal
    where: str


@dataclass(frozen=True)
class Stated:
    """An amount the letter states, and where: its total."""

    amount: Decimal
    where: str


@dataclass(frozen=True)
class OfferLetter:
    """What a letter states: parameters by term name (`TERMS`), the budget lines (the derived
    overheads among them when stated), the total when stated, and justifications by name."""

    terms: Mapping[str, Written]
    lines: tuple[LetterLine, ...]
    total: Stated | None = None
    justifications: Mapping[str, Written] = field(default_factory=dict)


@dataclass(frozen=True)
class LetterOffer:
    """The draft of a letter's offer, and its stated overheads line (never budgeted, R-19)."""

    draft: OfferDraft
    overheads: LetterLine | None = None


class MissingTerms(Exception):
    """The letter and the options together lack these terms (names of `TERMS`)."""

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = tuple(missing)


def normalized(text: str) -> str:
    """A label as compared: lower case, "&" as "and", anything but letters and digits a space."""
    lowered = text.lower().replace("&", " and ")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", lowered).split())


def _names(table: Mapping[str, Iterable[str]]) -> dict[str, str]:
    return {normalized(name): key for key, names in table.items() for name in (key, *names)}


# The cost lines as offer letters word them (the first name is the one shown in refusals).
LINE_WORDING: Mapping[Category, tuple[str, ...]] = {
    Category.ASSOCIATE_EMPLOYMENT: (
        "Associate Employment Costs",
        "Associate Employment",
        "Associate Employment Cost",
        "Associate Salary",
        "Associate Salary Costs",
    ),
    Category.ASSOCIATE_DEVELOPMENT: (
        "Associate Development",
        "Associate Development Costs",
        "Associate Development Budget",
        "Associate Development and Training",
        "Associate Training",
    ),
    Category.TRAVEL_SUBSISTENCE: ("Travel and Subsistence", "Travel and Subsistence Costs", "Travel"),
    Category.CONSUMABLES: ("Consumables", "Equipment and Consumables", "Materials and Consumables"),
    Category.KNOWLEDGE_BASE_SUPERVISOR: (
        "Knowledge Base Supervisor",
        "Knowledge Base Supervisor Costs",
        "Knowledge Base Supervision",
        "KB Supervisor",
        "Academic Supervisor",
        "Supervisor",
    ),
    Category.ASSOCIATE_ESTATES: (
        "Associate Estates Costs",
        "Associate Estates",
        "Associate Estate Costs",
        "Estates",
        "Estates Costs",
    ),
    Category.ADDITIONAL_ASSOCIATE_SUPPORT: (
        "Additional Associate Support",
        "Additional Associate Support Costs",
        "Additional Support",
    ),
    Category.ACADEMIC_SECRETARIAL_SUPPORT: (
        "Academic and Secretarial Support",
        "Academic and Secretarial Support Costs",
        "Academic Secretarial Support",
        "Academic Support",
    ),
    Category.KNOWLEDGE_BASE_OVERHEADS: (
        "Knowledge Base Overheads",
        "Knowledge Base Overhead",
        "KB Overheads",
        "Overheads",
    ),
}
LINE_NAMES: Mapping[str, Category] = {
    normalized(name): category
    for category, names in LINE_WORDING.items()
    for name in (category.value, *names)
}
TOTAL_NAMES = frozenset(
    normalized(name)
    for name in (
        "Total",
        "Totals",
        "Total Costs",
        "Total Cost",
        "Total Project Costs",
        "Total Project Cost",
        "Total Eligible Costs",
        "Total Budget",
        "Project Total",
        "Grand Total",
    )
)

# The project's parameters: each term, the labels a letter gives it, and its TOML key.
TERM_LABELS: Mapping[str, tuple[str, ...]] = {
    "project": (
        "Project",
        "Project Number",
        "Project Reference",
        "Project Ref",
        "Reference",
        "KTP Number",
        "KTP Reference",
        "KTP Ref",
        "KTP Project Number",
        "Partnership Number",
    ),
    "title": ("Title", "Project Title", "KTP Title", "Partnership Title"),
    "knowledge_base": (
        "Knowledge Base",
        "Knowledge Base Partner",
        "Lead Knowledge Base",
        "KB Partner",
        "Academic Partner",
        "University",
    ),
    "business": (
        "Business",
        "Business Partner",
        "Company",
        "Company Partner",
        "Company Name",
        "Business Name",
    ),
    "start": ("Start Date", "Start", "Project Start", "Project Start Date", "Commencement Date"),
    "months": (
        "Duration (months)",
        "Duration",
        "Duration in Months",
        "Project Duration",
        "Project Duration (months)",
        "Months",
        "Length (months)",
    ),
    "methodology": ("Methodology", "Costing Basis", "Costing Methodology", "Basis of Costing"),
    "business_type": (
        "Business Type",
        "Business Size",
        "Company Size",
        "Company Type",
        "Business Category",
    ),
    "grant_rate": ("Grant Rate", "Grant Percentage", "Intervention Rate", "Innovate UK Contribution"),
    "london": ("London Weighting", "London"),
    "virtual": ("Virtual", "Virtual Business"),
    "supervisor_cost": (
        "Supervisor Cost",
        "Supervisor Annual Cost",
        "Supervisor Salary and Overheads",
        "Knowledge Base Supervisor Annual Cost",
    ),
    "date": ("Offer Date", "Date of Offer", "Date of Letter"),
    "key": ("Idempotency Key",),
}
TERM_NAMES: Mapping[str, str] = _names(TERM_LABELS)
TERMS = tuple(TERM_LABELS)
REQUIRED_TERMS: tuple[str, ...] = ("project", "title", "knowledge_base", "business", "start", "months")
REQUIRED_TERMS += ("methodology", "business_type")
TERM_WHAT = {
    "project": "the project's reference",
    "title": "the title",
    "knowledge_base": "the knowledge base",
    "business": "the business partner",
    "start": "the start date",
    "months": "the duration in months",
    "methodology": "the methodology (fec or non_fec)",
    "business_type": "the business type",
}
TOML_PROJECT_KEYS = {"reference": "project", **{term: term for term in TERMS if term != "project"}}

METHODOLOGY_NAMES = _names(
    {
        "fec": ("FEC", "Full Economic Costing", "Full Economic Cost", "Full Economic Costs"),
        "non_fec": ("non-FEC", "nonFEC", "Non Full Economic Costing", "Marginal"),
    }
)
BUSINESS_TYPE_NAMES = _names(
    {
        "sme": ("SME", "Small", "Medium", "Micro", "Small or Medium", "Small and Medium", "SME Business"),
        "large": ("Large", "Large Enterprise", "Large Business", "Large Company"),
        "not_for_profit": ("Not for Profit", "Non Profit", "Nonprofit", "Charity", "Third Sector"),
        "public_sector": ("Public Sector", "Public"),
    }
)
YES = frozenset({"yes", "y", "true", "1", "x"})
NO = frozenset({"no", "n", "false", "0", ""})
MONTH_NAMES = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
POUNDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
NOTHING = frozenset({"", "-", "\u2013", "\u2014", "nil", "none", "n a"})


def known_lines_text() -> str:
    """The letter's cost lines as a refusal lists them."""
    return ", ".join(names[0] for names in LINE_WORDING.values()) + " and a total row (Total)"


# --- amounts ---------------------------------------------------------------------------------------


def letter_amount(text: str, *, label: str, where: str, kind: CellKind = "text") -> Decimal:
    """An amount of the letter in whole pounds: "£12,345", "12345", "12345.00" or a number; a
    blank or "-" is 0. Pence are refused (R-20), as is anything else, naming the line and cell."""
    if kind == "formula":
        raise formula_refusal(where)
    cleaned = text.strip().replace("\u00a3", "").replace(" ", "").replace("\u00a0", "")
    if normalized(cleaned) in NOTHING and not any(ch.isdigit() for ch in cleaned):
        return ZERO
    if GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    if POUNDS.fullmatch(cleaned) is None:
        raise RuleViolation(
            "R-31",
            f"{label} ({where}): {shown(text)} is not an amount in pounds such as \u00a312,345",
            field="budget",
        )
    amount = Decimal(cleaned)
    if amount != amount.to_integral_value():
        raise RuleViolation(
            "R-20",
            f"{label} ({where}): {shown(text)} has pence; an offer's budget is in whole pounds",
            field="budget",
        )
    return parse_money(amount.quantize(Decimal(1)), field=f"{label} ({where})", whole_pounds=True)


def formula_refusal(where: str) -> RuleViolation:
    return RuleViolation(
        "R-30",
        f"{where} holds a formula with no saved value: open the file in a spreadsheet and save it "
        "(so the value is kept with the formula), or type the value",
        field="cell",
    )


# --- the XLSX sheet --------------------------------------------------------------------------------


def letter_from_cells(cells: Sequence[Cell], *, sheet: str) -> OfferLetter:
    """The offer letter on one sheet: its budget table and its parameters."""
    grid = {(cell.row, cell.column): cell for cell in cells}
    labels = [
        cell
        for cell in cells
        if cell.kind == "text" and normalized(cell.text) in LINE_NAMES and _beside_amount(grid, cell)
    ]
    if not labels:
        raise RuleViolation(
            "R-31",
            f"sheet {shown(sheet)} has no budget table: no cell names a cost line of the offer letter "
            f"({known_lines_text()})",
            field="budget",
        )
    counts: dict[int, int] = {}
    for cell in labels:
        counts[cell.column] = counts.get(cell.column, 0) + 1
    column = min(counts, key=lambda c: (-counts[c], c))
    in_column = sorted(cell.row for cell in labels if cell.column == column)
    first, last = in_column[0], in_column[-1]
    totals = sorted(
        cell.row
        for cell in cells
        if cell.column == column and cell.row > first and normalized(cell.text) in TOTAL_NAMES
    )
    end = totals[0] if totals else last
    if not totals:  # lines the table names in other words, just below its last known one
        while (end + 1, column) in grid and any(r == end + 1 and c > column for r, c in grid):
            end += 1
    amounts = _amount_column(grid, column, first, end)
    if amounts is None:
        raise RuleViolation(
            "R-31",
            f"sheet {shown(sheet)}: no amounts to the right of the cost lines in column "
            f"{_column_name(column)} (rows {first} to {end})",
            field="budget",
        )
    lines: list[LetterLine] = []
    total: Stated | None = None
    seen: dict[Category, str] = {}
    for row in range(first, end + 1):
        label, amount = grid.get((row, column)), grid.get((row, amounts))
        if label is None or not label.text.strip():
            if amount is not None and amount.text.strip():
                raise RuleViolation(
                    "R-31",
                    f"cell {amount.ref} holds an amount with no cost line named in "
                    f"{_column_name(column)}{row}; the lines are {known_lines_text()}",
                    field="budget",
                )
            continue
        name = normalized(label.text)
        text = ""
        kind: CellKind = "text"
        if amount is not None:
            text, kind = amount.text, amount.kind
        where = f"row {row}, cell {_column_name(amounts)}{row}"
        if name in TOTAL_NAMES and row == end and totals:
            total = Stated(
                letter_amount(text, label=label.text.strip(), where=where, kind=kind),
                f"cell {_column_name(amounts)}{row}",
            )
            continue
        category = LINE_NAMES.get(name)
        if category is None:
            raise RuleViolation(
                "R-01",
                f"unknown cost line {shown(label.text.strip())} in cell {label.ref}; the offer "
                f"letter's lines are {known_lines_text()}",
                field="budget",
            )
        if category in seen:
            raise RuleViolation(
                "R-31",
                f"{category.value} is named twice, in cells {seen[category]} and {label.ref}",
                field="budget",
            )
        seen[category] = label.ref
        value = letter_amount(text, label=label.text.strip(), where=where, kind=kind)
        lines.append(LetterLine(category, label.text.strip(), value, f"cell {_column_name(amounts)}{row}"))
    table = {(row, c) for row in range(first, end + 1) for c in (column, amounts)}
    _checked_total(lines, total)
    terms = _terms(cells, grid, table)
    return OfferLetter(terms=terms, lines=tuple(lines), total=total)


def _checked_total(lines: Sequence[LetterLine], total: Stated | None) -> None:
    """A total, when stated, is the sum of the lines (the derived overheads among them)."""
    if total is None:
        return
    stated = sum((line.amount for line in lines), ZERO)
    if stated != total.amount:
        raise RuleViolation(
            "R-31",
            f"the total {format_pounds(total.amount)} ({total.where}) is not the sum of the lines, "
            f"{format_pounds(stated)}: correct a line or the total",
            field="budget",
        )


def _beside_amount(grid: Mapping[tuple[int, int], Cell], label: Cell) -> bool:
    """Whether the first filled cell right of `label` is an amount, a dash, or there is none: so
    "Supervisor | Dr A. Lee" among the parameters is no cost line."""
    right = [c for r, c in grid if r == label.row and c > label.column]
    if not right:
        return True
    cell = grid[(label.row, min(right))]
    return _looks_like_amount(cell) or normalized(cell.text) in NOTHING


def _looks_like_amount(cell: Cell) -> bool:
    if cell.kind in ("number", "formula"):
        return True
    cleaned = cell.text.strip().replace("\u00a3", "").replace(" ", "")
    return cell.kind == "text" and bool(POUNDS.fullmatch(cleaned) or GROUPED.fullmatch(cleaned))


def _amount_column(grid: Mapping[tuple[int, int], Cell], column: int, first: int, end: int) -> int | None:
    """The first column right of the labels that holds an amount in the table's rows."""
    found = [
        c for (r, c), cell in grid.items() if first <= r <= end and c > column and _looks_like_amount(cell)
    ]
    return min(found) if found else None


def _terms(
    cells: Sequence[Cell], grid: Mapping[tuple[int, int], Cell], table: set[tuple[int, int]]
) -> dict[str, Written]:
    """Label/value pairs outside the table: a label cell and the next cell right of it that holds
    something, or "Label: value" in one cell. A term given twice differently is refused."""
    terms: dict[str, Written] = {}
    for cell in sorted(cells, key=lambda c: (c.row, c.column)):
        if (cell.row, cell.column) in table or cell.kind != "text":
            continue
        term = TERM_NAMES.get(normalized(cell.text))
        value: Written | None = None
        if term is not None:
            right = sorted(c for r, c in grid if r == cell.row and c > cell.column)
            if not right:
                continue
            found = grid[(cell.row, right[0])]
            if found.kind == "formula":
                raise formula_refusal(f"cell {found.ref}")
            value = Written(found.text, f"cell {found.ref}")
        else:
            head, colon, rest = cell.text.partition(":")
            term = TERM_NAMES.get(normalized(head)) if colon else None
            if term is None or not rest.strip():
                continue
            value = Written(rest.strip(), f"cell {cell.ref}")
        before = terms.get(term)
        if before is not None and before.text.strip() != value.text.strip():
            raise RuleViolation(
                "R-31",
                f"the letter gives {TERM_WHAT.get(term, term)} twice: {shown(before.text)} in "
                f"{before.where} and {shown(value.text)} in {value.where}",
                field=term,
            )
        terms.setdefault(term, value)
    return terms


def _column_name(column: int) -> str:
    name = ""
    while column:
        column, rest = divmod(column - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


# --- the TOML form ---------------------------------------------------------------------------------


def letter_from_toml(document: Mapping[str, Any]) -> OfferLetter:
    """The offer as written in TOML: `[project]` (keys `TOML_PROJECT_KEYS`), `[budget]` category =
    "amount" and `[justifications]` category = "text", categories as in docs/events.md or in the
    letter's wording."""
    unknown = sorted(set(document) - {"project", "budget", "justifications"})
    if unknown:
        raise RuleViolation(
            "R-30",
            f"unknown table or key {shown(unknown[0])}; an offer's TOML has [project], [budget] and "
            "[justifications]",
            field=unknown[0],
        )
    project = _table(document, "project")
    terms: dict[str, Written] = {}
    for key, value in project.items():
        term = TOML_PROJECT_KEYS.get(key)
        if term is None:
            raise RuleViolation(
                "R-30",
                f"[project] has no key {shown(key)}; its keys are {', '.join(TOML_PROJECT_KEYS)}",
                field=key,
            )
        terms[term] = Written(_toml_text(value, f"[project] {key}"), f"[project] {key}")
    lines: list[LetterLine] = []
    total: Stated | None = None
    seen: dict[Category, str] = {}
    for key, value in _table(document, "budget").items():
        where = f"[budget] {key}"
        text = _toml_text(value, where)
        if normalized(key) in TOTAL_NAMES:
            total = Stated(letter_amount(text, label=key, where=where), where)
            continue
        category = LINE_NAMES.get(normalized(key))
        if category is None:
            raise RuleViolation(
                "R-01",
                f"unknown cost line {shown(key)} in [budget]; the lines are "
                f"{', '.join(c.value for c in LINE_WORDING)} (or as the offer letter words them: "
                f"{known_lines_text()})",
                field="budget",
            )
        if category in seen:
            raise RuleViolation(
                "R-31",
                f"{category.value} is named twice in [budget]: {seen[category]} and {key}",
                field="budget",
            )
        seen[category] = key
        lines.append(LetterLine(category, key, letter_amount(text, label=key, where=where), where))
    _checked_total(lines, total)
    justifications = {
        key: Written(_toml_text(value, f"[justifications] {key}"), f"[justifications] {key}")
        for key, value in _table(document, "justifications").items()
    }
    return OfferLetter(terms=terms, lines=tuple(lines), total=total, justifications=justifications)


def _table(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = document.get(name, {})
    if not isinstance(value, Mapping):
        raise RuleViolation("R-30", f"{name} must be a table: [{name}]", field=name)
    return value


def _toml_text(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    raise RuleViolation(
        "R-30", f"{where} must be a text, a number or a date, got {shown(value)}", field=where
    )


# --- the draft -------------------------------------------------------------------------------------


def offer_from_letter(
    letter: OfferLetter,
    given: Mapping[str, Written],
    justifications: Mapping[str, str],
) -> LetterOffer:
    """The offer of `letter`, its terms overridden or supplied by `given` (the command line's
    options) and its justifications by `justifications`; `MissingTerms` lists every required term
    neither gives; each bad value is refused naming where it was written."""
    terms = {**letter.terms, **given}
    missing = [term for term in REQUIRED_TERMS if not terms.get(term, Written("", "")).text.strip()]
    if missing:
        raise MissingTerms(missing)

    def text(term: str) -> str:
        return terms[term].text.strip()

    def optional(term: str) -> Written | None:
        found = terms.get(term)
        return found if found is not None and found.text.strip() else None

    start = letter_date(terms["start"], term="start")
    written_date = optional("date")
    event_date = None if written_date is None else letter_date(written_date, term="date")
    methodology = _choice(Methodology, METHODOLOGY_NAMES, terms["methodology"], term="methodology")
    business_type = _choice(BusinessType, BUSINESS_TYPE_NAMES, terms["business_type"], term="business_type")
    rules = rule_set_for(event_date or start)
    overheads: LetterLine | None = None
    amounts: dict[Category, Decimal] = {}
    sources: dict[Category, str] = {}
    for line in letter.lines:
        if line.category is Category.KNOWLEDGE_BASE_OVERHEADS and methodology is Methodology.NON_FEC:
            overheads = line
            continue
        if line.category not in rules.claimable(methodology):
            derived = line.category is Category.KNOWLEDGE_BASE_OVERHEADS
            raise RuleViolation(
                "R-19" if derived else "R-31",
                f"{line.label} ({line.where}) is no line of a {methodology.value} project; its lines "
                f"are {', '.join(c.value for c in rules.claimable(methodology))}",
                field="budget",
            )
        amounts[line.category] = line.amount
        sources[line.category] = line.where
    supervisor = optional("supervisor_cost")
    rate = optional("grant_rate")
    key = optional("key")
    named = {**{k: w.text for k, w in letter.justifications.items()}, **justifications}
    draft = OfferDraft(
        project=text("project"),
        start=start,
        title=text("title"),
        knowledge_base=text("knowledge_base"),
        business=text("business"),
        methodology=methodology,
        business_type=business_type,
        months=letter_months(terms["months"]),
        budget={category: amounts.get(category, ZERO) for category in rules.claimable(methodology)},
        london=letter_flag(terms.get("london"), term="london"),
        virtual=letter_flag(terms.get("virtual"), term="virtual"),
        grant_rate=None if rate is None else letter_rate(rate),
        supervisor_cost=None if supervisor is None else _supervisor_cost(supervisor),
        key="offer" if key is None else key.text.strip(),
        event_date=event_date,
        justifications={_category_name(name): reason for name, reason in named.items()},
        sources=sources,
    )
    return LetterOffer(draft=draft, overheads=overheads)


def overheads_note(offer: LetterOffer) -> str | None:
    """A note when the letter's overheads are not what the ledger derives from its lines (R-19)."""
    stated, draft = offer.overheads, offer.draft
    if stated is None:
        return None
    rules = rule_set_for(draft.on)
    rate = draft.grant_rate or rules.grant_rate(draft.methodology, draft.business_type)
    derived = overheads_budget(draft.budget, rate, rules)
    if derived == stated.amount:
        return None
    return (
        f"the letter's {stated.label} ({stated.where}) is {format_pounds(stated.amount)}, but "
        f"{rules.overheads_rate:.0%} of the grant share of "
        + " + ".join(c.value for c in rules.overheads_sources)
        + f" is {format_pounds(derived)}: the ledger derives knowledge_base_overheads itself (R-19) "
        "and the event leaves it out"
    )


def _category_name(name: str) -> str:
    """A justification's category as the event names it, when the name is one the letter uses."""
    category = LINE_NAMES.get(normalized(name))
    return name.strip() if category is None else category.value


def letter_date(written: Written, *, term: str) -> date:
    """A date as offices write it: 2024-06-01, 01/06/2024 (day first) or 1 June 2024."""
    text = written.text.strip()
    found: date | None = None
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            found = date.fromisoformat(text)
        elif match := re.fullmatch(r"([0-9]{1,2})[/.]([0-9]{1,2})[/.]([0-9]{4})", text):
            found = date(int(match[3]), int(match[2]), int(match[1]))
        elif match := re.fullmatch(r"([0-9]{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\.?,?\s+([0-9]{4})", text):
            month = MONTH_NAMES.get(match[2].lower())
            found = None if month is None else date(int(match[3]), month, int(match[1]))
    except ValueError:
        found = None
    if found is None:
        raise RuleViolation(
            "R-01" if term == "start" else "R-30",
            f"{term} ({written.where}) must be a date such as 2024-06-01, 01/06/2024 or 1 June 2024, "
            f"got {shown(written.text)}",
            field=term,
        )
    return found


def letter_months(written: Written) -> int:
    """Whole months: "24", "24 months" or a number."""
    match = re.fullmatch(r"([0-9]{1,3})(?:\.0+)?(?:\s*months?)?", written.text.strip(), flags=re.IGNORECASE)
    if match is None:
        raise RuleViolation(
            "R-02",
            f"months ({written.where}) must be a whole number of months, got {shown(written.text)}",
            field="months",
        )
    return int(match[1])


def letter_rate(written: Written) -> Decimal:
    """A grant rate: "0.67", "67%" or 67 (a percentage when above 1)."""
    text = written.text.strip()
    percent = text.endswith("%")
    digits = text.removesuffix("%").strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", digits) is None:
        raise RuleViolation(
            "R-03",
            f"grant_rate ({written.where}) must be a rate such as 0.67 or 67%, got {shown(written.text)}",
            field="grant_rate",
        )
    rate = Decimal(digits)
    if percent or rate > 1:
        rate /= 100
    if not ZERO < rate <= 1:
        raise RuleViolation(
            "R-03",
            f"grant_rate ({written.where}) must be above 0 and at most 1, got {shown(text)}",
            field="grant_rate",
        )
    normal = rate.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def letter_flag(written: Written | None, *, term: str) -> bool:
    """Yes or no (also true/false, y/n, 1/0); none given is no."""
    if written is None:
        return False
    text = normalized(written.text)
    if text in YES:
        return True
    if text in NO:
        return False
    raise RuleViolation(
        "R-01", f"{term} ({written.where}) must be yes or no, got {shown(written.text)}", field=term
    )


def _supervisor_cost(written: Written) -> Decimal:
    cleaned = written.text.strip().replace("\u00a3", "").replace(" ", "")
    if GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    return parse_money(cleaned, field=f"supervisor_cost ({written.where})")


def _choice(kind: type[E], names: Mapping[str, str], written: Written, *, term: str) -> E:
    value = names.get(normalized(written.text))
    if value is None:
        accepted = ", ".join(member.value for member in kind)
        raise RuleViolation(
            "R-03" if term == "business_type" else "R-01",
            f"unknown {term} {shown(written.text)} ({written.where}); use one of {accepted}",
            field=term,
        )
    return kind(value)
