"""An import profile (docs/cli.md, "ktpledger import"): how one finance system's spend export maps
onto ledger events, read from a TOML mapping; and the pure work of an import: amounts and dates as
the exports write them, a row into a candidate event, and the idempotency key of each row.

Everything here is stdlib and pure: the file is read by `adapters/export_files.py`, the rows are
planned against the project's state by `service/imports.py`.

Every refusal of a profile is a `RuleViolation` under R-30 (the form of input) whose `field` is
the profile's own key (`columns.date`, `rules[2].pattern`), so the user knows what line to edit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import quote, unquote

from ktpledger.domain.errors import RuleViolation, shown
from ktpledger.domain.rules import Category, Tag, near_name

PROFILE_RULE = "R-30"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
MAX_KEY = 200  # docs/events.md: an idempotency key is at most 200 printable characters
HASH_LENGTH = 16  # hex digits of a content hash: 64 bits, ample for one project's rows
DELIMITERS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|"}
ENCODINGS = ("auto", "utf-8", "cp1252")
IMPORTED_EVENTS = ("SpendClaimed", "ParentalLeaveCost", "GrantPayment")
ZERO = Decimal(0)
PENNY = Decimal("0.01")

TOP_KEYS = frozenset({"name", "file", "columns", "cost_codes", "rules", "skip"})
FILE_KEYS = frozenset({"encoding", "delimiter", "sheet", "header_row", "decimal"})
COLUMN_KEYS = frozenset(
    {"date", "date_format", "amount", "debit", "credit", "reference", "reverses", "description", "cost_code"}
)
RULE_KEYS = frozenset({"description", "cost_code", "reference", "columns", "category", "tags", "event"})
SKIP_KEYS = frozenset({"column", "pattern", "reason"})


def refused(field_name: str, message: str) -> RuleViolation:
    """A refusal of the profile naming its field."""
    return RuleViolation(PROFILE_RULE, f"profile {field_name}: {message}", field=field_name)


# --- dates ---------------------------------------------------------------------------------------

# The tokens of a written pattern (`dd/mm/yyyy`) and of strftime (`%d/%m/%Y`), longest first.
_TOKENS: Sequence[tuple[str, str, str]] = (
    ("yyyy", "%Y", r"(?P<y>[0-9]{4})"),
    ("mmm", "%b", r"(?P<b>[A-Za-z]{3,9})"),
    ("yy", "%y", r"(?P<yy>[0-9]{2})"),
    ("mm", "%m", r"(?P<m>[0-9]{1,2})"),
    ("dd", "%d", r"(?P<d>[0-9]{1,2})"),
    ("m", "", r"(?P<m>[0-9]{1,2})"),
    ("d", "", r"(?P<d>[0-9]{1,2})"),
)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
# How a spreadsheet's date cell arrives (`adapters/export_files.py`), with its time if it has one.
ISO_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
)


@dataclass
class DateFormat:
    """A date pattern compiled once; parsed values are remembered (an export repeats its dates)."""

    written: str
    pattern: re.Pattern[str]
    _seen: dict[str, date] = field(default_factory=dict, repr=False)

    @classmethod
    def compile(cls, written: str, *, field_name: str = "columns.date_format") -> DateFormat:
        text = written.strip()
        if "%" in text:
            for token, directive, _ in _TOKENS:
                if directive:
                    text = text.replace(directive, token)
            if "%" in text:
                raise refused(
                    field_name,
                    f"{shown(written)} uses a strftime directive other than %d %m %Y %y %b; "
                    "write it as dd/mm/yyyy, yyyy-mm-dd, dd-mmm-yyyy and the like",
                )
        regex, position, seen = "", 0, set()
        while position < len(text):
            for token, _, group in _TOKENS:
                if text.startswith(token, position):
                    name = group[4 : group.index(">")]
                    kind = "y" if name in ("y", "yy") else "m" if name in ("m", "b") else "d"
                    if kind in seen:
                        raise refused(field_name, f"{shown(written)} names the {kind} part twice")
                    seen.add(kind)
                    regex += group
                    position += len(token)
                    break
            else:
                char = text[position]
                if char.isalnum():
                    raise refused(
                        field_name,
                        f"{shown(written)} is no date pattern: use dd, mm (or mmm for Jan), yyyy (or yy) "
                        "and separators, e.g. dd/mm/yyyy, or strftime's %d/%m/%Y",
                    )
                regex += re.escape(char)
                position += 1
        if seen != {"y", "m", "d"}:
            raise refused(field_name, f"{shown(written)} must name the day, the month and the year")
        return cls(written, re.compile(regex, re.IGNORECASE))

    def parse(self, text: str) -> date | None:
        """The day `text` names, or None if it is not written in this format (nor as ISO
        `YYYY-MM-DD`, which is how a spreadsheet's date cell arrives) or no calendar day."""
        found = self._seen.get(text)
        if found is not None:
            return found
        value = text.strip()
        try:
            iso = ISO_DATE.fullmatch(value)
            if iso is not None:
                day = date(int(iso[1]), int(iso[2]), int(iso[3]))
            else:
                match = self.pattern.fullmatch(value)
                if match is None:
                    return None
                parts = match.groupdict()
                year = int(parts["y"]) if parts.get("y") else 2000 + int(parts["yy"])
                month = int(parts["m"]) if parts.get("m") else _MONTHS.get(parts["b"].lower(), 0)
                day = date(year, month, int(parts["d"]))
        except ValueError:
            return None
        self._seen[text] = day
        return day


# --- amounts -------------------------------------------------------------------------------------

_POINT_NUMBER = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_COMMA_NUMBER = re.compile(r"(?:[0-9]{1,3}(?:[. \u00a0\u202f][0-9]{3})+|[0-9]+)(?:,[0-9]+)?")
_PLAIN_AMOUNT = re.compile(r"\s*(-?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]{1,2}))?\s*")
AMOUNT_FORMS = "1200.00, 1,200.00, £1,200.00, -31.20, (31.20), 31.20 CR or 31.20-"


def parse_amount(text: str, *, decimal_mark: str = ".") -> Decimal | None:
    """A signed amount as finance exports write it, or None if `text` is none: `1200.00`,
    `1,200.00`, `£1,200.00`, `-31.20`, `(31.20)`, `31.20 CR` (DR is a debit), SAP's `31.20-`;
    with `decimal_mark` "," also `1.200,00`. At most pennies: `31.205` is refused, `31.2000` is not."""
    plain = _PLAIN_AMOUNT.fullmatch(text) if decimal_mark == "." else None
    if plain is not None:  # the usual cell ("1,200.00", "-31.20"), read at once
        amount = Decimal(f"{plain[2].replace(',', '')}.{(plain[3] or '').ljust(2, '0')}")
        return -amount if plain[1] else amount
    value = text.strip()
    signs = 0  # one way of writing a credit at most: "--1" or "(1.00) CR" is no amount
    if value.startswith("(") and value.endswith(")"):
        signs, value = signs + 1, value[1:-1].strip()
    upper = value.upper()
    if upper.endswith("CR"):
        signs, value = signs + 1, value[:-2].strip()
    elif upper.endswith("DR"):
        value = value[:-2].strip()
    for _ in range(2):  # a sign and a currency either way round: -£31.20, £-31.20
        if value.endswith("-"):
            signs, value = signs + 1, value[:-1].strip()
        if value.startswith("-"):
            signs, value = signs + 1, value[1:].strip()
        elif value.startswith("+"):
            value = value[1:].strip()
        for currency in ("£", "GBP"):
            if value.upper().startswith(currency):
                value = value[len(currency) :].strip()
    if signs > 1:
        return None
    negative = signs == 1
    if decimal_mark == ",":
        if _COMMA_NUMBER.fullmatch(value) is None:
            return None
        value = re.sub(r"[. \u00a0\u202f]", "", value).replace(",", ".")
    else:
        if _POINT_NUMBER.fullmatch(value) is None:
            return None
        value = value.replace(",", "")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    if amount != amount.quantize(PENNY):
        return None
    amount = amount.quantize(PENNY)
    return -amount if negative else amount


def pence(amount: Decimal) -> int:
    return int(amount * 100)


# --- the profile ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Which column of the export holds what (names as in the header, matched without regard to
    case or surrounding spaces)."""

    date: str
    amount: str | None
    debit: str | None
    credit: str | None
    reference: str | None
    reverses: str | None
    description: str | None
    cost_code: str | None

    def named(self) -> dict[str, str]:
        """Each profile field that names a column, and the column it names."""
        return {
            f"columns.{name}": value
            for name, value in (
                ("date", self.date),
                ("amount", self.amount),
                ("debit", self.debit),
                ("credit", self.credit),
                ("reference", self.reference),
                ("reverses", self.reverses),
                ("description", self.description),
                ("cost_code", self.cost_code),
            )
            if value is not None
        }


@dataclass(frozen=True)
class Rule:
    """One of the profile's ordered `[[rules]]`: where every pattern it has matches a row (a
    regex search), the first such rule sets the row's category, tags and event."""

    index: int
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (column, regex); "" names description etc.
    category: Category | None
    tags: tuple[Tag, ...]
    event: str | None


