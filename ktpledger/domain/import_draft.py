"""`ktpledger import --init`: a first draft of an import profile from an export's header and rows.

It guesses each column from the names finance systems use, the date format from the values, and
lists every cost code of the file as a commented `[cost_codes]` line to fill in. It is a draft:
every setting has a comment saying what it does, and `--dry-run` shows what the profile makes of
the file before anything is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ktpledger.domain.import_profile import DateFormat, parse_amount

# Names as finance systems write them, compared lower case without spaces, "_", "." or "-".
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "date": (
        "date",
        "transdate",
        "transactiondate",
        "postingdate",
        "postdate",
        "docdate",
        "documentdate",
        "valuedate",
        "gldate",
        "accountingdate",
        "invoicedate",
        "journaldate",
    ),
    "amount": (
        "amount",
        "value",
        "net",
        "netamount",
        "netvalue",
        "amountgbp",
        "amt",
        "transactionamount",
        "localamount",
        "amountinlocalcurrency",
        "amountlc",
        "amountinlc",
        "total",
    ),
    "debit": ("debit", "dr", "debitamount", "debits", "enteredDr".lower(), "accounteddr"),
    "credit": ("credit", "cr", "creditamount", "credits", "enteredcr", "accountedcr"),
    "reference": (
        "reference",
        "ref",
        "docno",
        "documentno",
        "documentnumber",
        "transref",
        "transactionreference",
        "voucher",
        "voucherno",
        "invoiceno",
        "invoicenumber",
        "journalno",
        "transno",
        "transactionnumber",
        "journallineref",
        "linereference",
    ),
    "reverses": (
        "origref",
        "originalref",
        "originalreference",
        "reverses",
        "reversalof",
        "reversedref",
        "againstref",
        "matchref",
        "creditfor",
    ),
    "description": (
        "description",
        "narrative",
        "text",
        "details",
        "desc",
        "linedescription",
        "itemtext",
        "journaldescription",
        "linenarrative",
    ),
    "cost_code": (
        "costcode",
        "account",
        "nominal",
        "gl",
        "glcode",
        "glaccount",
        "nominalcode",
        "accountcode",
        "costelement",
        "expensecode",
        "subjective",
        "glaccountno",
    ),
}
# The groups one of which a header row holds (to find it below title rows).
HEADER_GUESS: tuple[tuple[str, ...], ...] = (
    COLUMN_NAMES["date"],
    COLUMN_NAMES["amount"] + COLUMN_NAMES["debit"],
)
# ISO first: every format also reads ISO dates (a spreadsheet's date cells), so only ISO says so.
DATE_FORMATS = (
    "yyyy-mm-dd",
    "dd/mm/yyyy",
    "dd.mm.yyyy",
    "dd-mm-yyyy",
    "dd-mmm-yyyy",
    "dd mmm yyyy",
    "dd/mm/yy",
)
MAX_COST_CODES = 500


def squeezed(name: str) -> str:
    return re.sub(r"[\s_.\-/#]", "", name).casefold()


def guess_columns(header: Sequence[str]) -> dict[str, str]:
    """Each profile column key and the header's column it most likely is."""
    found: dict[str, str] = {}
    taken: set[str] = set()
    for key, names in COLUMN_NAMES.items():
        for name in names:  # the list's order is the preference
            column = next((c for c in header if squeezed(c) == name and c not in taken), None)
            if column is not None:
                found[key] = column
                taken.add(column)
                break
    if "debit" in found and "credit" in found and "amount" not in found:
        return found
    found.pop("debit", None)
    found.pop("credit", None)
    return found


def guess_date_format(values: Sequence[str]) -> str | None:
    """The one of `DATE_FORMATS` that reads the most values (a totals row reads as none), the
    first on a tie (day before month: a UK export)."""
    best, best_count = None, 0
    for written in DATE_FORMATS:
        form = DateFormat.compile(written)
        count = sum(1 for value in values if form.parse(value) is not None)
        if count > best_count:
            best, best_count = written, count
    return best


TOTALS = re.compile(r"(?i)^\s*(total|sub-?total|balance b/f|brought forward|carried forward)")


