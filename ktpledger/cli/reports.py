"""What people read off the ledger: the `projects`, `allowances`, `alerts`, the `reconcile`
statement, a `claim-pack`, and the guidance's `costing` of a project's shape."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer

from ktpledger.cli.common import (
    FORMAT_OPTION,
    TODAY_OPTION,
    WAIT_OPTION,
    OutputFormat,
    pounds,
    print_body_json,
    print_json,
    print_or_write,
    render_table,
    write_output,
)
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, recorder_of, refuse_unknown, wait_for_projections

if TYPE_CHECKING:
    from ktpledger.domain.alert_views import ShownAlert
    from ktpledger.domain.costing import CostingRequest
    from ktpledger.domain.offer import OfferDraft, OfferTerms
    from ktpledger.service.pack_models import ClaimPack
    from ktpledger.service.report_appendix import AuditAppendix
    from ktpledger.service.statement_models import ReconciliationStatement
    from ktpledger.service.summary_models import ProjectRow

P = ParamSpec("P")
R = TypeVar("R")


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"
    PDF = "pdf"


REPORT_FORMAT = typer.Option(ReportFormat.JSON, "--format", help="json, csv, xlsx, html or pdf")
OUT_OPTION = typer.Option(None, "--out", help="write to this file instead of stdout")
PREPARED_ON_OPTION = typer.Option(
    None,
    "--prepared-on",
    help="the day the CSV, XLSX, HTML and PDF say they were prepared on, YYYY-MM-DD "
    "(default: the date of the project's latest event, never the clock)",
)


ALERT_HEADER = ("id", "project", "kind", "status", "when", "now")


def alert_cells(alert: ShownAlert) -> tuple[str, ...]:
    """An alert's cells in `ktpledger alerts`: dates, not ledger versions."""
    return (
        "-" if alert.id is None else str(alert.id),
        alert.project,
        alert.kind.value,
        alert.status.value + ("" if alert.notified else ", not notified"),
        alert.when,
        alert.message,
    )


