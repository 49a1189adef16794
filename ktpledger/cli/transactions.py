"""`ktpledger transactions`: the drill-down of a project's allowance lines (issue 14), the events
behind each figure, from `service/transactions.line_transactions` as `GET /projects/{p}/transactions`."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from ktpledger.cli.common import pounds, print_body_json, render_table
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, refuse_unknown

if TYPE_CHECKING:
    from ktpledger.service.transactions import LineTransactions


class TransactionsFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `transactions` to `app`."""

    @app.command()
    @refuses_input
    def transactions(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        category: str | None = typer.Option(
            None, "--category", help="one line only, e.g. travel_subsistence"
        ),
        since: str | None = typer.Option(None, "--from", help="rows dated on or after, YYYY-MM-DD"),
        until: str | None = typer.Option(None, "--to", help="rows dated on or before, YYYY-MM-DD"),
        output_format: TransactionsFormat = typer.Option(
            TransactionsFormat.TABLE,
            "--format",
            help="table for people, json for scripts, csv for a spreadsheet",
        ),
    ) -> None:
        """The events behind each allowance line's figures: the decisions that set or moved its budget,
        its claims and reversals, each claim eligible, partly eligible or ineligible with the reasons
        and rules (JSON: the body of `GET /projects/{project}/transactions`; CSV: its download)."""
        from ktpledger.domain.events import parse_day
        from ktpledger.service.transactions import line_transactions, parse_category

        chosen = parse_category(category)
        date_from = parse_day(since, field="from")
        date_to = parse_day(until, field="to")
        with opened(ctx, write=False) as application:
            stream = application.ledger.stream(project)
            if not stream:
                refuse_unknown(application, project)
        made = line_transactions(stream, project, chosen, date_from, date_to)
        if output_format is TransactionsFormat.JSON:
            print_body_json(made.to_json())
        elif output_format is TransactionsFormat.CSV:
            from ktpledger.reports.transactions_csv import transactions_csv  # only when asked for

            sys.stdout.buffer.write(transactions_csv(made))
            sys.stdout.flush()
        else:
            typer.echo("\n\n".join(line_table(line) for line in made.lines))


def line_table(line: LineTransactions) -> str:
    """One line for people: its figures, its budget moves, then its claims and reversals."""
    from ktpledger.domain.labels import category_label

    heading = (
        f"{category_label(line.category.value)}: budget {pounds(line.budget)}, spent {pounds(line.spent)}, "
        f"eligible {pounds(line.eligible)}, ineligible {pounds(line.ineligible)}, "
        f"remaining {pounds(line.remaining)}"
    )
    moves = [
        (m.date.isoformat() if m.date else "", str(m.version), m.kind, pounds(m.amount), m.note)
        for m in line.budget_moves
    ]
    parts = [heading, render_table(("date", "version", "decision", "amount", "note"), moves, numeric={3})]
    rows = [
        (
            row.date.isoformat(),
            str(row.version),
            row.key,
            row.kind if row.reverses is None else f"reversal of {row.reverses}",
            pounds(row.amount),
            " ".join(row.tags),
            row.eligibility or "",
            "" if row.eligible is None else pounds(row.eligible),
            "; ".join(reason.text for reason in row.reasons),
        )
        for row in line.transactions
    ]
    if rows:
        header = ("date", "version", "key", "kind", "amount", "tags", "eligibility", "eligible", "why")
        parts.append(render_table(header, rows, numeric={4, 7}))
        totals = line.totals
        parts.append(
            f"listed: claims {pounds(totals.claimed)}, reversals {pounds(totals.reversed)}, "
            f"net {pounds(totals.net)}, eligible {pounds(totals.eligible)}, ineligible {pounds(totals.ineligible)}"
        )
    else:
        parts.append("no claims or reversals listed")
    return "\n".join(parts)
