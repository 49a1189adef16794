"""CSV: the statement's blocks one after another, a blank row between them (RFC 4180, CRLF, UTF-8
without a byte order mark). Nothing in it depends on when it was made: the same statement gives
the same bytes. Figures are written exactly as the JSON writes them; every text cell is guarded
against formula injection."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from ktpledger.reports.cells import Value, guard_text, number_text
from ktpledger.reports.tabular import CLAIM_FORM_BLOCKS, Block, claim_pack_blocks, reconciliation_blocks
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.statement_models import ReconciliationStatement


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


def _write(blocks: Iterable[Block]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for index, block in enumerate(blocks):
        if index:
            writer.writerow([])
        if block.header is not None:
            writer.writerow([guard_text(name) for name in block.header])
        for row in block.rows:
            writer.writerow([cell_text(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def reconciliation_csv(statement: ReconciliationStatement) -> bytes:
    """Header rows (project, parties, status, grant rate, ledger position, version, head hash);
    one row per line and a `total` row; then parental leave, grant paid and the balance due; then
    the findings (ineligible spend by reason), when there are any; then the two receivables and the business's
    invoices, when it has any (R-44); then the grant's claims, when it has any (R-45, R-46)."""
    blocks = reconciliation_blocks(statement)
    chosen = [blocks["about"], blocks["lines"], blocks["settlement"]]
    if blocks["findings"].rows:
        chosen.append(blocks["findings"])
    if blocks["receivables"].rows:  # R-44, after what the contract's readers know
        chosen.append(blocks["receivables"])
    if blocks["invoices"].rows:
        chosen.append(blocks["invoices"])
    if blocks["claims"].rows:  # the grant's claims
        chosen.append(blocks["claims"])
    return _write(chosen)


def claim_pack_csv(pack: ClaimPack) -> bytes:
    """The claim as submitted (or the draft claim) first, when there is one (R-45): its heading
    rows, one row per category and a `total` row, the late items of the prior-period adjustment
    and its totals per category. Then header rows; one row per line and a `total` row; the
    quarter's claim; the open alerts."""
    blocks = claim_pack_blocks(pack)
    form = [blocks[name] for name in CLAIM_FORM_BLOCKS if name in blocks]
    return _write((*form, blocks["about"], blocks["lines"], blocks["claim"], blocks["alerts"]))
