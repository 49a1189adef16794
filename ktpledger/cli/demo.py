"""`ktpledger demo`: the main job on the embedded default, told quarter by quarter."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ktpledger.cli.common import OutputFormat, pounds, render_table
from ktpledger.cli.reports import show_costing
from ktpledger.cli.root import Opened, recorder_of

if TYPE_CHECKING:
    from ktpledger.bootstrap import App
    from ktpledger.domain.project import ProjectState
    from ktpledger.domain.recorded import RecordedBy
    from ktpledger.service.ledger_deciding import AppendResult
    from ktpledger.service.pack_models import ClaimPack
    from ktpledger.service.report_appendix import AuditAppendix
    from ktpledger.service.statement_models import ReconciliationStatement


def demo_recorder() -> RecordedBy:
    """Who the demo's events are recorded by."""
    from ktpledger.domain.recorded import RecordedBy

    return RecordedBy("demo", None, "cli")


SHOW_ALLOWANCES_AFTER = {"2024 Q4", "2025 Q3", "LMC, October 2025", "2026 Q1 and closure"}


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `demo` to `app`."""

    @app.command()
    def demo(
        ctx: typer.Context,
        reports: str = typer.Option(
            "reports",
            "--reports",
            help="folder for the reports: the reconciliation and a claim pack in every format (the non-fec project's in non-fec/)",
        ),
    ) -> None:
        """The main job on the embedded default: a 24-month fec project's life recorded quarter by quarter,
        its allowances and alerts shown as it goes, its reconciliation shown; its reconciliation and last
        claim pack written in every format, and those of a 12-month non-fec project (KTP-DEMO-02, recorded
        after it in the same ledger) under non-fec/."""
        import logging  # here, not at the top: `--help` lists every command (~4 ms)

        from ktpledger.demo_story import NON_FEC_PROJECT, NON_FEC_STORY, PROJECT, quarters
        from ktpledger.domain.alert_views import RESOLUTION_LABELS, message
        from ktpledger.domain.costing import CostingRequest
        from ktpledger.domain.labels import category_label as label_of
        from ktpledger.domain.labels import kind_label
        from ktpledger.domain.rules import BusinessType, Methodology
        from ktpledger.service import statements
        from ktpledger.service.access import create_token

        # The demo shows each alert as it is raised; the log channel would print it a second time.
        logging.getLogger("ktpledger.alerts").setLevel(logging.ERROR)

        with opened(ctx) as application:
            url = application.database.shown_url
            typer.echo(f"ktpledger demo: project {PROJECT} into {url}")
            typer.echo("(the guidance's worked costing for the offer's shape comes first)\n")
            show_costing(
                CostingRequest(
                    methodology=Methodology.FEC,
                    business_type=BusinessType.SME,
                    months=24,
                    salary=Decimal(50000),
                    supervisor_cost=Decimal(80000),
                    support_costs=Decimal(36000),
                ),
                OutputFormat.TABLE,
            )
            known = {
                alert["id"]: alert["status"]
                for alert in application.projector.alerts(PROJECT, include_resolved=True)
            }
            for label, items in quarters():
                results, told = record_items(application, PROJECT, items)
                counts = {
                    status: sum(r.status == status for r in results)
                    for status in ("recorded", "duplicate", "rejected")
                }
                summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
                typer.echo(f"\n== {label}: {len(items)} events ({summary})")
                for result in results:
                    if result.error is not None:
                        typer.echo(f"   refused {result.key}: {result.error.rule}: {result.error.message}")
                for line in told:
                    typer.echo(f"   {line}")
                # As raised: the demo tells the project's story as it happened, quarter by quarter.
                for alert in application.projector.alerts(PROJECT, include_resolved=True):
                    before = known.get(alert["id"])
                    if before == alert["status"]:
                        continue
                    known[alert["id"]] = alert["status"]
                    what = f"{kind_label(alert['kind'])}: {message(alert['kind'], alert['category'], alert['detail'])}"
                    if alert["status"] == "open":
                        typer.echo(f"   alert raised    {what}")
                    elif before is None:
                        typer.echo(f"   alert came and went within these events (not notified): {what}")
                    else:
                        reason = RESOLUTION_LABELS.get(alert["resolved_reason"] or "", "resolved")
                        typer.echo(
                            f"   alert {reason}: {kind_label(alert['kind'])}, {label_of(alert['category'])}"
                        )
                if label in SHOW_ALLOWANCES_AFTER:
                    report = application.projector.allowances(PROJECT)
                    rows = [
                        (
                            line.category.value,
                            pounds(line.budget),
                            pounds(line.spent),
                            pounds(line.remaining),
                            pounds(line.eligible),
                            pounds(line.ineligible),
                        )
                        for line in report.lines
                    ]
                    header = ("category", "budget", "spent", "remaining", "eligible", "ineligible")
                    typer.echo(render_table(header, rows, numeric={1, 2, 3, 4, 5}))
            statement = statements.reconciliation_statement(
                application.database, PROJECT, checkpoints=application.checkpoints
            )
            viewer = create_token(application.database, "viewer", [PROJECT], label="ktpledger demo")
            state = application.ledger.state(PROJECT)
            samples = report_samples(application, PROJECT, recorder_of(ctx).name, state)
            # Recorded after the main project's reports are made, so theirs are as they always were.
            results = [
                result
                for _, items in quarters(NON_FEC_STORY)
                for result in record_items(application, NON_FEC_PROJECT, items)[0]
            ]
            non_fec_samples = report_samples(
                application, NON_FEC_PROJECT, recorder_of(ctx).name, application.ledger.state(NON_FEC_PROJECT)
            )
        typer.echo(
            f"\n== Reconciliation ({'final' if statement.final else 'statement so far'}), "
            f"grant rate {statement.grant_rate * 100:.0f}%"
        )
        reconciled = [
            (
                line.category.value,
                pounds(line.original_budget),
                pounds(line.final_budget),
                pounds(line.claimed),
                pounds(line.eligible),
                pounds(line.ineligible),
                pounds(line.grant),
                pounds(line.business),
            )
            for line in statement.lines
        ]
        totals = statement.totals
        reconciled.append(
            (
                "total",
                pounds(totals["original_budget"]),
                pounds(totals["final_budget"]),
                pounds(totals["claimed"]),
                pounds(totals["eligible"]),
                pounds(totals["ineligible"]),
                pounds(totals["grant"]),
                pounds(totals["business"]),
            )
        )
        reconciled_header = (
            "category",
            "original",
            "final budget",
            "claimed",
            "eligible",
            "ineligible",
            "grant",
            "business",
        )
        typer.echo(render_table(reconciled_header, reconciled, numeric={1, 2, 3, 4, 5, 6, 7}))
        typer.echo(
            f"parental leave incurred {pounds(statement.parental_leave_incurred)}, "
            f"reimbursable {pounds(statement.parental_leave_reimbursable)}; "
            f"grant paid {pounds(statement.grant_paid)}; balance due {pounds(statement.balance_due)}"
        )
        typer.echo(receivables_line(state))
        typer.echo(
            f"made from ledger position {statement.ledger.position}, head {statement.ledger.head_hash[:16]}"
        )
        folder = Path(reports)
        for made, appendix in samples:
            write_report(folder, made, appendix)
        counts = {
            status: sum(r.status == status for r in results)
            for status in ("recorded", "duplicate", "rejected")
        }
        typer.echo(
            f"\n== A non-fec project, {NON_FEC_PROJECT}, in the same ledger: {len(results)} events "
            f"({', '.join(f'{n} {status}' for status, n in counts.items() if n)}); its reports, as the main project's:"
        )
        for result in results:
            if result.error is not None:
                typer.echo(f"   refused {result.key}: {result.error.rule}: {result.error.message}")
        for made, appendix in non_fec_samples:
            write_report(folder / "non-fec", made, appendix)
        typer.echo(
            "\nsee it on the LMC dashboard: run `ktpledger serve`, open http://127.0.0.1:8000/dashboard/login and "
            f"paste this read-only token for {PROJECT}:\n  {viewer}"
        )


def write_report(folder: Path, made: ReconciliationStatement | ClaimPack, appendix: AuditAppendix) -> None:
    """The report in every format into `folder`, each file's path said."""
    from ktpledger.reports import FORMATS, filename, render

    folder.mkdir(parents=True, exist_ok=True)
    for fmt in FORMATS:
        path = folder / filename(made, fmt)
        path.write_bytes(render(made, fmt, appendix))
        typer.echo(f"wrote {path.resolve()}")


