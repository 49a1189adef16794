"""`ktpledger invoice`: the business's invoice for a quarter, worked out from the ledger with the
reconciliation's own figures and recorded as a `BusinessInvoiced` event (R-44); and
`ktpledger invoice-payment`: a payment received against one (`BusinessPaymentReceived`)."""

from __future__ import annotations

import typer

from ktpledger.cli.common import FORMAT_OPTION, OutputFormat, pounds, print_json, render_table
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, record_draft, recorder_of


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `invoice` and `invoice-payment` to `app`."""
    from ktpledger.domain.payment_terms import INVOICE_PAYMENT_DAYS

    @app.command("invoice")
    @refuses_input
    def invoice(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        quarter: str = typer.Option(..., "--quarter", help="the quarter invoiced in arrears, e.g. 2025Q2"),
        day: str | None = typer.Option(
            None, "--date", help="the invoice's date, YYYY-MM-DD (default: KTPLEDGER_TODAY, else today)"
        ),
        number: str | None = typer.Option(
            None, "--number", help="the invoice number (default PROJECT-QUARTER, e.g. KTP-0042-2025Q2)"
        ),
        payment_days: int = typer.Option(
            INVOICE_PAYMENT_DAYS, "--payment-days", help="days from the invoice's date to its due date"
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="show the invoice, record nothing"),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """The business's contribution due for a quarter (R-44): its share of the eligible costs
        dated in the quarter as the reconciliation works it, a prior-period adjustment for costs of
        invoiced quarters that arrived since, and on the final quarter the top-up to the offer's
        business total (R-32). Records a BusinessInvoiced event unless --dry-run."""
        from ktpledger.domain.events import parse_day
        from ktpledger.service.invoices import draft_invoice

        on = parse_day(day, field="date")
        with opened(ctx, write=not dry_run) as application:
            draft = draft_invoice(
                application.database,
                project,
                quarter,
                on=application.settings.reading_day(on),
                number=number,
                payment_days=payment_days,
            )
            outcome = record_draft(application, ctx, draft.event, dry_run=dry_run)
        document = {**draft.to_json(), **outcome}
        status, version = outcome["status"], outcome.get("version")
        if output_format is OutputFormat.JSON:
            print_json(document)
            return
        due = draft.due
        typer.echo(
            f"{draft.project}: invoice {draft.number} for {due.quarter} ({due.start} to {due.end}"
            f"{', the final quarter' if due.final_quarter else ''}), dated {draft.on}, due {draft.due_on}: "
            f"{status}" + (f" (version {version})" if version is not None else "")
        )
        rows = [
            ("business share of the eligible costs dated in the quarter", pounds(due.quarter_costs)),
            ("prior-period adjustment: costs of invoiced quarters since", pounds(due.prior_period)),
            ("prior-period credit", pounds(-due.prior_period_credit)),
            ("top-up to the offer's business total (R-32)", pounds(due.offer_top_up)),
            ("amount due", pounds(due.amount)),
        ]
        typer.echo(render_table(("", "amount"), rows, numeric={1}))
        typer.echo(
            f"invoiced before: {pounds(due.invoiced_before)}; the business's share to date "
            f"{pounds(due.business_share)}; its total at the offer {pounds(due.offer_business)}"
        )

    @app.command("invoice-payment")
    @refuses_input
    def invoice_payment(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        invoice_number: str = typer.Option(..., "--invoice", help="the invoice's number"),
        amount: str = typer.Option(..., "--amount", help="the amount received, e.g. 2000.00"),
        day: str | None = typer.Option(
            None, "--date", help="when it was received, YYYY-MM-DD (default: KTPLEDGER_TODAY, else today)"
        ),
        key: str | None = typer.Option(
            None, "--key", help="the idempotency key (default from the invoice, date, amount)"
        ),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """A payment from the business against one of its invoices (R-44): no more than is
        outstanding on it. The same event `record` and `POST /events` take."""
        from ktpledger.domain.events import parse_day
        from ktpledger.domain.money import parse_money
        from ktpledger.service.invoices import payment_event

        on = parse_day(day, field="date")
        parse_money(amount, field="amount", positive=True, rule="R-44")
        with opened(ctx) as application:
            event = payment_event(project, invoice_number, amount, application.settings.reading_day(on), key)
            [result] = application.ledger.append([event], recorded_by=recorder_of(ctx, "cli"))
        if result.error is not None:
            raise result.error
        if output_format is OutputFormat.JSON:
            print_json(result.to_json())
            return
        typer.echo(
            f"{project}: payment of {amount} against invoice {invoice_number} {result.status} (version {result.version})"
        )
