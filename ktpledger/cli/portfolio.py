"""`ktpledger portfolio`: every project's health as of a day (R-47) with its figures and the totals,
from `service/portfolio.portfolio` as `GET /portfolio` is; a table for people, JSON (the body of
`GET /portfolio` for an admin token), or CSV and XLSX for the office's own sheets."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from ktpledger.cli.common import TODAY_OPTION, pounds, print_json_text, render_table, write_output
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened
from ktpledger.domain.health_levels import Health
from ktpledger.domain.rules import BusinessType, Methodology

if TYPE_CHECKING:
    from ktpledger.service.portfolio import Portfolio, PortfolioRow


class PortfolioFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


HEADER = (
    "project",
    "status",
    "why",
    "budget",
    "spent",
    "% spent",
    "% elapsed",
    "forecast",
    "claimed",
    "paid",
    "next deadline",
)


def _share(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _cells(row: PortfolioRow) -> tuple[str, ...]:
    top = row.top_reason
    deadline = row.next_deadline
    more = len(row.health.reasons) - 1
    why = "" if top is None else top.kind + (f" (+{more} more)" if more > 0 else "")
    return (
        row.project,
        row.status.value,
        why,
        pounds(row.budget),
        pounds(row.spent),
        _share(row.spent_share),
        _share(row.elapsed),
        pounds(row.forecast),
        pounds(row.grant_claimed),
        pounds(row.grant_paid),
        "-" if deadline is None else f"{deadline.due.isoformat()} {deadline.kind} {deadline.subject}",
    )


def _table(made: Portfolio) -> None:

    totals = made.totals()
    typer.echo(
        f"{totals['projects']} project{'' if totals['projects'] == 1 else 's'} as of {made.as_of.isoformat()}: "
        f"{totals['red']} red, {totals['amber']} amber, {totals['green']} green"
    )
    if not made.projects:
        return
    typer.echo(render_table(HEADER, [_cells(row) for row in made.projects], numeric={3, 4, 5, 6, 7, 8, 9}))
    for row in made.projects:
        top = row.top_reason
        if top is not None:
            typer.echo(f"{row.project} ({row.status.value}): {top.message}")


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `portfolio` to `app`."""

    @app.command("portfolio")
    @refuses_input
    def portfolio_command(
        ctx: typer.Context,
        today: str | None = TODAY_OPTION,
        status: list[Health] = typer.Option([], "--status", help="only projects of this status (repeatable)"),
        knowledge_base: str | None = typer.Option(
            None, "--knowledge-base", help="only this university or college"
        ),
        business_type: BusinessType | None = typer.Option(
            None, "--business-type", help="only this business type"
        ),
        methodology: Methodology | None = typer.Option(
            None, "--methodology", help="only this costing methodology"
        ),
        ending_within: int | None = typer.Option(
            None, "--ending-within", min=0, help="only open projects ending within this many months"
        ),
        output_format: PortfolioFormat = typer.Option(PortfolioFormat.TABLE, "--format"),
        out: str | None = typer.Option(None, "--out", help="write to this file instead of stdout"),
    ) -> None:
        """Every project's health as of --today (R-47): red, amber or green with its reasons, beside
        budget, spent, % spent against % of the period elapsed, forecast at the end date, grant
        claimed and paid, and the next deadline; most pressing first, then the totals."""
        from ktpledger.domain.events import parse_day
        from ktpledger.service.access import COMMAND_LINE
        from ktpledger.service.portfolio import PortfolioFilter, portfolio

        day = parse_day(today, field="today")
        only = PortfolioFilter(
            statuses=frozenset(status),
            knowledge_base=knowledge_base,
            business_type=None if business_type is None else business_type.value,
            methodology=None if methodology is None else methodology.value,
            ending_within_months=ending_within,
        )
        with opened(ctx, write=False) as application:
            on = application.settings.reading_day(day)
            made = portfolio(application, COMMAND_LINE, today=on, only=only)
        if output_format is PortfolioFormat.TABLE:
            _table(made)
            return
        if output_format is PortfolioFormat.JSON:
            print_json_text(made.json_text())  # the stored rows' documents as they are, as the API
            return
        from ktpledger.reports.portfolio_report import portfolio_csv, portfolio_xlsx  # only when asked for

        body = portfolio_csv(made) if output_format is PortfolioFormat.CSV else portfolio_xlsx(made)
        write_output(body, output_format.value, out, binary=output_format is PortfolioFormat.XLSX)