def report_samples(
    application: App, project: str, prepared_by: str, state: ProjectState
) -> list[tuple[ReconciliationStatement | ClaimPack, AuditAppendix]]:
    """The reconciliation and the claim pack of the latest claimed quarter, each with its appendix
    (prepared by who ran the demo, on the date of the project's latest event)."""
    from ktpledger.service import statements
    from ktpledger.service.report_appendix import audit_appendix

    threshold = application.settings.independent_report_threshold
    statement = statements.reconciliation_statement(
        application.database, project, checkpoints=application.checkpoints
    )
    made: list[tuple[ReconciliationStatement | ClaimPack, AuditAppendix]] = [
        (
            statement,
            audit_appendix(
                application.database, project, prepared_by=prepared_by, independent_report_threshold=threshold
            ),
        )
    ]
    claims = list(state.grant_claims.values())
    if claims:
        pack = statements.quarter_pack(
            application.database, project, claims[-1].claim.quarter, checkpoints=application.checkpoints
        )
        appendix = audit_appendix(
            application.database,
            project,
            prepared_by=prepared_by,
            independent_report_threshold=threshold,
            date_from=pack.start,
            date_to=pack.end,
            through_version=pack.ledger.version,
        )
        made.append((pack, appendix))
    return made


def record_items(
    application: App, project: str, items: list[dict[str, Any]]
) -> tuple[list[AppendResult], list[str]]:
    """Record a heading's items in order: its events as one append between two steps, each step
    (demo_story's module docstring) worked out from the ledger as it then stands. Returns the
    results, and a line per step saying what it recorded."""
    from ktpledger.demo_story import is_step
    from ktpledger.domain.errors import RuleViolation
    from ktpledger.service.ledger_deciding import AppendResult

    results: list[AppendResult] = []
    told: list[str] = []
    batch: list[dict[str, Any]] = []
    for item in [*items, None]:
        if item is not None and not is_step(item):
            batch.append(item)
            continue
        if batch:
            results.extend(application.ledger.append(batch, recorded_by=demo_recorder()))
            batch = []
        if item is not None:
            try:
                event = step_event(application, project, item)
            except RuleViolation as error:
                # A ledger the demo cannot go on with (one an older demo closed): said, not raised.
                results.append(
                    AppendResult(0, f"{item['step']} {item['quarter']}", "rejected", project, None, error)
                )
                continue
            [result] = application.ledger.append([event], recorded_by=demo_recorder())
            results.append(result)
            if result.error is None:
                told.append(step_told(event))
    return results, told


