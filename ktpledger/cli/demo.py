"""`ktpledger demo`: the main job on the embedded default, told quarter by quarter."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import typer

from ktpledger.cli.common import OutputFormat, pounds
from ktpledger.cli.reports import show_costing
from ktpledger.cli.root import Opened
from ktpledger.domain.alert_views import RESOLUTION_LABELS, message
from ktpledger.domain.costing import CostingRequest
from ktpledger.domain.labels import category_label as label_of
from ktpledger.domain.labels import kind_label
from ktpledger.domain.recorded import RecordedBy
from ktpledger.domain.rules import BusinessType, Methodology
from ktpledger.service import statements
from ktpledger.service.access import create_token
from ktpledger.views import render_table

DEMO = RecordedBy("demo", None, "cli")  # who the demo's events are recorded by

SHOW_ALLOWANCES_AFTER = {"2024 Q4", "2025 Q3", "LMC, October 2025", "2026 Q1 and closure"}


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `demo` to `app`."""

    @app.command()
    def demo(
        ctx: typer.Context,
        reports: str = typer.Option(
            "reports", "--reports", help="folder for the HTML and PDF reconciliation"
        ),
    ) -> None:
        """The main job on the embedded default: a 24-month fec project's life recorded quarter by quarter,
        its allowances and alerts shown as it goes, its reconciliation shown and written as HTML and PDF."""
        from ktpledger.demo_story import PROJECT, quarters
        from ktpledger.reports import render

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
                results = application.ledger.append(items, recorded_by=DEMO)
                counts = {
                    status: sum(r.status == status for r in results)
                    for status in ("recorded", "duplicate", "rejected")
                }
                summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
                typer.echo(f"\n== {label}: {len(items)} events ({summary})")
                for result in results:
                    if result.error is not None:
                        typer.echo(f"   refused {result.key}: {result.error.rule}: {result.error.message}")
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
        typer.echo(
            f"made from ledger position {statement.ledger.position}, head {statement.ledger.head_hash[:16]}"
        )
        folder = Path(reports)
        folder.mkdir(parents=True, exist_ok=True)
        for fmt in ("html", "pdf"):
            path = folder / f"{PROJECT}-reconciliation.{fmt}"
            path.write_bytes(render(statement, fmt))
            typer.echo(f"wrote {path.resolve()}")
        typer.echo(
            "\nsee it on the LMC dashboard: run `ktpledger serve`, open http://127.0.0.1:8000/dashboard/login and "
            f"paste this read-only token for {PROJECT}:\n  {viewer}"
        )
