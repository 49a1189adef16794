"""`ktpledger acknowledge`: an alert acknowledged with a note (R-39), through the same service
function as `POST /alerts/{id}/acknowledgement` (`service/acknowledgements.py`).

A command of its own rather than `alerts acknowledge`: `ktpledger alerts [PROJECT]` takes a project
as its first argument, and a project may be called `acknowledge`."""

from __future__ import annotations

import typer

from ktpledger.cli.common import FORMAT_OPTION, OutputFormat, print_json
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, recorder_of


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `acknowledge` to `app`."""

    @app.command("acknowledge")
    @refuses_input
    def acknowledge_alert(
        ctx: typer.Context,
        alert_id: int = typer.Argument(..., min=1, help="the alert's id, as `ktpledger alerts` shows it"),
        note: str = typer.Option(..., "--note", help="what is being done about the alert (R-39)"),
        day: str | None = typer.Option(
            None,
            "--date",
            help="the day of the acknowledgement, YYYY-MM-DD (default: KTPLEDGER_TODAY, else today)",
        ),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """Acknowledge an alert with a note (R-39): records an `AlertAcknowledged` event naming the
        alert, by `--as NAME` (default: the operating-system user). An alert is acknowledged once;
        a resolved one may be. Acknowledged alerts are listed apart by `ktpledger alerts`."""
        from ktpledger.domain.alert_views import long_date
        from ktpledger.domain.events import parse_day
        from ktpledger.service.acknowledgements import acknowledge

        on = parse_day(day, field="date")
        with opened(ctx) as application:
            done = acknowledge(
                application.ledger,
                alert_id,
                note,
                recorder_of(ctx, "cli"),
                on=application.settings.reading_day(on),
            )
        if output_format is OutputFormat.JSON:
            print_json({**done.result.to_json(), "alert": done.alert.to_json()})
            return
        shown = done.alert
        when = f" ({shown.when})" if shown.when else ""
        typer.echo(
            f"alert {alert_id} of {shown.project} acknowledged"
            + (f" on {long_date(shown.acknowledged.on)}" if shown.acknowledged else "")
            + f" (version {done.result.version}): {shown.kind.value}{when}"
        )