def step_event(application: App, project: str, step: dict[str, Any]) -> dict[str, Any]:
    """The event of a demo step: the one recorded already (the demo run again, so it is a
    duplicate), else worked out from the ledger as it stands, as the commands do."""
    from ktpledger.domain.errors import RuleViolation
    from ktpledger.domain.money import format_money
    from ktpledger.domain.rules import Category
    from ktpledger.service.claims import draft_claim
    from ktpledger.service.invoices import draft_invoice, payment_event

    quarter, on = step["quarter"], date.fromisoformat(step["date"])
    invoice = f"{project}-{quarter}"  # the invoice's default number (`ktpledger invoice`)
    key = {
        "claim": f"claim-{project}-{quarter}",
        "invoice": f"invoice-{invoice}",
        "invoice_payment": f"payment-{invoice}",
    }[step["step"]]
    recorded = {row.key: row for row in application.ledger.stream(project)}.get(key)
    if recorded is not None:
        return {
            "type": recorded.type,
            "project": project,
            "key": key,
            "date": recorded.date.isoformat(),
            "data": json.loads(recorded.data),
        }
    if step["step"] == "claim":
        narratives = {Category(name): text for name, text in step.get("narratives", {}).items()}
        return draft_claim(application.database, project, quarter, on=on, narratives=narratives).event
    if step["step"] == "invoice":
        return draft_invoice(application.database, project, quarter, on=on).event
    owing = application.ledger.state(project).invoices.get(invoice)
    if owing is None:  # its invoice was refused (a ledger an older demo closed)
        raise RuleViolation("R-44", f"there is no invoice {invoice} to pay", field="invoice")
    owed = owing.outstanding
    return payment_event(project, invoice, format_money(owed), on, key=key)


def step_told(event: dict[str, Any]) -> str:
    """What a demo step recorded, in a line."""
    from ktpledger.domain.events import BusinessInvoiced, ClaimSubmitted, parse_event

    payload = parse_event(event).payload
    if isinstance(payload, ClaimSubmitted):
        narrated = sum(1 for line in payload.lines.values() if line.narrative)
        return (
            f"grant claim {payload.number} for {payload.quarter}: {pounds(payload.grant)} "
            f"({pounds(payload.quarter_grant)} for the quarter, {pounds(payload.prior_period)} prior-period "
            f"adjustment; {narrated} variance narrative{'' if narrated == 1 else 's'})"
        )
    if isinstance(payload, BusinessInvoiced):
        extra = f", offer top-up {pounds(payload.offer_top_up)}" if payload.offer_top_up else ""
        return (
            f"invoice {payload.number} to the business for {payload.quarter}: {pounds(payload.amount)}{extra}"
        )
    return f"the business paid invoice {event['data']['invoice']}: {pounds(Decimal(event['data']['amount']))}"


def receivables_line(state: ProjectState) -> str:
    """The claims and invoices at the end of the story: claimed and paid, invoiced and paid."""
    from ktpledger.domain.money import ZERO

    claims = list(state.grant_claims.values())
    invoices = list(state.invoices.values())
    claimed = sum((claim.claim.grant for claim in claims), ZERO)
    paid = sum((claim.paid for claim in claims), ZERO)
    invoiced = sum((invoice.invoice.amount for invoice in invoices), ZERO)
    received = sum((invoice.paid for invoice in invoices), ZERO)
    return (
        f"{len(claims)} grant claims {pounds(claimed)}, paid against them {pounds(paid)}; "
        f"{len(invoices)} invoices to the business {pounds(invoiced)}, paid {pounds(received)}"
    )
