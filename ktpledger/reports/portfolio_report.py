"""The portfolio (`ktpledger portfolio --format csv|xlsx`, `GET /portfolio?format=csv|xlsx`) as a
table: one row per project in the portfolio's order, then a `total` row. The CSV and the workbook
are written by the statements' own writers, so figures, dates and guarded text are typed the same
way; both are deterministic (the workbook is stamped with the portfolio's day, never the clock).
"""

from __future__ import annotations

from ktpledger.domain.money import ZERO
from ktpledger.reports.cells import Value, money
from ktpledger.reports.csv_report import table_csv
from ktpledger.reports.tabular import Block
from ktpledger.reports.xlsx_report import _stamp as day_stamp
from ktpledger.reports.xlsx_report import _workbook as workbook_of
from ktpledger.service.portfolio import Portfolio, PortfolioRow

PORTFOLIO_COLUMNS = (
    "project",
    "title",
    "status",
    "top_reason",
    "reasons",
    "knowledge_base",
    "business",
    "business_type",
    "methodology",
    "start",
    "end",
    "phase",
    "month",
    "months",
    "budget",
    "spent",
    "spent_share",
    "elapsed",
    "forecast",
    "grant_claimed",
    "grant_paid",
    "next_deadline",
    "next_deadline_kind",
    "next_deadline_subject",
)


def _row(row: PortfolioRow) -> tuple[Value, ...]:
    top = row.top_reason
    deadline = row.next_deadline
    return (
        row.project,
        row.title,
        row.status.value,
        None if top is None else top.message,
        "; ".join(reason.kind for reason in row.health.reasons),
        row.knowledge_base,
        row.business,
        row.business_type,
        row.methodology,
        row.start,
        row.end,
        row.phase,
        row.month,
        row.months,
        money(row.budget),
        money(row.spent),
        None if row.spent_share is None else str(row.spent_share),
        str(row.elapsed),
        money(row.forecast),
        money(row.grant_claimed),
        money(row.grant_paid),
        None if deadline is None else deadline.due,
        None if deadline is None else deadline.kind,
        None if deadline is None else deadline.subject,
    )


def portfolio_block(portfolio: Portfolio) -> Block:
    """The projects and their totals (the money columns summed; the statuses counted in `status`)."""
    totals = portfolio.totals()
    counts = ", ".join(f"{totals[name]} {name}" for name in ("red", "amber", "green"))
    total: list[Value] = [None] * len(PORTFOLIO_COLUMNS)
    total[0] = "total"
    total[2] = counts
    for name in ("budget", "spent", "forecast", "grant_claimed", "grant_paid"):
        total[PORTFOLIO_COLUMNS.index(name)] = money(
            sum((getattr(r, name) for r in portfolio.projects), ZERO)
        )
    rows = (*(_row(row) for row in portfolio.projects), tuple(total))
    return Block("Portfolio", PORTFOLIO_COLUMNS, rows, totals=1)


def portfolio_csv(portfolio: Portfolio) -> bytes:
    return table_csv(portfolio_block(portfolio))


def portfolio_xlsx(portfolio: Portfolio) -> bytes:
    title = f"KTP portfolio as of {portfolio.as_of.isoformat()}"
    return workbook_of(
        title,
        day_stamp(portfolio.as_of),
        title,
        [("Portfolio", [portfolio_block(portfolio)])],
        for_people=False,
    )
