"""`ktpledger claim submit`: a quarter's grant claim, worked out from the ledger with the claim
pack's own figures and recorded as a `ClaimSubmitted` event, frozen as submitted (R-45);
`ktpledger claim approve`: the monitoring officer's approval of one (`ClaimApproved`, R-46);
`ktpledger claim history`: the project's claims from submission to payment."""

from __future__ import annotations

import typer

from ktpledger.cli.common import FORMAT_OPTION, OutputFormat, pounds, print_json, render_table
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, record_draft


def register(app: typer.Typer, opened: Opened) -> None:
    """Add the `claim` group (`claim submit`, `claim approve`, `claim history`) to `app`."""

    claim_app = typer.Typer(
        help="The quarter's grant claims (R-45) and their approvals (R-46).", no_args_is_help=True
    )
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
        from ktpledger.domain.events import claim_needs_narrative, parse_day
        from ktpledger.service.claims import draft_claim, parse_narratives

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
            outcome = record_draft(application, ctx, draft.event, dry_run=dry_run)
        document = {**draft.to_json(), **outcome}
        status, version = outcome["status"], outcome.get("version")
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

    @claim_app.command("approve")
    @refuses_input
    def approve(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        claim: int = typer.Option(..., "--claim", help="the number of the claim approved"),
        amount: str = typer.Option(..., "--amount", help="the grant approved, e.g. 8710.00"),
        note: str | None = typer.Option(
            None, "--note", help="why less than claimed was approved (required then)"
        ),
        approved_by: str | None = typer.Option(None, "--approved-by", help="who approved it"),
        day: str | None = typer.Option(
            None, "--date", help="the approval's date, YYYY-MM-DD (default: KTPLEDGER_TODAY, else today)"
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="show the approval, record nothing"),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """The monitoring officer's approval of a submitted grant claim (R-46): the grant approved,
        at most the grant claimed (less only with --note). From then on what is outstanding on the
        claim is the grant approved less paid. Records a ClaimApproved event unless --dry-run."""
        from ktpledger.domain.events import parse_day
        from ktpledger.domain.money import parse_money
        from ktpledger.service.claims import draft_approval

        on = parse_day(day, field="date")
        parse_money(amount, field="amount", rule="R-46")
        with opened(ctx, write=not dry_run) as application:
            draft = draft_approval(
                application.database,
                project,
                claim,
                amount,
                on=application.settings.reading_day(on),
                note=note,
                approved_by=approved_by,
            )
            outcome = record_draft(application, ctx, draft.event, dry_run=dry_run)
        document = {**draft.to_json(), **outcome}
        status, version = outcome["status"], outcome.get("version")
        if output_format is OutputFormat.JSON:
            print_json(document)
            return
        typer.echo(
            f"{draft.project}: claim {draft.claim.number} ({document['quarter']}) approved for "
            f"{pounds(draft.approval.amount)} of {pounds(draft.claim.claim.grant)} claimed, dated {draft.on}: "
            f"{status}" + (f" (version {version})" if version is not None else "")
        )
        if draft.approval.note:
            typer.echo(f"note: {draft.approval.note}")
        typer.echo(
            f"paid {pounds(draft.claim.paid)}; outstanding {pounds(draft.approval.amount - draft.claim.paid)}"
        )

    @claim_app.command("history")
    @refuses_input
    def history(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """The project's grant claims (R-45, R-46): each claim's grant claimed, approved, paid (and
        the payments naming it) and outstanding; the grant payments naming no claim; and the final
        adjustment, the reconciliation's grant less the grant claimed."""
        from ktpledger.service.claim_history import claim_history

        with opened(ctx, write=False) as application:
            found = claim_history(application.database, project)
        if output_format is OutputFormat.JSON:
            print_json(found.to_json())
            return
        rows = [
            (
                str(claim.number),
                claim.quarter,
                claim.submitted_on.isoformat(),
                pounds(claim.claimed),
                "" if claim.approved is None else pounds(claim.approved),
                "" if claim.approved_on is None else claim.approved_on.isoformat(),
                pounds(claim.paid),
                pounds(claim.outstanding),
            )
            for claim in found.claims
        ]
        header = (
            "claim",
            "quarter",
            "submitted",
            "claimed",
            "approved",
            "approved on",
            "paid",
            "outstanding",
        )
        typer.echo(f"{found.project}: grant claims")
        typer.echo(render_table(header, rows, numeric={3, 4, 6, 7}))
        typer.echo(
            f"claimed {pounds(found.claimed_total)}; approved {pounds(found.approved_total)}; paid against "
            f"claims {pounds(found.paid_total)}; outstanding {pounds(found.outstanding_total)}"
        )
        typer.echo(
            f"payments naming no claim: {len(found.unallocated_payments)}, {pounds(found.unallocated_total)}"
        )
        typer.echo(
            f"the reconciliation's grant {pounds(found.grant)}; final adjustment (still to claim, or to "
            f"repay if negative) {pounds(found.final_adjustment)}"
        )