def acknowledgement_text(alert: ShownAlert) -> str:
    """Who acknowledged the alert, when, and the note."""
    from ktpledger.domain.alert_views import long_date

    seen = alert.acknowledged
    if seen is None:
        return ""
    who = seen.name or "someone"
    if seen.role:
        who += f" ({seen.role})"
    return f"{long_date(seen.on)} by {who}: {seen.note}"


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `projects`, `allowances`, `alerts`, `reconcile`, `claim-pack` and `costing` to `app`."""

    @app.command()
    @refuses_input
    def projects(
        ctx: typer.Context,
        today: str | None = TODAY_OPTION,
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """The projects in the ledger: status, period, where each stands as of --today and its open
        alerts (JSON: the body of `GET /projects` for an admin token)."""
        from ktpledger.domain.events import parse_day
        from ktpledger.service.access import COMMAND_LINE
        from ktpledger.service.project_summary import project_list

        day = parse_day(today, field="today")
        with opened(ctx, write=False) as application:
            on = application.settings.reading_day(day)
            rows = project_list(application, COMMAND_LINE, today=on)
        if output_format is OutputFormat.JSON:
            print_body_json([row.to_json() for row in rows])
            return
        if not rows:
            typer.echo("no projects")
            return
        typer.echo(f"{len(rows)} project{'' if len(rows) == 1 else 's'}, judged as of {on.isoformat()}")
        header = ("project", "title", "status", "period", "where", "open alerts", "projection")
        typer.echo(render_table(header, [project_cells(row) for row in rows], numeric={5}))

    @app.command()
    @refuses_input
    def allowances(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        as_of: str | None = typer.Option(
            None, "--as-of", help="answer for a past date (YYYY-MM-DD), by the events' date"
        ),
        output_format: OutputFormat = FORMAT_OPTION,
        wait: bool = WAIT_OPTION,
    ) -> None:
        """Each category's budget, limit, spent, remaining, eligible and ineligible (R-40)."""
        from ktpledger.domain.events import parse_day

        day = parse_day(as_of, field="as_of")
        with opened(ctx, write=False) as application:
            wait_for_projections(application, wait)
            report = application.projector.allowances(project, as_of=day)
        if output_format is OutputFormat.JSON:
            print_json(report.to_json())
            return
        when = (
            f"the ledger head (version {report.version})"
            if report.as_of is None
            else report.as_of.isoformat()
        )
        typer.echo(
            f"{report.project}: allowances as of {when}, ends {report.end.isoformat()}, "
            f"grant rate {report.grant_rate * 100:.0f}%"
        )
        rows = [
            (
                line.category.value,
                line.limit_kind.value,
                pounds(line.budget),
                pounds(line.limit),
                pounds(line.spent),
                pounds(line.remaining),
                pounds(line.eligible),
                pounds(line.ineligible),
            )
            for line in report.lines
        ]
        header = ("category", "limit kind", "budget", "limit", "spent", "remaining", "eligible", "ineligible")
        typer.echo(render_table(header, rows, numeric={2, 3, 4, 5, 6, 7}))

    @app.command()
    @refuses_input
    def alerts(
        ctx: typer.Context,
        project: str | None = typer.Argument(None, help="only this project's alerts"),
        include_resolved: bool = typer.Option(False, "--all", help="resolved alerts too"),
        today: str | None = TODAY_OPTION,
        kind: list[str] = typer.Option([], "--kind", help="only alerts of this kind (repeatable)"),
        group: bool = typer.Option(False, "--group", help="one line per kind, across projects"),
        output_format: OutputFormat = FORMAT_OPTION,
        wait: bool = WAIT_OPTION,
    ) -> None:
        """Open alerts (R-41) with their figures now; with --all, resolved ones too. Projects past their
        end date and not closed are listed as `ended_not_closed`; an unknown PROJECT is an error (R-31).
        With --group, one line per kind: how many, on which projects and lines (`GET /alerts/groups`)."""
        from ktpledger.domain.events import parse_day
        from ktpledger.service.alert_reader import grouped_json, of_kinds, parse_kinds, shown_alerts

        day = parse_day(today, field="today")
        kinds = parse_kinds(kind)
        with opened(ctx, write=False) as application:
            if project is not None:
                refuse_unknown(application, project)
            wait_for_projections(application, wait)
            on = application.settings.reading_day(day)
            found = shown_alerts(application.database, project, include_resolved=include_resolved, today=on)
        found = of_kinds(found, kinds)
        if group:
            show_groups(grouped_json(found, on), output_format)
            return
        if output_format is OutputFormat.JSON:
            print_json([alert.to_json() for alert in found])
            return
        if not found:
            typer.echo("no open alerts" if not include_resolved else "no alerts")
            return
        typer.echo(
            f"alerts judged as of {on.isoformat()}; figures are as they stand now (JSON `detail`: as raised)"
        )
        # Open alerts nobody has acknowledged first; the acknowledged ones apart, with who, when and why.
        waiting = [alert for alert in found if alert.acknowledged is None]
        seen = [alert for alert in found if alert.acknowledged is not None]
        if waiting:
            typer.echo(render_table(ALERT_HEADER, [alert_cells(alert) for alert in waiting], numeric={0}))
        else:
            typer.echo("no alerts waiting for acknowledgement")
        if seen:
            typer.echo("")
            typer.echo("acknowledged")
            rows = [(*alert_cells(alert), acknowledgement_text(alert)) for alert in seen]
            typer.echo(render_table((*ALERT_HEADER, "acknowledged"), rows, numeric={0}))

    @app.command()
    @refuses_input
    def reconcile(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        output_format: ReportFormat = REPORT_FORMAT,
        out: str | None = OUT_OPTION,
        prepared_on: str | None = PREPARED_ON_OPTION,
    ) -> None:
        """The end-of-grant statement (R-42); final once the project is closed, the statement so far
        before. The CSV, XLSX, HTML and PDF add who prepared it (--as, else the OS user) and when."""
        from ktpledger.domain.events import parse_day
        from ktpledger.service import statements
        from ktpledger.service.report_appendix import audit_appendix

        on = parse_day(prepared_on, field="prepared_on")
        with opened(ctx, write=False) as application:
            statement = statements.reconciliation_statement(
                application.database, project, checkpoints=application.checkpoints
            )
            appendix = None
            if output_format is not ReportFormat.JSON:
                appendix = audit_appendix(
                    application.database,
                    project,
                    prepared_by=recorder_of(ctx).name,
                    prepared_on=on,
                    independent_report_threshold=application.settings.independent_report_threshold,
                )
        write_report(statement, output_format, out, appendix)

    @app.command("claim-pack")
    @refuses_input
    def claim_pack(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        quarter: str = typer.Option(..., "--quarter", help="the quarter claimed, e.g. 2025Q2"),
        output_format: ReportFormat = REPORT_FORMAT,
        out: str | None = OUT_OPTION,
        prepared_on: str | None = PREPARED_ON_OPTION,
    ) -> None:
        """A quarterly claim: the quarter's spend, cumulative spend against budget, eligible and
        ineligible, alerts open at the quarter's end and a forecast to the end date. The CSV, XLSX,
        HTML and PDF add who prepared it and when, and the quarter's transactions."""
        from ktpledger.domain.events import parse_day
        from ktpledger.service import statements
        from ktpledger.service.report_appendix import audit_appendix

        on = parse_day(prepared_on, field="prepared_on")
        with opened(ctx, write=False) as application:
            pack = statements.quarter_pack(
                application.database, project, quarter, checkpoints=application.checkpoints
            )
            appendix = None
            if output_format is not ReportFormat.JSON:
                appendix = audit_appendix(
                    application.database,
                    project,
                    prepared_by=recorder_of(ctx).name,
                    prepared_on=on,
                    independent_report_threshold=application.settings.independent_report_threshold,
                    date_from=pack.start,
                    date_to=pack.end,
                    through_version=pack.ledger.version,
                )
        write_report(pack, output_format, out, appendix)

    @app.command()
    @refuses_input
    @costing_options
    def costing(
        output_format: OutputFormat = FORMAT_OPTION,
        offer: bool = typer.Option(
            False, "--offer", help="print the GrantOffered event of this costing (JSON, for `record`)"
        ),
        project: str | None = typer.Option(None, "--project", help="--offer: the project's reference"),
        start: str | None = typer.Option(None, "--start", help="--offer: the first day (YYYY-MM-DD)"),
        title: str | None = typer.Option(None, "--title", help="--offer: the project's title"),
        knowledge_base: str | None = typer.Option(
            None, "--knowledge-base", help="--offer: the university or college"
        ),
        business: str | None = typer.Option(None, "--business", help="--offer: the business partner"),
        key: str | None = typer.Option(None, "--key", help='--offer: the idempotency key (default "offer")'),
        date: str | None = typer.Option(
            None, "--date", help="--offer: the event's date (YYYY-MM-DD; default the start)"
        ),
        justification: list[str] | None = typer.Option(
            None,
            "--justification",
            help="--offer: CATEGORY=TEXT, why a standard line is above its standard (R-31); repeatable",
        ),
        **typed: Any,
    ) -> None:
        """The eligible costs of a project and each party's share, as the guidance tables (R-20, R-21);
        with --offer, the project's GrantOffered event built from them."""
        from ktpledger.domain.costing import parse_request
        from ktpledger.domain.events import parse_date
        from ktpledger.domain.offer import OfferTerms

        given = {
            "--project": project,
            "--start": start,
            "--title": title,
            "--knowledge-base": knowledge_base,
            "--business": business,
            "--key": key,
            "--date": date,
            "--justification": justification or None,
        }
        request = parse_request(typed)
        if not offer:
            stray = [name for name, value in given.items() if value is not None]
            if stray:
                usage_error(f"{stray[0]} is an option of --offer: add --offer, or drop {stray[0]}")
            show_costing(request, output_format)
            return
        for name in ("--project", "--start", "--title", "--knowledge-base", "--business"):
            if given[name] is None:
                usage_error(f"--offer needs {name}")
        assert project is not None and title is not None and knowledge_base is not None
        assert business is not None
        first_day = parse_date(start, name="start", rule="R-01")
        terms = OfferTerms(
            project=project,
            start=first_day,
            title=title,
            knowledge_base=knowledge_base,
            business=business,
            key="offer" if key is None else key,
            event_date=None if date is None else parse_date(date, name="date", rule="R-30"),
            justifications=parse_justifications(justification or []),
        )
        show_offer(request, terms)


