"""XLSX with openpyxl: one sheet per table (the statement first), headers for people in a bold
frozen row repeated on every printed page, money as numeric cells formatted "£#,##0.00", the rate
"0%", dates "d mmmm yyyy", totals as SUM formulas (the workbook is recalculated on opening: no cached
values are stored), text guarded against formula injection and typed as text; set up to print
landscape, fit to the page's width, with a footer naming the report and page N of M.

Money: the figures are the read models' `Decimal`s, to the penny as the JSON writes them: no
float is made by this module. openpyxl takes a `Decimal` cell value as a number and writes it with 16
significant digits; for a figure of at most 15 significant digits (every amount below
10,000,000,000,000.00) that text reads back as the IEEE double nearest the exact figure, which is
the most any spreadsheet number can hold (Excel keeps every number as a double). Reading the cell
back and taking its shortest form gives the JSON's figure again. A figure with more digits than
that would not survive, so it is written as text rather than rounded silently. The JSON and CSV
remain the exact record.

The workbook is byte-for-byte deterministic: its created/modified properties and the archive's
timestamps come from the statement (the closing date, the quarter's end, or the project's start),
never from the clock.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.header_footer import HeaderFooterItem
from openpyxl.worksheet.header_footer import _HeaderFooterPart as _Footer
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from ktpledger.domain.labels import category_label, kind_label
from ktpledger.reports.cells import (
    BUSINESS_TYPE_LABELS,
    CHANGE_LABELS,
    LIMIT_SHORT,
    METHODOLOGY_LABELS,
    Statement,
    Value,
    guard_text,
    label,
    long_day,
    money,
    number_text,
)
from ktpledger.reports.csv_report import cell_text
from ktpledger.reports.tabular import (
    RECONCILIATION_COLUMNS,
    Block,
    appendix_blocks,
    claim_pack_blocks,
    reconciliation_blocks,
)
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.report_appendix import AuditAppendix
from ktpledger.service.statement_models import ReconciliationStatement

MONEY_FORMAT = '"£"#,##0.00;-"£"#,##0.00'
PERCENT_FORMAT = "0%"
PERCENT_NUMBER_FORMAT = '0.0"%"'  # a variance already in percent (-97.5)
DATE_FORMAT = "d mmmm yyyy"
BOLD = Font(bold=True)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFD9E1F2", end_color="FFD9E1F2")
TOTAL_FILL = PatternFill(fill_type="solid", start_color="FFF2F2F2", end_color="FFF2F2F2")
MIN_WIDTH = 8
MAX_WIDTH = 60
MAX_DIGITS = 15

# Columns whose codes people read by the guidance's names, and figures that are not money.
CATEGORY_FIELDS = frozenset(
    {
        "category",
        "claim_category",
        "alert_category",
        "finding_category",
        "item_category",
        "adjustment_category",
    }
)
RATE_FIELDS = frozenset({"grant_rate"})
PERCENT_FIELDS = frozenset({"variance_percent"})
HEADINGS = {
    "category": "Cost line",
    "limit_kind": "Limit",
    "changes": "LMC changes",
    "ineligible_reasons": "Why ineligible",
    "in_quarter": "In the quarter",
    "forecast_over_budget": "Forecast over budget",
    "claim_category": "Cost line",
    "alert_category": "Cost line",
    "finding_category": "Cost line",
    "item_category": "Cost line",
    "adjustment_category": "Cost line",
    "variance_percent": "Variance % of forecast",
    "prior_period_adjustment": "Prior-period adjustment",
    "head_hash": "Head hash",
    "knowledge_base": "Knowledge base",
    "project": "Innovate UK project reference",
    "independent_report_threshold": "Independent accountant's report above",
}


def heading(field: str) -> str:
    """A column's (or a fact's) name for people: "original_budget" -> "Original budget"."""
    return label(HEADINGS, field)


def shown(field: str, value: Value) -> Value:
    """A cell's value for people: a cost line's code as the guidance names it, a methodology or a
    business type spelled out; every other value as it is."""
    if isinstance(value, str):
        if field in CATEGORY_FIELDS and value != "total":
            return category_label(value)
        if field == "total" or value == "total":
            return "Total"
        if field == "limit_kind":
            return label(LIMIT_SHORT, value)
        if field in {"kind", "decision_kind"}:
            return label(CHANGE_LABELS, value)
        if field == "alert_kind":
            return kind_label(value)
        if field == "methodology":
            return label(METHODOLOGY_LABELS, value)
        if field == "business_type":
            return label(BUSINESS_TYPE_LABELS, value)
    return value


def exact_in_xlsx(amount: Decimal) -> bool:
    """Whether the number openpyxl writes for `amount` ("%.16g") reads back as the double nearest
    to it: true for every decimal of at most 15 significant digits. (If the 16-digit rounding of
    that double is `amount` itself, it reads back as that double; otherwise the rounding moved it by
    at most half a unit of the 16th digit, which is then less than half the double's spacing.)"""
    return len(amount.normalize().as_tuple().digits) <= MAX_DIGITS


def _set(cell: Cell, value: Value, *, bold: bool = False, field: str = "") -> None:
    if value is None:
        pass
    elif isinstance(value, bool):
        cell.value = "yes" if value else "no"
        cell.data_type = "s"
    elif isinstance(value, Decimal):
        if exact_in_xlsx(value):
            cell.value = value
            cell.number_format = (
                PERCENT_FORMAT
                if field in RATE_FIELDS
                else PERCENT_NUMBER_FORMAT
                if field in PERCENT_FIELDS
                else MONEY_FORMAT
            )
        else:
            _set_text(cell, number_text(value))
            cell.alignment = Alignment(horizontal="right")
    elif isinstance(value, int):
        cell.value = value
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = DATE_FORMAT
    else:
        _set_text(cell, value)
    if bold:
        cell.font = BOLD


def _set_text(cell: Cell, text: str) -> None:
    """Text that no spreadsheet will take for a formula: guarded, then typed as a string."""
    cell.value = guard_text(ILLEGAL_CHARACTERS_RE.sub("\ufffd", text))
    cell.data_type = "s"


def _cell(sheet: Worksheet, row: int, column: int) -> Cell:
    cell = sheet.cell(row=row, column=column)
    assert isinstance(cell, Cell), "no cell is merged in these sheets"
    return cell


def _width(value: Value) -> int:
    if isinstance(value, Decimal):
        return len(f"{value:,.2f}")
    return max((len(part) for part in cell_text(value).splitlines()), default=0)


def _fill_table(sheet: Worksheet, block: Block, *, for_people: bool = True) -> dict[int, int]:
    """A table: its header row (row 1, frozen, repeated on every printed page), its rows, and its
    total rows, where each figure that is the sum of the rows above is that SUM as a formula (an
    edited figure re-adds); a total that is not (a rounded grant) is written as the figure. Not
    `for_people` (the portfolio's table): the JSON's names and values, the totals as figures."""
    assert block.header is not None
    name_of = heading if for_people else str
    value_of = shown if for_people else _as_is
    widths: dict[int, int] = {}
    for column, name in enumerate(block.header, start=1):
        cell = _cell(sheet, 1, column)
        _set_text(cell, name_of(name))
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        widths[column] = min(len(name_of(name)), 24)
    sheet.freeze_panes = "A2"
    sheet.print_title_rows = "1:1"
    first_total = len(block.rows) - block.totals
    for number, row in enumerate(block.rows):
        row_number = number + 2
        total = number >= first_total
        for column, (field, value) in enumerate(zip(block.header, row, strict=True), start=1):
            cell = _cell(sheet, row_number, column)
            _set(cell, value_of(field, value), bold=total, field=field)
            if for_people and total and isinstance(value, Decimal) and first_total > 0:
                above = [item[column - 1] for item in block.rows[:first_total]]
                figures = [item for item in above if isinstance(item, Decimal)]
                if len(figures) == len(above) and sum(figures, Decimal(0)) == value:
                    letter = get_column_letter(column)
                    cell.value = f"=SUM({letter}2:{letter}{first_total + 1})"
            if total:
                cell.fill = TOTAL_FILL
            widths[column] = max(widths.get(column, 0), _width(value_of(field, value)))
    return widths


def _as_is(field: str, value: Value) -> Value:
    del field
    return value


def _fill_facts(sheet: Worksheet, blocks: Iterable[Block]) -> dict[int, int]:
    """`name, value` rows (no header): the name for people in bold, the value beside it."""
    widths: dict[int, int] = {}
    row_number = 0
    for block in blocks:
        for name, value in ((str(row[0]), row[1]) for row in block.rows):
            row_number += 1
            _set_text(_cell(sheet, row_number, 1), heading(name))
            _cell(sheet, row_number, 1).font = BOLD
            _set(_cell(sheet, row_number, 2), shown(name, value), field=name)
            widths[1] = max(widths.get(1, 0), len(heading(name)))
            widths[2] = max(widths.get(2, 0), _width(shown(name, value)))
    return widths


def _fill_sheet(sheet: Worksheet, blocks: Iterable[Block], footer: str, *, for_people: bool = True) -> None:
    """One table per sheet (or a sheet of facts), set up to print: landscape, fit to the page's
    width, the header row on every page, the report and page N of M in the footer."""
    chosen = list(blocks)
    tables = [block for block in chosen if block.header is not None]
    widths = _fill_table(sheet, tables[0], for_people=for_people) if tables else _fill_facts(sheet, chosen)
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(MAX_WIDTH, max(MIN_WIDTH, width + 2))
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.oddFooter = HeaderFooterItem(
        left=_Footer(text=footer.replace("&", "&&")), right=_Footer(text="Page &P of &N")
    )


def _stamp(day: date) -> datetime:
    moment = datetime.combine(day, datetime.min.time())
    return max(moment, datetime(1980, 1, 1))  # noqa: DTZ001 - zip times have no zone and start in 1980


def _workbook(
    title: str,
    stamp: datetime,
    footer: str,
    sheets: Iterable[tuple[str, Iterable[Block]]],
    settlement: ReconciliationStatement | None = None,
    *,
    for_people: bool = True,
) -> bytes:
    workbook = Workbook()
    default = workbook.active
    for number, (name, blocks) in enumerate(sheets):
        chosen = list(blocks)
        if number and not any(block.rows for block in chosen):
            continue  # a table with no rows (no findings, no invoices) has no sheet
        _fill_sheet(workbook.create_sheet(name), chosen, footer, for_people=for_people)
        if number == 0 and settlement is not None:
            sheet = workbook.create_sheet("Settlement")
            _settlement_sheet(sheet, settlement, name)
            _fill_sheet(sheet, [], footer)
    if default is not None:
        workbook.remove(default)
    workbook.active = 0
    workbook.calculation.fullCalcOnLoad = True  # the totals are formulas with no cached value
    properties = workbook.properties
    properties.title = title
    properties.creator = "ktpledger"
    properties.lastModifiedBy = "ktpledger"
    properties.created = stamp
    properties.modified = stamp
    raw = io.BytesIO()
    # Not `workbook.save()`: it stamps `modified` with the clock.
    archive = zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)
    ExcelWriter(workbook, archive).save()  # closes the archive
    return _restamp(raw.getvalue(), stamp)


