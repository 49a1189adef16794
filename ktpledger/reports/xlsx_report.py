"""XLSX with openpyxl: one sheet per table (the statement first), a bold frozen header row, money as
numeric cells formatted "#,##0.00", text guarded against formula injection and typed as text.

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
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from ktpledger.reports.cells import Value, guard_text, number_text
from ktpledger.reports.csv_report import cell_text
from ktpledger.reports.tabular import CLAIM_FORM_BLOCKS, Block, claim_pack_blocks, reconciliation_blocks
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.statement_models import ReconciliationStatement

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
BOLD = Font(bold=True)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFD9E1F2", end_color="FFD9E1F2")
TOTAL_FILL = PatternFill(fill_type="solid", start_color="FFF2F2F2", end_color="FFF2F2F2")
MIN_WIDTH = 8
MAX_WIDTH = 60
MAX_DIGITS = 15


def exact_in_xlsx(amount: Decimal) -> bool:
    """Whether the number openpyxl writes for `amount` ("%.16g") reads back as the double nearest
    to it: true for every decimal of at most 15 significant digits. (If the 16-digit rounding of
    that double is `amount` itself, it reads back as that double; otherwise the rounding moved it by
    at most half a unit of the 16th digit, which is then less than half the double's spacing.)"""
    return len(amount.normalize().as_tuple().digits) <= MAX_DIGITS


def _set(cell: Cell, value: Value, *, bold: bool = False) -> None:
    if value is None:
        pass
    elif isinstance(value, bool):
        cell.value = value
    elif isinstance(value, Decimal):
        if exact_in_xlsx(value):
            cell.value = value
            cell.number_format = MONEY_FORMAT
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


def _fill_sheet(sheet: Worksheet, blocks: Iterable[Block]) -> None:
    """The blocks one under another, a blank row between them; the first block's header (if it
    has one) is row 1 and frozen."""
    widths: dict[int, int] = {}
    row_number = 0
    for index, block in enumerate(blocks):
        if index:
            row_number += 1
        if block.header is not None:
            row_number += 1
            for column, name in enumerate(block.header, start=1):
                cell = _cell(sheet, row_number, column)
                _set_text(cell, name)
                cell.font = BOLD
                cell.fill = HEADER_FILL
                widths[column] = max(widths.get(column, 0), len(name))
            if index == 0:
                sheet.freeze_panes = _cell(sheet, row_number + 1, 1)
        first_total = len(block.rows) - block.totals
        for number, row in enumerate(block.rows):
            row_number += 1
            total = number >= first_total
            for column, value in enumerate(row, start=1):
                cell = _cell(sheet, row_number, column)
                _set(cell, value, bold=total or (block.header is None and column == 1))
                if total and block.header is not None:
                    cell.fill = TOTAL_FILL
                widths[column] = max(widths.get(column, 0), _width(value))
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(MAX_WIDTH, max(MIN_WIDTH, width + 2))


def _stamp(day: date) -> datetime:
    moment = datetime.combine(day, datetime.min.time())
    return max(moment, datetime(1980, 1, 1))  # noqa: DTZ001 - zip times have no zone and start in 1980


def _workbook(title: str, stamp: datetime, sheets: Iterable[tuple[str, Iterable[Block]]]) -> bytes:
    workbook = Workbook()
    default = workbook.active
    for name, blocks in sheets:
        _fill_sheet(workbook.create_sheet(name), blocks)
    if default is not None:
        workbook.remove(default)
    workbook.active = 0
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


def reconciliation_xlsx(statement: ReconciliationStatement) -> bytes:
    """Sheets: Reconciliation (lines, total, then parental leave, grant paid and balance due),
    LMC changes (one row per change, amount as a number), About (parties, status, ledger)."""
    blocks = reconciliation_blocks(statement)
    return _workbook(
        f"Reconciliation {statement.project}",
        _stamp(statement.closed_on or statement.terms.start),
        (
            ("Reconciliation", (blocks["lines"], blocks["settlement"])),
            ("LMC changes", (blocks["changes"],)),
            ("Findings", (blocks["findings"],)),
            ("Receivables", (blocks["receivables"], blocks["invoices"], blocks["claims"])),
            ("About", (blocks["about"],)),
        ),
    )


def claim_pack_xlsx(pack: ClaimPack) -> bytes:
    """Sheets: first, when the quarter has one (R-45), Claim as submitted or Draft claim (its heading,
    a row per category and the total, the late items of the prior-period adjustment and its totals);
    then Claim pack (lines and total), Claim (eligible added per line and the grant to claim),
    Alerts (open at the quarter's end), About (parties, quarter, ledger)."""
    blocks = claim_pack_blocks(pack)
    form = [blocks[name] for name in CLAIM_FORM_BLOCKS if name in blocks]
    first = [] if not form else [("Claim as submitted" if pack.submitted else "Draft claim", form)]
    return _workbook(
        f"Claim pack {pack.project} {pack.quarter}",
        _stamp(pack.end),
        (
            *first,
            ("Claim pack", (blocks["lines"],)),
            ("Claim", (blocks["claim"],)),
            ("Alerts", (blocks["alerts"],)),
            ("About", (blocks["about"],)),
        ),
    )