def project_cells(row: ProjectRow) -> tuple[str, ...]:
    """One row of the `projects` table."""
    facts = row.facts
    period = (
        "-"
        if facts is None
        else f"{facts.start.isoformat()} to {facts.end.isoformat()} ({facts.months} months)"
    )
    where = "-" if row.period is None else row.period.describe
    if row.ended_not_closed:
        where += ", not closed"
    projection = str(row.projection.get("status", "-"))
    if row.error is not None:
        projection += f"; {row.error.get('rule')}: {row.error.get('message')}"
    return (row.project, row.title or "-", row.status.value, period, where, str(row.open_alerts), projection)


def costing_options(command: Callable[P, R]) -> Callable[P, R]:
    """`command` with the costing's parameters (`COSTING_PARAMETERS`, the domain's one list of them,
    shared with `GET /costing`) as its first options. Typer reads a command's options from its
    signature, so the signature is written from the list."""
    from ktpledger.domain.costing_parameters import COSTING_PARAMETERS

    options = [
        inspect.Parameter(
            parameter.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=parameter.annotation,
            default=typer.Option(parameter.default, f"--{parameter.name}", help=parameter.help)
            if parameter.flag
            else typer.Option(... if parameter.required else parameter.default, help=parameter.help),
        )
        for parameter in COSTING_PARAMETERS
    ]
    signature = inspect.signature(command)
    own = [
        p.replace(kind=p.KEYWORD_ONLY) for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD
    ]
    command.__signature__ = signature.replace(parameters=[*options, *own])  # type: ignore[attr-defined]
    return command


