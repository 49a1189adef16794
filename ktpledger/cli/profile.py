"""`ktpledger profile`: a project's spend profile against its spend (R-43), per line and calendar
quarter, from `service/spend_profile.project_profile` as `GET /projects/{project}/profile` is."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ktpledger.cli.common import (
    FORMAT_OPTION,
    TODAY_OPTION,
    OutputFormat,
    pounds,
    print_body_json,
    render_table,
)
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, refuse_unknown

if TYPE_CHECKING:
    from ktpledger.service.spend_profile import LinePlan

STATUS_WORDS = {
    "behind": "behind",
    "ahead": "ahead",
    "on_profile": "on profile",
    "not_judged": "-",
    "in_progress": "in progress",
    "to_come": "",
}


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `profile` to `app`."""

    @app.command()
    @refuses_input
    def profile(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        today: str | None = TODAY_OPTION,
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """The spend profile of each budget line (R-43): per calendar quarter the plan and the spend,
        both cumulated, and at each quarter end passed whether the spend is behind or ahead of the
        plan (more than 10%); each line's forecast at the end date (JSON: the body of
        `GET /projects/{project}/profile`)."""
        from ktpledger.domain.events import parse_day
        from ktpledger.service.spend_profile import project_profile

        day = parse_day(today, field="today")
        with opened(ctx, write=False) as application:
            on = application.settings.reading_day(day)
            stream = application.ledger.stream(project)
            if not stream:
                refuse_unknown(application, project)
        made = project_profile(stream, project, today=on)
        if output_format is OutputFormat.JSON:
            print_body_json(made.to_json())
            return
        typer.echo(
            f"{made.project}: spend profile as of {made.as_of.isoformat()}, "
            f"period {made.start.isoformat()} to {made.end.isoformat()}"
        )
        typer.echo("\n\n".join(line_table(line) for line in made.lines))


def line_table(line: LinePlan) -> str:
    """One line for people: its rule and forecast, then a row per quarter."""
    from ktpledger.domain.labels import category_label

    since = "the default" if line.profiled_on is None else f"since {line.profiled_on.isoformat()}"
    heading = (
        f"{category_label(line.category.value)}: budget {pounds(line.budget)}, profile {line.rule} ({since}), "
        f"spent {pounds(line.spent)} against {pounds(line.planned_to_date)} planned by now, "
        f"forecast {pounds(line.forecast)}"
    )
    rows = [
        (
            str(row.quarter),
            pounds(row.planned),
            pounds(row.spent),
            pounds(row.cumulative_planned),
            pounds(row.cumulative_spent),
            STATUS_WORDS.get(row.status, row.status),
        )
        for row in line.quarters
    ]
    header = ("quarter", "planned", "spent", "planned to date", "spent to date", "against profile")
    return heading + "\n" + render_table(header, rows, numeric={1, 2, 3, 4})
