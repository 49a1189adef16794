"""`ktpledger claim submit`: a quarter's grant claim, worked out from the ledger with the claim
pack's own figures and recorded as a `ClaimSubmitted` event, frozen as submitted (R-45)."""

from __future__ import annotations

import typer

from ktpledger.cli.common import FORMAT_OPTION, OutputFormat, pounds, print_json
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, recorder_of
from ktpledger.domain.events import claim_needs_narrative, parse_day
from ktpledger.service.claims import draft_claim, parse_narratives
from ktpledger.views import render_table


def register(app: typer.Typer, opened: Opened) -> None:
    """Add the `claim` group (`claim submit`) to `app`."""

    claim_app = typer.Typer(help="The quarter's grant claims (R-45).", no_args_is_help=True)
    app.add_typer(claim_app, name="claim")

    @claim_app.command("submit")
    @refuses_input
    def submit(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        quarter: str = typer.Option(..., "--quarter", help="the quarter claimed in arrears, e.g. 2025Q2"),
        narrative: list[str] = typer.Option(
            [],
            "--narrative",
            help="CATEGORY=TEXT: why a line's spend is over 10% from its forecast (repeatable)",
        ),
        day: str | None = typer.Option(
            None, "--date", help="the claim's date, YYYY-MM-DD (default: KTPLEDGER_TODAY, else today)"
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="show the claim, record nothing"),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """The quarter's grant claim (R-45): per category the spend against the profile's forecast,
        its variance and narrative, the eligible spend and grant the quarter adds, and the
        prior-period adjustment for late costs of claimed quarters. Refused without a narrative
        where the variance is over 10%. Records a ClaimSubmitted event unless --dry-run."""
        on = parse_day(day, field="date")
        narratives = parse_narratives(narrative)
        with opened(ctx, write=not dry_run) as application:
            draft = draft_claim(
                application.database,
                project,
                quarter,
                on=application.settings.reading_day(on),
                narratives=narratives,
            )
            status, version = "would record", None
            if not dry_run:
                [result] = application.ledger.append([draft.event], recorded_by=recorder_of(ctx, "cli"))
                if result.error is not None:
                    raise result.error
                status, version = result.status, result.version
        document = {**draft.to_json(), "status": status}
        if version is not None:
            document["version"] = version
        if output_format is OutputFormat.JSON:
            print_json(document)
            return
        worked = draft.worked
        typer.echo(
            f"{draft.project}: claim {draft.number} for {worked.quarter} ({worked.start} to {worked.end}"
            f"{', the final quarter' if worked.final_quarter else ''}), dated {draft.on}: {status}"
            + (f" (version {version})" if version is not None else "")
        )
        rows = [
            (
                category.value,
                pounds(line.actual),
                pounds(line.forecast),
                pounds(line.variance),
                pounds(line.eligible),
                pounds(line.grant),
                pounds(line.prior_period),
                line.narrative or ("(required)" if claim_needs_narrative(line.actual, line.forecast) else ""),
            )
            for category, line in worked.lines.items()
        ]
        header = (
            "category",
            "actual",
            "forecast",
            "variance",
            "eligible",
            "grant",
            "prior-period adj.",
            "narrative",
        )
        typer.echo(render_table(header, rows, numeric={1, 2, 3, 4, 5, 6}))
        typer.echo(
            f"grant for the quarter {pounds(worked.quarter_grant)}; prior-period adjustment (late costs of "
            f"claimed quarters) {pounds(worked.prior_period)}; grant claimed {pounds(worked.grant)}"
        )
        typer.echo(
            f"made from ledger position {draft.position}, version {worked.version}, head {worked.head_hash[:16]}"
        )