def write_report(
    statement: ReconciliationStatement | ClaimPack,
    fmt: ReportFormat,
    out: str | None,
    appendix: AuditAppendix | None = None,
) -> None:
    """Render `statement` and write it to `out` (or stdout); binary formats need `--out` on a terminal."""
    from ktpledger.reports import render

    body = render(statement, fmt.value, appendix)
    write_output(body, fmt.value, out, binary=fmt in (ReportFormat.XLSX, ReportFormat.PDF))


def show_groups(document: dict[str, Any], output_format: OutputFormat) -> None:
    """`alerts --group`: the document of `GET /alerts/groups`, or a line per kind for people."""
    if output_format is OutputFormat.JSON:
        print_json(document)
        return
    groups = document["groups"]
    if not groups:
        typer.echo("no alerts")
        return
    typer.echo(
        f"{document['count']} alert{'' if document['count'] == 1 else 's'} in {document['projects']} "
        f"project{'' if document['projects'] == 1 else 's'}, judged as of {document['as_of']}, by kind:"
    )
    for group in groups:
        typer.echo(f"[{group['severity']}] {group['summary']}")


def show_costing(request: CostingRequest, output_format: OutputFormat) -> None:
    """Print the costing of `request` as a table or JSON."""
    from ktpledger.domain.costing import cost_project
    from ktpledger.views import costing_json, costing_rows, render_table

    result = cost_project(request)
    if output_format is OutputFormat.JSON:
        print_json(costing_json(result))
        return
    rate = f"{result.grant_rate * 100:.0f}%"
    typer.echo(
        f"{request.methodology.value} costing, {request.business_type.value}, {request.months} months, "
        f"grant rate {rate}" + (", London weighting" if request.london else "")
    )
    typer.echo(
        render_table(
            ("line", "eligible", f"grant {rate}", "business", "note"),
            costing_rows(result),
            numeric={1, 2, 3},
        )
    )


def usage_error(message: str) -> NoReturn:
    """A usage error (exit 2), as a missing option is."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def parse_justifications(given: list[str]) -> dict[str, str]:
    """`--justification CATEGORY=TEXT`, each category once; the event's parser judges the names."""
    justifications: dict[str, str] = {}
    for item in given:
        category, equals, text = item.partition("=")
        category = category.strip()
        if not equals or not category:
            usage_error(f"--justification takes CATEGORY=TEXT, got {item!r}")
        if category in justifications:
            usage_error(f"--justification {category} is given twice")
        justifications[category] = text
    return justifications


def stdin_is_terminal() -> bool:
    """Whether a missing justification can be asked for."""
    return sys.stdin.isatty()


def show_offer(request: CostingRequest, terms: OfferTerms) -> None:
    """Print the GrantOffered event of `request`'s costing (under the rules of the event's date)."""
    from ktpledger.domain.costing import cost_project
    from ktpledger.domain.offer import draft_from_costing

    print_offer(draft_from_costing(cost_project(request, on=terms.on), terms))


def print_offer(draft: OfferDraft, out: str | None = None) -> None:
    """Print (or write to `out`) the GrantOffered event of `draft` as one line of JSON; a standard
    line above its standard without a justification is asked for on a terminal and refused
    otherwise (R-31)."""
    import json

    from ktpledger.domain.offer import offer_event, unjustified

    justifications = dict(draft.justifications)
    for line in unjustified(draft, justifications):
        if not stdin_is_terminal():
            break  # offer_event refuses it, naming the line, the rule and the option
        # All of the prompt on stderr: click hands input() its last space, which it writes to
        # stdout, and stdout is the event alone.
        with redirect_stdout(sys.stderr):
            justifications[line.category.value] = typer.prompt(f"{line.why}; justification", err=True)
    event = offer_event(replace(draft, justifications=justifications))
    body = json.dumps(event) + "\n"
    if print_or_write(body, out):
        typer.echo(f"wrote {out}: the GrantOffered event of {event['project']}", err=True)