@dataclass(frozen=True)
class Skip:
    """One of the profile's `[[skip]]` rules: a row whose `column` matches `pattern` is skipped."""

    index: int
    column: str
    pattern: re.Pattern[str]
    reason: str


@dataclass(frozen=True)
class Profile:
    name: str
    encoding: str
    delimiter: str | None  # None: sniffed
    sheet: str | None
    header_row: int | None  # None: found
    decimal_mark: str
    columns: Columns
    date_format: DateFormat
    cost_codes: Mapping[str, Category]
    rules: tuple[Rule, ...]
    skips: tuple[Skip, ...]

    def wanted_columns(self) -> list[str]:
        """Every column the profile names: the header row is the first row holding them all."""
        names = list(self.columns.named().values())
        names += [column for rule in self.rules for column, _ in rule.patterns if not column.startswith("<")]
        names += [skip.column for skip in self.skips]
        return list(dict.fromkeys(names))

    def column_fields(self) -> dict[str, str]:
        """Each column the profile names and the (first) profile field naming it."""
        found = {value: name for name, value in reversed(list(self.columns.named().items()))}
        for rule in reversed(self.rules):
            for column, _ in rule.patterns:
                if not column.startswith("<"):
                    found[column] = f"rules[{rule.index}].columns"
        for skip in reversed(self.skips):
            found[skip.column] = f"skip[{skip.index}].column"
        return found


