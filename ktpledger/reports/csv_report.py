"""CSV in long format: one table, one header row, every row the same four columns, so that
`pandas.read_csv` or a spreadsheet loads it without clean-up (RFC 4180, CRLF, UTF-8 without a byte
order mark):

    section,row,field,value
    lines,1,category,associate_employment
    lines,1,final_budget,120500.00
    ...

`section` names the statement's table (`about`, `lines`, `settlement`, ...; docs/cli.md lists them),
`row` numbers the rows of that table from 1 (a `name, value` table such as `about` is one row),
`field` is the column (the JSON's names) and `value` the cell, written exactly as the JSON writes it
(figures "1027.98", dates "2025-03-31", codes not labels). One table back is a pivot:
`frame[frame.section == "lines"].pivot(index="row", columns="field", values="value")`.

Nothing in it depends on when it was made: the same statement gives the same bytes. Every text
cell is guarded against formula injection."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from ktpledger.reports.cells import Value, guard_text, number_text
from ktpledger.reports.tabular import (
    CLAIM_FORM_BLOCKS,
    Block,
    appendix_blocks,
    claim_pack_blocks,
    reconciliation_blocks,
)
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.report_appendix import AuditAppendix
from ktpledger.service.statement_models import ReconciliationStatement

LONG_HEADER = ("section", "row", "field", "value")


def cell_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return number_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return guard_text(value)


def long_rows(block: Block) -> Iterable[tuple[str, str, str, str]]:
    """The block's cells, one row each: (section, row, field, value); an empty cell is kept, with
    an empty value, so that every row of a section pivots to the same columns."""
    if block.header is None:
        for name, value in ((str(row[0]), row[1]) for row in block.rows):
            yield block.key, "1", name, cell_text(value)
        return
    for number, row in enumerate(block.rows, start=1):
        for name, value in zip(block.header, row, strict=True):
            yield block.key, str(number), name, cell_text(value)


def table_csv(block: Block) -> bytes:
    """One tidy table: its header row, then its rows (the portfolio's)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    if block.header is not None:
        writer.writerow([guard_text(name) for name in block.header])
    writer.writerows([cell_text(value) for value in row] for row in block.rows)
    return buffer.getvalue().encode("utf-8")


def _write(blocks: Iterable[Block]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LONG_HEADER)
    for block in blocks:
        writer.writerows(long_rows(block))
    return buffer.getvalue().encode("utf-8")


def reconciliation_csv(statement: ReconciliationStatement, appendix: AuditAppendix | None = None) -> bytes:
    """Sections: `about` (project, parties, status, grant rate, ledger, checkpoint), `lines` (one row
    per line, then the `total` row), `settlement`, `changes`, `findings`, `receivables`, `invoices`,
    `claims`, `changes` (one row per LMC change); with the appendix `prepared`, `payments`, `decisions`, `parental_leave` and
    `transactions`. A section with no rows has no rows in the file."""
    blocks = reconciliation_blocks(statement)
    names = ("about", "lines", "settlement", "findings", "receivables", "invoices", "claims", "changes")
    chosen = [blocks[name] for name in names]
    return _write((*chosen, *appendix_blocks(appendix).values()))


def claim_pack_csv(pack: ClaimPack, appendix: AuditAppendix | None = None) -> bytes:
    """Sections: the claim as submitted (or the draft claim) first, when there is one (R-45):
    `form_heading`, `form_lines`, `form_items`, `form_adjustments`; then `about`, `lines`, `claim`,
    `alerts`; with the appendix `prepared` and `transactions` (of the quarter)."""
    blocks = claim_pack_blocks(pack)
    form = [blocks[name] for name in CLAIM_FORM_BLOCKS if name in blocks]
    extra = appendix_blocks(appendix)
    kept = [extra[name] for name in ("prepared", "transactions") if name in extra]
    return _write((*form, blocks["about"], blocks["lines"], blocks["claim"], blocks["alerts"], *kept))