def _totals_column(header: Sequence[str], rows: Sequence[Sequence[str]], columns: dict[str, str]) -> str:
    """The column where the file's totals rows say so ("Total"), else the description's."""
    found: dict[int, int] = {}
    for row in rows:
        for index, cell in enumerate(row[: len(header)]):
            if TOTALS.match(cell):
                found[index] = found.get(index, 0) + 1
    if found:
        return header[max(found, key=lambda index: found[index])]
    return columns.get("description") or columns.get("date") or (header[0] if header else "Date")


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def draft_profile(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    name: str = "finance",
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> str:
    """A profile's TOML text for an export with this header and these rows."""
    columns = guess_columns(header)
    position = {column: index for index, column in enumerate(header)}

    def values(key: str) -> list[str]:
        column = columns.get(key)
        if column is None:
            return []
        index = position[column]
        return [row[index].strip() for row in rows if index < len(row) and row[index].strip()]

    date_format = guess_date_format(values("date")[:200]) or "dd/mm/yyyy"
    amounts = values("amount") or values("debit")
    decimal = "." if all(parse_amount(a) is not None for a in amounts[:200]) else ","
    codes = list(dict.fromkeys(values("cost_code")))
    lines = [
        "# ktpledger import profile (docs/cli.md, `ktpledger import`), drafted by `ktpledger import --init`.",
        "# Check every setting, fill in [cost_codes], then try it: ktpledger import FILE --project P",
        "# --profile THIS.toml --dry-run",
        "",
        "# The profile's name starts every event key it makes (PROFILE:COSTCODE:REFERENCE:N): keep it",
        "# once you have imported with it, or re-imports will not be recognised as duplicates.",
        f"name = {_toml(name)}",
        "",
        "[file]",
        '# auto (a byte order mark, else UTF-8, else Windows-1252), "utf-8" or "cp1252"',
        f'encoding = "auto"  # this file read as {encoding or "a workbook"}',
        '# auto (sniffed from , ; TAB |) or the character: ",", ";", "\\t", "|"',
        f'delimiter = "auto"  # found: {delimiter!r}' if delimiter else 'delimiter = "auto"',
        '# the decimal mark of amounts: "." (1,200.00) or "," (1.200,00)',
        f'decimal = "{decimal}"',
        '# header_row = "auto" finds the first row holding every column named below; or a row number',
        'header_row = "auto"',
    ]
    if sheet is not None:
        lines += ["# the workbook's sheet (--sheet overrides it)", f"sheet = {_toml(sheet)}"]
    lines += [
        "",
        "[columns]",
        "# names as in the export's header (case and spaces around them do not matter)",
    ]

    def column_line(key: str, comment: str) -> None:
        if key in columns:
            lines.append(f"{key} = {_toml(columns[key])}  # {comment}")
        else:
            lines.append(f'# {key} = "..."  # {comment} (no column looked like it)')

    column_line("date", "the day the cost was incurred")
    lines.append(
        f"date_format = {_toml(date_format)}  # dd mm yyyy yy mmm, or strftime %d/%m/%Y; "
        "an Excel date cell is read as a date whatever this says"
    )
    if "debit" in columns:
        column_line("debit", "spend: a positive amount")
        column_line("credit", "credits: refunds, credit notes, grant received")
    else:
        column_line(
            "amount", "1,200.00 £1,200.00 -31.20 (31.20) 31.20 CR 31.20- all read; negative is a credit"
        )
    column_line("reference", "the document number: it makes the event's key (else a hash of the row)")
    column_line("reverses", "on a credit: the reference of the claim it reverses")
    column_line("description", "what was bought")
    column_line("cost_code", "the account or nominal code that [cost_codes] maps to a category")
    lines += [
        "",
        "[cost_codes]",
        "# Each cost code of the file, to map to a category: associate_employment,",
        "# academic_secretarial_support, associate_development, travel_subsistence, consumables,",
        "# knowledge_base_supervisor, associate_estates, additional_associate_support.",
        "# A row whose code is not mapped (and that no rule gives a category) is rejected (R-33).",
    ]
    for code in codes[:MAX_COST_CODES]:
        lines.append(f'# {_toml(code)} = "consumables"')
    if len(codes) > MAX_COST_CODES:
        lines.append(f"# ... and {len(codes) - MAX_COST_CODES} more cost codes")
    lines += [
        "",
        "# [[rules]] are tried in order; the first whose patterns (regular expressions, searched) all",
        "# match a row sets its category, tags and/or event. Patterns: description, cost_code,",
        '# reference, or columns = { "Any Column" = "regex" }.',
        "# [[rules]]",
        '# description = "(?i)conference"',
        '# category = "travel_subsistence"',
        '# tags = ["conference"]  # conference computer higher_degree_fee associate_travel academic_travel',
        "# [[rules]]",
        '# description = "(?i)innovate uk|ktp grant"',
        '# event = "GrantPayment"  # or "ParentalLeaveCost"; a grant received may be a credit row',
        "",
        "# [[skip]] rules: a row whose column matches the pattern is skipped (blank rows always are).",
        "[[skip]]",
        f"column = {_toml(_totals_column(header, rows, columns))}",
        f"pattern = {_toml(TOTALS.pattern)}",
        'reason = "totals and balances"',
        "",
    ]
    return "\n".join(lines)
