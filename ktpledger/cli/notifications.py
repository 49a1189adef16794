"""The notification outboxes and the service's own troubles, for administrators:
`notifications [resend]` and `system-alerts`.

They read and write the notification outboxes and the system alerts through
`ktpledger.service.deliveries` and `ktpledger.service.system_alerts`, the same functions as the
HTTP API's admin routes and the dashboard's admin section.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

from ktpledger.cli.common import FORMAT_OPTION, OutputFormat, print_json, render_table
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened

if TYPE_CHECKING:
    from ktpledger.bootstrap import App


class StatusChoice(StrEnum):
    FAILED = "failed"
    PENDING = "pending"
    SUPPRESSED = "suppressed"
    DELIVERED = "delivered"
    ALL = "all"


class ChannelChoice(StrEnum):
    LOG = "log"
    WEBHOOK = "webhook"
    EMAIL = "email"


ERROR_WIDTH = 70  # characters of a last error shown in a table


def _when(text: str | None) -> str:
    return "-" if text is None else text[:19].replace("T", " ")


def _cut(text: str | None, width: int = ERROR_WIDTH) -> str:
    if not text:
        return ""
    return text if len(text) <= width else text[: width - 3] + "..."


def deliveries_table(rows: list[dict[str, Any]]) -> str:

    table: list[tuple[str, ...]] = [
        (
            f"{row['outbox']} {row['alert_id'] or row['system_alert_id']}",
            row["project"] or row["subject"] or "-",
            row["kind"] or "(gone)",
            row["channel"],
            row["status"] + (", long" if row["long_pending"] else ""),
            str(row["attempts"]),
            _when(row["first_attempt_at"]),
            _when(row["last_attempt_at"]),
            _cut(row["last_error"]),
        )
        for row in rows
    ]
    header = (
        "alert",
        "project",
        "kind",
        "channel",
        "status",
        "tries",
        "first try (UTC)",
        "last try",
        "last error",
    )
    return render_table(header, table, numeric={5})


def system_alerts_table(rows: list[dict[str, Any]]) -> str:

    table: list[tuple[str, ...]] = [
        (
            str(row["id"]),
            row["kind"],
            row["subject"],
            row["status"],
            _when(row["raised_at"]),
            _cut(row["message"], 90)
            + (f" [resolved: {row['resolved_reason']}]" if row["resolved_reason"] else ""),
        )
        for row in rows
    ]
    return render_table(("id", "kind", "subject", "status", "raised (UTC)", "message"), table, numeric={0})


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `notifications`, `notifications resend` and `system-alerts` to `app`."""
    notifications_app = typer.Typer(
        help="Alert notifications per channel: list failed or pending ones, resend them.",
        invoke_without_command=True,
    )
    app.add_typer(notifications_app, name="notifications")

    @notifications_app.callback(invoke_without_command=True)
    def notifications(
        ctx: typer.Context,
        status: StatusChoice | None = typer.Option(
            None,
            "--status",
            help="failed, pending, suppressed, delivered or all (default: failed and pending)",
        ),
        limit: int = typer.Option(1000, "--limit", min=1, max=100_000, help="at most this many rows"),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """Notifications of KTP alerts and system alerts, one row per alert and channel: attempts,
        first and last attempt, last error, status (`long` once pending for longer than
        KTPLEDGER_CHANNEL_DOWN_MINUTES). `ktpledger notifications resend` sends failed ones again."""
        if ctx.invoked_subcommand is not None:
            return
        from ktpledger.service.deliveries import list_deliveries

        with opened(ctx, write=False) as application:
            rows = list_deliveries(
                application.database,
                status=None if status is None else status.value,
                now=datetime.now(UTC),
                long_after=application.settings.channel_down_after,
                limit=limit,
            )
        if output_format is OutputFormat.JSON:
            print_json(rows)
            return
        if not rows:
            typer.echo(
                "no failed or pending notifications" if status is None else f"no {status.value} notifications"
            )
            return
        typer.echo(deliveries_table(rows))
        if len(rows) == limit:
            typer.echo(f"(the first {limit}: give --limit for more)")

    @notifications_app.command("resend")
    @refuses_input
    def notifications_resend(
        ctx: typer.Context,
        alert: list[int] = typer.Option([], "--alert", help="a KTP alert's id (repeat it)"),
        system_alert: list[int] = typer.Option([], "--system-alert", help="a system alert's id (repeat it)"),
        channel: ChannelChoice | None = typer.Option(
            None, "--channel", help="only this channel's notifications"
        ),
        all_failed: bool = typer.Option(False, "--all-failed", help="every failed notification"),
        again: bool = typer.Option(
            False, "--again", help="also send once more those already delivered (or suppressed)"
        ),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """Put failed notifications back to pending, due now, with their retry period restarted.
        Delivered ones are left alone unless --again (receivers drop a repeat by its delivery id)."""
        from ktpledger.service.deliveries import resend

        if not (alert or system_alert or all_failed):
            typer.echo("error: say what to resend: --alert ID, --system-alert ID or --all-failed", err=True)
            raise typer.Exit(2)
        with opened(ctx) as application:
            report = resend(
                application.database,
                alert_ids=alert,
                system_alert_ids=system_alert,
                channel=None if channel is None else channel.value,
                all_failed=all_failed,
                again=again,
                now=datetime.now(UTC),
            )
            _deliver_soon(application)
        if output_format is OutputFormat.JSON:
            print_json(report.to_json())
            return
        count = len(report.resent)
        typer.echo(
            f"resent {count} notification{'s' if count != 1 else ''}"
            + (
                ": " + ", ".join(f"{r['outbox']} {r['id']} on {r['channel']}" for r in report.resent)
                if count
                else ""
            )
        )
        for skipped in report.skipped:
            typer.echo(
                f"skipped {skipped['outbox']} {skipped['id']} on {skipped['channel']}: {skipped['reason']}"
            )

    @app.command("system-alerts")
    def system_alerts(
        ctx: typer.Context,
        include_resolved: bool = typer.Option(False, "--all", help="resolved ones too"),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """The service's own troubles, for administrators: `projection_failed` (a project's projection
        is quarantined) and `channel_down` (a notification channel keeps failing). Open ones; --all
        for resolved ones too."""
        from ktpledger.service.system_alerts import read_system_alerts

        with opened(ctx, write=False) as application:
            rows = read_system_alerts(application.database, include_resolved=include_resolved)
        if output_format is OutputFormat.JSON:
            print_json(rows)
            return
        if not rows:
            typer.echo("no open system alerts" if not include_resolved else "no system alerts")
            return
        typer.echo(system_alerts_table(rows))


def _deliver_soon(application: App) -> None:
    """In the embedded default, send what was resent before the command exits (it waits for the
    run, at most 30 s); with workers, beat sends it within 30 s."""
    if application.delivery is not None:
        application.delivery.request()