def _table(value: object, field_name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise refused(field_name, "must be a table")
    return value


def _keys(table: Mapping[str, Any], allowed: frozenset[str], field_name: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        where = f"{field_name}." if field_name else ""
        near = near_name(unknown[0], allowed)
        hint = f"; did you mean {near}?" if near else ""
        raise refused(
            f"{where}{unknown[0]}",
            f"unknown key {shown(unknown[0])}{hint} The keys here are {', '.join(sorted(allowed))}",
        )


def _string(table: Mapping[str, Any], key: str, field_name: str, *, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise refused(field_name, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise refused(field_name, f"must be a non-empty string, got {shown(value)}")
    return value.strip()


def _regex(value: object, field_name: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise refused(field_name, f"must be a regular expression as a string, got {shown(value)}")
    try:
        return re.compile(value)
    except re.error as error:
        raise refused(field_name, f"{shown(value)} is not a regular expression: {error}") from None


def _category(value: object, field_name: str) -> Category:
    names = [c.value for c in Category if c is not Category.KNOWLEDGE_BASE_OVERHEADS]
    if isinstance(value, str) and value in names:
        return Category(value)
    near = near_name(value, names)
    hint = f"did you mean {near}? " if near else ""
    raise refused(
        field_name, f"{shown(value)} is not a category: {hint}the categories are {', '.join(names)}"
    )


def _tags(value: object, field_name: str) -> tuple[Tag, ...]:
    if not isinstance(value, list):
        raise refused(field_name, "must be a list of tag names")
    names = [tag.value for tag in Tag]
    tags = []
    for item in value:
        if not isinstance(item, str) or item not in names:
            near = near_name(item, names)
            hint = f"did you mean {near}? " if near else ""
            raise refused(field_name, f"{shown(item)} is not a tag: {hint}the tags are {', '.join(names)}")
        tags.append(Tag(item))
    return tuple(sorted(set(tags)))


def profile_from_mapping(document: Mapping[str, Any]) -> Profile:
    """The profile a TOML document (as `tomllib` reads it) describes, or a `RuleViolation` (R-30)
    naming the first field that is wrong."""
    _keys(document, TOP_KEYS, "")
    name = _string(document, "name", "name", required=True)
    assert name is not None
    if NAME_PATTERN.fullmatch(name) is None:
        raise refused(
            "name",
            f"{shown(name)} must be 1-40 letters, digits and . _ - (a letter or digit first): it starts every key",
        )
    file = _table(document.get("file", {}), "file")
    _keys(file, FILE_KEYS, "file")
    encoding = (_string(file, "encoding", "file.encoding") or "auto").lower().replace("_", "-")
    encoding = {"utf8": "utf-8", "windows-1252": "cp1252", "utf-8-sig": "utf-8"}.get(encoding, encoding)
    if encoding not in ENCODINGS:
        raise refused("file.encoding", f"{shown(encoding)} is not one of {', '.join(ENCODINGS)}")
    raw_delimiter = file.get("delimiter", "auto")
    if raw_delimiter == "auto":
        delimiter = None
    elif isinstance(raw_delimiter, str) and raw_delimiter in DELIMITERS:
        delimiter = DELIMITERS[raw_delimiter]
    else:
        raise refused(
            "file.delimiter",
            f'{shown(raw_delimiter)} is not one of "auto", ",", ";", "\\t" (or "tab"), "|"',
        )
    sheet = _string(file, "sheet", "file.sheet")
    raw_header = file.get("header_row", "auto")
    if raw_header == "auto":
        header_row = None
    elif type(raw_header) is int and raw_header >= 1:
        header_row = raw_header
    else:
        raise refused("file.header_row", f'must be "auto" or a row number from 1, got {shown(raw_header)}')
    decimal_mark = file.get("decimal", ".")
    if decimal_mark not in (".", ","):
        raise refused("file.decimal", f'must be "." or ",", got {shown(decimal_mark)}')
    columns = _columns(_table(document.get("columns"), "columns") if "columns" in document else None)
    date_format = DateFormat.compile(
        _string(_table(document["columns"], "columns"), "date_format", "columns.date_format", required=True)
        or ""
    )
    cost_codes = {
        str(code).strip(): _category(category, f"cost_codes.{code}")
        for code, category in _table(document.get("cost_codes", {}), "cost_codes").items()
    }
    rules = tuple(_rule(index, item) for index, item in enumerate(_list(document, "rules"), start=1))
    for rule in rules:
        for column, _ in rule.patterns:
            if column.startswith("<") and getattr(columns, column[1:-1]) is None:
                raise refused(
                    f"rules[{rule.index}].{column[1:-1]}",
                    f"matches the {column[1:-1]} column, but [columns] names none: add {column[1:-1]} = "
                    '"..." to [columns], or match a column by name with columns = { "Name" = "regex" }',
                )
    skips = tuple(_skip(index, item) for index, item in enumerate(_list(document, "skip"), start=1))
    return Profile(
        name=name,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        header_row=header_row,
        decimal_mark=str(decimal_mark),
        columns=columns,
        date_format=date_format,
        cost_codes=cost_codes,
        rules=rules,
        skips=skips,
    )


def _list(document: Mapping[str, Any], key: str) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise refused(key, f"must be an array of tables: write [[{key}]] above each")
    return value


def _columns(table: Mapping[str, Any] | None) -> Columns:
    if table is None:
        raise refused("columns", "is required: a [columns] table naming at least date and amount")
    _keys(table, COLUMN_KEYS, "columns")

    def column(key: str, *, required: bool = False) -> str | None:
        return _string(table, key, f"columns.{key}", required=required)

    amount, debit, credit = column("amount"), column("debit"), column("credit")
    if amount is None and (debit is None or credit is None):
        raise refused("columns.amount", "name the amount column, or both debit and credit columns")
    if amount is not None and (debit is not None or credit is not None):
        raise refused("columns.amount", "name either amount, or debit and credit, not both")
    return Columns(
        date=column("date", required=True) or "",
        amount=amount,
        debit=debit,
        credit=credit,
        reference=column("reference"),
        reverses=column("reverses"),
        description=column("description"),
        cost_code=column("cost_code"),
    )


def _rule(index: int, item: object) -> Rule:
    where = f"rules[{index}]"
    table = _table(item, where)
    _keys(table, RULE_KEYS, where)
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for key in ("description", "cost_code", "reference"):
        if key in table:
            patterns.append((f"<{key}>", _regex(table[key], f"{where}.{key}")))
    for column, pattern in _table(table.get("columns", {}), f"{where}.columns").items():
        patterns.append((str(column).strip(), _regex(pattern, f"{where}.columns.{column}")))
    if not patterns:
        raise refused(where, "matches nothing: give description, cost_code, reference or columns patterns")
    category = _category(table["category"], f"{where}.category") if "category" in table else None
    tags = _tags(table["tags"], f"{where}.tags") if "tags" in table else ()
    event = table.get("event")
    if event is not None and event not in IMPORTED_EVENTS:
        raise refused(f"{where}.event", f"{shown(event)} is not one of {', '.join(IMPORTED_EVENTS)}")
    if category is None and not tags and event is None:
        raise refused(where, "sets nothing: give category, tags or event")
    return Rule(index, tuple(patterns), category, tags, event)


def _skip(index: int, item: object) -> Skip:
    where = f"skip[{index}]"
    table = _table(item, where)
    _keys(table, SKIP_KEYS, where)
    column = _string(table, "column", f"{where}.column", required=True) or ""
    pattern = _regex(table.get("pattern"), f"{where}.pattern")
    reason = _string(table, "reason", f"{where}.reason") or f"skip rule {index}"
    return Skip(index, column, pattern, reason)


# --- rows ----------------------------------------------------------------------------------------

Kind = Literal["claim", "credit", "parental_leave", "grant_payment"]


@dataclass(frozen=True)
class Mapped:
    """A row read through the profile: what it says, before the project is asked about it."""

    kind: Kind
    day: date
    amount: Decimal  # signed as in the export: a credit is negative
    cost_code: str
    description: str
    reference: str
    reverses: str
    category: Category | None
    tags: tuple[Tag, ...]
    basis: str  # the key without its occurrence count


@dataclass(frozen=True)
class Skipped:
    reason: str


class RowProblem(RuleViolation):
    """A row that cannot become an event, naming its column."""


def normalised(text: str) -> str:
    """A column name as matched: case and spaces around it ignored, inner runs of space as one."""
    return " ".join(text.split()).casefold()


@dataclass
class RowReader:
    """The profile applied to rows of one header: column positions worked out once."""

    profile: Profile
    header: Sequence[str]
    positions: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        by_name: dict[str, int] = {}
        for index, name in enumerate(self.header):
            by_name.setdefault(normalised(name), index)
        # Each column the profile names, as written there, and its index: looked up once a cell.
        self.positions = {
            column: by_name[normalised(column)]
            for column in self.profile.wanted_columns()
            if normalised(column) in by_name
        }

    def cell(self, cells: Sequence[str], column: str | None) -> str:
        index = self.positions.get(column) if column is not None else None
        if index is None or index >= len(cells):
            return ""
        return cells[index].strip()

    def skipped(self, cells: Sequence[str]) -> Skipped | None:
        """Why the row is skipped (blank, or a `[[skip]]` rule matches), if it is."""
        if not "".join(cells).strip():
            return Skipped("blank row")
        for skip in self.profile.skips:
            if skip.pattern.search(self.cell(cells, skip.column)):
                return Skipped(f"skip[{skip.index}]: {skip.reason}")
        return None

    def read(self, cells: Sequence[str]) -> Mapped | Skipped:
        """The row (not `skipped`) as a candidate event, or `Skipped` for a zero amount;
        `RowProblem` when it is wrong."""
        profile, columns = self.profile, self.profile.columns
        raw_date = self.cell(cells, columns.date)
        day = profile.date_format.parse(raw_date)
        if day is None:
            raise RowProblem(
                "R-30",
                f"column {shown(columns.date)}: {shown(raw_date)} is not a date as "
                f"{profile.date_format.written}",
                field=columns.date,
            )
        amount = self._amount(cells)
        if amount == ZERO:
            return Skipped("zero amount: nothing to record")
        cost_code = self.cell(cells, columns.cost_code)
        description = " ".join(self.cell(cells, columns.description).split())
        reference = self.cell(cells, columns.reference)
        reverses = self.cell(cells, columns.reverses)
        category: Category | None = None
        tags: tuple[Tag, ...] = ()
        event: str | None = None
        known = {"<description>": description, "<cost_code>": cost_code, "<reference>": reference}
        for rule in profile.rules:
            for column, pattern in rule.patterns:
                text = known.get(column)
                if pattern.search(self.cell(cells, column) if text is None else text) is None:
                    break
            else:
                category, tags, event = rule.category, rule.tags, rule.event
                break
        if category is None:
            category = profile.cost_codes.get(cost_code)
        kind: Kind
        if event == "GrantPayment":
            kind = "grant_payment"
        elif event == "ParentalLeaveCost":
            kind = "parental_leave"
        else:
            kind = "credit" if amount < 0 else "claim"
            if category is None:
                raise RowProblem(
                    "R-33",
                    f"cost code {shown(cost_code)} is not in the profile's [cost_codes] and no rule gives "
                    f'this row a category: add it to [cost_codes], e.g. "{cost_code}" = "consumables"',
                    field=columns.cost_code or "cost_code",
                )
        basis = key_basis(profile.name, cost_code, reference, day, amount, description)
        return Mapped(kind, day, amount, cost_code, description, reference, reverses, category, tags, basis)

    def _amount(self, cells: Sequence[str]) -> Decimal:
        columns, mark = self.profile.columns, self.profile.decimal_mark
        if columns.amount is not None:
            return self._money(cells, columns.amount, mark)
        assert columns.debit is not None and columns.credit is not None
        return self._money(cells, columns.debit, mark, blank_zero=True) - self._money(
            cells, columns.credit, mark, blank_zero=True
        )

    def _money(self, cells: Sequence[str], column: str, mark: str, *, blank_zero: bool = False) -> Decimal:
        raw = self.cell(cells, column)
        if not raw and blank_zero:
            return ZERO
        amount = parse_amount(raw, decimal_mark=mark)
        if amount is None:
            forms = AMOUNT_FORMS if mark == "." else "1.200,00, -31,20, (31,20), 31,20 CR or 31,20-"
            raise RowProblem(
                "R-30",
                f"column {shown(column)}: {shown(raw)} is not an amount in pounds and pence ({forms})",
                field=column,
            )
        return amount


# --- keys ----------------------------------------------------------------------------------------

# Everything printable but the key's separator ":" and the escape "%", kept as written.
_SAFE = "".join(chr(c) for c in range(32, 127) if chr(c) not in ":%#" and not chr(c).isalnum())


_PLAIN = re.compile(r"[A-Za-z0-9 !\"$&'()*+,./;<=>?@\[\\\]^_`{|}~-]*")


def _part(text: str) -> str:
    if _PLAIN.fullmatch(text):  # the usual reference or code: nothing to escape
        return text
    return quote(text, safe=_SAFE)


def content_hash(day: date, amount: Decimal, cost_code: str, description: str) -> str:
    """A stable hash of a row's mapped content: the same row from a CSV or an XLSX hashes alike."""
    text = "\x1f".join((day.isoformat(), str(pence(amount)), cost_code, description))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def key_basis(
    profile: str, cost_code: str, reference: str, day: date, amount: Decimal, description: str
) -> str:
    """`PROFILE:COSTCODE:REFERENCE` or, with no reference, `PROFILE:COSTCODE:#HASH` (docs/cli.md,
    "Keys"). Each part is percent-escaped (":" "%" "#" and anything not printable ASCII), so
    `imported_parts` reads it back; the reference is cut, and a hash of it kept, to fit 200."""
    if reference:
        written = _part(reference)
        room = MAX_KEY - len(profile) - len(_part(cost_code)) - 12
        if len(written) > room:
            digest = hashlib.sha256(reference.encode("utf-8")).hexdigest()[:HASH_LENGTH]
            written = f"{written[: max(room - HASH_LENGTH - 1, 0)]}~{digest}"
    else:
        written = "#" + content_hash(day, amount, cost_code, description)
    code = _part(cost_code)
    if len(code) > 60:
        code = code[:43] + "~" + hashlib.sha256(cost_code.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    return f"{profile}:{code}:{written}"


def row_key(basis: str, occurrence: int) -> str:
    """The key of the `occurrence`-th row (from 1) of this file with the same basis."""
    return f"{basis}:{occurrence}"


@dataclass(frozen=True)
class ImportedKey:
    profile: str
    cost_code: str
    reference: str  # "" for a hash key
    occurrence: int


def imported_parts(key: str) -> ImportedKey | None:
    """What an imported claim's key says (its profile, cost code, reference), or None for a key
    an import did not make."""
    parts = key.split(":")
    if len(parts) != 4 or not parts[3].isdigit() or NAME_PATTERN.fullmatch(parts[0]) is None:
        return None
    reference = "" if parts[2].startswith("#") else unquote(parts[2])
    return ImportedKey(parts[0], unquote(parts[1]), reference, int(parts[3]))
