"""Digest notifications (README, "Notifications", digests): `digest send` composes each
recipient's digest for its period and sends the pending ones; `digest list` shows the latest.

The recipients are read from KTPLEDGER_DIGEST_RECIPIENTS once, when the App is built (a dry run
reads the file itself: it builds no mailer, so it needs no SMTP server).
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from ktpledger.cli.common import FORMAT_OPTION, TODAY_OPTION, OutputFormat, print_json, render_table
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, settings_of

OFF = "the digest channel is off: add digest to KTPLEDGER_NOTIFY and name the recipients' file in KTPLEDGER_DIGEST_RECIPIENTS"


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `digest send` and `digest list` to `app`."""
    digest_app = typer.Typer(help="Digest notifications: one e-mail a day or a week per recipient.")
    app.add_typer(digest_app, name="digest")

    @digest_app.command("send")
    @refuses_input
    def send(
        ctx: typer.Context,
        today: str | None = TODAY_OPTION,
        dry_run: bool = typer.Option(
            False, "--dry-run", help="print what each recipient would get; store and send nothing"
        ),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """Compose the digest of every recipient whose day or week has none yet (figures as of
        --today), then send every pending digest; a period is never sent twice. Run it daily
        (workers: beat does)."""
        from ktpledger.digest_settings import load_recipients
        from ktpledger.domain.events import parse_day
        from ktpledger.service.delivery_policy import DeliveryPolicy
        from ktpledger.service.digest import send_digests

        day = parse_day(today, field="today")
        settings = settings_of(ctx)
        if not settings.digest:
            typer.echo(f"error: {OFF}", err=True)
            raise typer.Exit(2)
        if dry_run:
            try:
                recipients = load_recipients(settings.digest_recipients)
            except ValueError as error:
                typer.echo(f"error: {error}", err=True)
                raise typer.Exit(2) from None
            with opened(ctx, write=False) as application:
                on = application.settings.reading_day(day)
                run = send_digests(application.database, recipients, None, on, dry_run=True)
        else:
            with opened(ctx) as application:
                setup = application.digest
                assert setup is not None  # bootstrap builds it when settings.digest is on
                on = application.settings.reading_day(day)
                run = send_digests(
                    application.database,
                    setup.recipients,
                    setup.mailer,
                    on,
                    now=datetime.now(UTC),
                    policy=DeliveryPolicy.from_settings(application.settings),
                    channels=application.settings.notify_channels,
                )
        if output_format is OutputFormat.JSON:
            document = run.to_json()
            if dry_run:
                for shown, digest in zip(document["composed"], run.composed, strict=True):
                    shown["text"] = "" if digest.empty else digest.text()
            print_json(document)
            return
        for digest in run.composed:
            who = digest.recipient.email
            if digest.empty:
                typer.echo(
                    f"{who}: nothing new, resolved or open: no digest"
                    + (" would be" if dry_run else "")
                    + " sent"
                )
                continue
            if dry_run:
                typer.echo(f"To: {who}\nSubject: {digest.subject()}\n\n{digest.text()}")
            else:
                typer.echo(f"{who}: {digest.subject()}")
        for who, end in run.already:
            typer.echo(f"{who}: the digest of the period to {end.isoformat()} was composed already")
        if not run.composed and not run.already:
            typer.echo(f"no digest is due on {on.isoformat()} (weekly ones are made on their weekday)")
        if not dry_run:
            report = run.delivery
            typer.echo(f"sent {report.delivered}, to retry {report.retried}, failed {report.failed}")

    @digest_app.command("list")
    def list_(
        ctx: typer.Context,
        limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="at most this many"),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """The latest digests, newest period first: recipient, period, status, counts, attempts."""
        from ktpledger.service.digest import listed_digests

        with opened(ctx, write=False) as application:
            rows = listed_digests(application.database, limit)
        if output_format is OutputFormat.JSON:
            print_json(rows)
            return
        if not rows:
            typer.echo("no digests")
            return
        table = [
            (
                row["recipient"],
                row["period_end"],
                row["every"],
                row["status"],
                str(row["counts"].get("new", 0)),
                str(row["counts"].get("resolved", 0)),
                str(row["counts"].get("open", 0)),
                str(row["attempts"]),
                (row["last_error"] or "")[:60],
            )
            for row in rows
        ]
        header = (
            "recipient",
            "period to",
            "every",
            "status",
            "new",
            "resolved",
            "open",
            "tries",
            "last error",
        )
        typer.echo(render_table(header, table, numeric={4, 5, 6, 7}))