def _restamp(data: bytes, stamp: datetime) -> bytes:
    """The same archive with every member's timestamp set to `stamp` (zipfile uses the clock)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o600 << 16
            target.writestr(info, source.read(member))
    return out.getvalue()


def _footer(statement: Statement, what: str, appendix: AuditAppendix | None) -> str:
    text = f"{statement.project} {what} - ledger position {statement.ledger.position}"
    if appendix is not None:
        text += f" - prepared on {long_day(appendix.prepared.on)} by {appendix.prepared.by}"
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


def _settlement_sheet(sheet: Worksheet, statement: ReconciliationStatement, lines_sheet: str) -> None:
    """The settlement as formulas: the grant share is the lines' grant total, the balance due the
    grant share plus the parental leave reimbursable less the grant paid (R-42)."""
    grant_column = get_column_letter(RECONCILIATION_COLUMNS.index("grant") + 1)
    grant_total_row = len(statement.lines) + 2
    rows: list[tuple[str, Value, str | None]] = [
        (
            "Grant share of eligible spend",
            money(statement.totals["grant"]),
            f"='{lines_sheet}'!{grant_column}{grant_total_row}",
        ),
        ("Parental leave reimbursable", money(statement.parental_leave_reimbursable), None),
        ("Grant paid to date", money(statement.grant_paid), None),
        ("Balance due", money(statement.balance_due), None),
        ("Parental leave incurred", money(statement.parental_leave_incurred), None),
    ]
    for number, (name, value, formula) in enumerate(rows, start=1):
        _set_text(_cell(sheet, number, 1), name)
        _cell(sheet, number, 1).font = BOLD
        cell = _cell(sheet, number, 2)
        _set(cell, value, bold=name == "Balance due")
        if formula is not None:
            cell.value = formula
    if (
        statement.balance_due
        == statement.totals["grant"] + statement.parental_leave_reimbursable - statement.grant_paid
    ):
        _cell(sheet, 4, 2).value = "=B1+B2-B3"
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 18


def reconciliation_xlsx(statement: ReconciliationStatement, appendix: AuditAppendix | None = None) -> bytes:
    """One sheet per table: Reconciliation (a row per line and the total, as SUM formulas),
    Settlement (the balance due as a formula of the grant share, the parental leave reimbursable
    and the grant paid), LMC changes, Findings, Receivables, Business invoices, Grant claims; with
    the appendix Grant payments, LMC decisions, Parental leave, Transactions; About (parties,
    status, ledger, who prepared it). A table with no rows has no sheet."""
    blocks = reconciliation_blocks(statement, for_people=True)
    extra = appendix_blocks(appendix)
    appended = [
        (title, (extra[name],))
        for title, name in (
            ("Grant payments", "payments"),
            ("LMC decisions", "decisions"),
            ("Parental leave", "parental_leave"),
            ("Transactions", "transactions"),
        )
        if name in extra
    ]
    about = [blocks["about"], *([extra["prepared"]] if "prepared" in extra else [])]
    return _workbook(
        f"Reconciliation {statement.project}",
        _stamp(statement.closed_on or statement.terms.start),
        _footer(statement, "reconciliation" if statement.final else "statement so far", appendix),
        (
            ("Reconciliation", (blocks["lines"],)),
            ("LMC changes", (blocks["changes"],)),
            ("Findings", (blocks["findings"],)),
            ("Receivables", (blocks["receivables"],)),
            ("Business invoices", (blocks["invoices"],)),
            ("Grant claims", (blocks["claims"],)),
            *appended,
            ("About", about),
        ),
        settlement=statement,
    )


def claim_pack_xlsx(pack: ClaimPack, appendix: AuditAppendix | None = None) -> bytes:
    """Sheets: first, when the quarter has one (R-45), Claim as submitted or Draft claim (its heading,
    a row per category and the total, the late items of the prior-period adjustment and its totals);
    then Claim pack (lines and total), Claim (eligible added per line and the grant to claim),
    Alerts (open at the quarter's end), About (parties, quarter, ledger)."""
    blocks = claim_pack_blocks(pack, for_people=True)
    extra = appendix_blocks(appendix)
    claim = "Claim as submitted" if pack.submitted else "Draft claim"
    form = [
        (title, (blocks[name],))
        for title, name in (
            (claim, "form_lines"),
            ("Late items", "form_items"),
            ("Prior-period adjustments", "form_adjustments"),
            (f"{claim} - heading", "form_heading"),
        )
        if name in blocks
    ]
    about = [blocks["about"], *([extra["prepared"]] if "prepared" in extra else [])]
    return _workbook(
        f"Claim pack {pack.project} {pack.quarter}",
        _stamp(pack.end),
        _footer(pack, f"claim pack {pack.quarter}", appendix),
        (
            *form,
            ("Claim pack", (blocks["lines"],)),
            ("Claim", (blocks["claim"],)),
            ("Alerts", (blocks["alerts"],)),
            *([("Transactions", (extra["transactions"],))] if "transactions" in extra else []),
            ("About", about),
        ),
    )
