"""The drill-down (`service/transactions.py`) as CSV: one row per budget move and per claim or
reversal, line by line (RFC 4180, CRLF). UTF-8 with a byte order mark, so that Excel reads the
pound sign and accents; every text cell is guarded against formula injection (`cells.guard_text`),
figures are written as the JSON writes them."""

from __future__ import annotations

import csv
import io

from ktpledger.reports.cells import Value
from ktpledger.reports.csv_report import cell_text
from ktpledger.service.transactions import ProjectTransactions

BOM = "\ufeff"
HEADER = (
    "project",
    "category",
    "row",
    "version",
    "date",
    "key",
    "kind",
    "description",
    "amount",
    "tags",
    "reverses",
    "eligibility",
    "eligible",
    "ineligible",
    "reasons",
    "recorded_by",
)


def recorder_text(recorded_by: dict[str, object] | None) -> str | None:
    """`name (role, channel)` for a cell; `name (channel)` without a role (the command line)."""
    if recorded_by is None:
        return None
    how = ", ".join(str(part) for part in (recorded_by.get("role"), recorded_by.get("channel")) if part)
    return f"{recorded_by.get('name')} ({how})" if how else str(recorded_by.get("name"))


def transactions_csv(drill: ProjectTransactions) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for line in drill.lines:
        for move in line.budget_moves:
            budget_row: tuple[Value, ...] = (
                drill.project,
                line.category.value,
                "budget",
                move.version,
                move.date,
                None,
                move.kind,
                move.note,
                move.amount,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            )
            writer.writerow([cell_text(value) for value in budget_row])
        for row in line.transactions:
            spend_row: tuple[Value, ...] = (
                drill.project,
                line.category.value,
                "spend",
                row.version,
                row.date,
                row.key,
                row.kind,
                row.description,
                row.amount,
                " ".join(row.tags) or None,
                row.reverses,
                row.eligibility,
                row.eligible,
                row.ineligible,
                "; ".join(f"{reason.text}: {reason.amount:.2f}" for reason in row.reasons) or None,
                recorder_text(row.recorded_by),
            )
            writer.writerow([cell_text(value) for value in spend_row])
    return (BOM + buffer.getvalue()).encode("utf-8")


def transactions_filename(drill: ProjectTransactions) -> str:
    """`KTP-0042-transactions[-category][-from-to].csv`, the reference's `/` as `-`."""
    parts = [drill.project.replace("/", "-"), "transactions"]
    if drill.category is not None:
        parts.append(drill.category.value)
    if drill.date_from is not None or drill.date_to is not None:
        parts.append(f"{drill.date_from or 'start'}-to-{drill.date_to or 'end'}")
    return "-".join(parts) + ".csv"
